// An independent reading of the AgentPayload schema, written from the field numbers in the spec
// (wire-protocols E.1), to check what the encoder sends without trusting the encoder.
import protobuf from 'protobufjs';

const PROTO = `
syntax = "proto3";
package check;
message AgentPayload { string hostName = 1; string env = 2; repeated TracerPayload tracerPayloads = 5;
  map<string,string> tags = 6; string agentVersion = 7; double targetTPS = 8; double errorTPS = 9; bool rareSamplerEnabled = 10; }
message TracerPayload { string containerID = 1; string languageName = 2; string languageVersion = 3; string tracerVersion = 4;
  string runtimeID = 5; repeated TraceChunk chunks = 6; map<string,string> tags = 7; string env = 8; string hostname = 9; string appVersion = 10; }
message TraceChunk { int32 priority = 1; string origin = 2; repeated Span spans = 3; map<string,string> tags = 4; bool droppedTrace = 5; }
message Span { string service = 1; string name = 2; string resource = 3; uint64 traceID = 4; uint64 spanID = 5; uint64 parentID = 6;
  int64 start = 7; int64 duration = 8; int32 error = 9; map<string,string> meta = 10; map<string,double> metrics = 11; string type = 12;
  map<string,bytes> meta_struct = 13; repeated SpanLink spanLinks = 14; repeated SpanEvent spanEvents = 15; }
message SpanLink { uint64 traceID = 1; uint64 traceID_high = 2; uint64 spanID = 3; map<string,string> attributes = 4; string tracestate = 5; uint32 flags = 6; }
message SpanEvent { fixed64 time_unix_nano = 1; string name = 2; map<string,AttributeAnyValue> attributes = 3; }
message AttributeAnyValue { int32 type = 1; string string_value = 2; bool bool_value = 3; int64 int_value = 4; double double_value = 5; AttributeArray array_value = 6; }
message AttributeArray { repeated AttributeArrayValue values = 1; }
message AttributeArrayValue { int32 type = 1; string string_value = 2; bool bool_value = 3; int64 int_value = 4; double double_value = 5; }
message DDSketch { IndexMapping mapping = 1; Store positiveValues = 2; Store negativeValues = 3; double zeroCount = 4; }
message IndexMapping { double gamma = 1; double indexOffset = 2; int32 interpolation = 3; }
message Store { map<sint32,double> binCounts = 1; repeated double contiguousBinCounts = 2 [packed = true]; sint32 contiguousBinIndexOffset = 3; }
`;

const root = protobuf.parse(PROTO, { keepCase: true }).root;
const AgentPayload = root.lookupType('check.AgentPayload');
const DDSketch = root.lookupType('check.DDSketch');

export interface DecodedSpan {
  service: string;
  name: string;
  resource: string;
  traceID: string;
  spanID: string;
  parentID: string;
  start: string;
  duration: string;
  error: number;
  meta: Record<string, string>;
  metrics: Record<string, number>;
  type: string;
  meta_struct?: Record<string, Uint8Array>;
  spanLinks?: {
    traceID: string;
    traceID_high: string;
    spanID: string;
    attributes?: Record<string, string>;
    tracestate?: string;
    flags?: number;
  }[];
  spanEvents?: { time_unix_nano: string; name: string; attributes?: Record<string, unknown> }[];
}

export interface DecodedAgentPayload {
  hostName: string;
  env: string;
  agentVersion: string;
  targetTPS: number;
  errorTPS: number;
  tracerPayloads: {
    containerID: string;
    languageName: string;
    languageVersion: string;
    tracerVersion: string;
    tags: Record<string, string>;
    env: string;
    appVersion: string;
    chunks: {
      priority: number;
      origin: string;
      spans: DecodedSpan[];
      tags: Record<string, string>;
      droppedTrace: boolean;
    }[];
  }[];
}

/** Decodes with uint64/int64 as exact decimal strings. */
export function decodeAgentPayload(body: Uint8Array): DecodedAgentPayload {
  const msg = AgentPayload.decode(body);
  return AgentPayload.toObject(msg, {
    longs: String,
    defaults: true,
    arrays: true,
    objects: true,
  }) as unknown as DecodedAgentPayload;
}

export function decodeSketch(body: Uint8Array): {
  mapping: { gamma: number; indexOffset: number; interpolation: number };
  positiveValues?: {
    binCounts: Record<string, number>;
    contiguousBinCounts: number[];
    contiguousBinIndexOffset: number;
  };
  zeroCount: number;
} {
  return DDSketch.toObject(DDSketch.decode(body), { defaults: true, arrays: true, objects: true }) as never;
}

export function allSpans(p: DecodedAgentPayload): DecodedSpan[] {
  return p.tracerPayloads.flatMap((t) => t.chunks.flatMap((c) => c.spans));
}

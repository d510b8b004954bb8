// Cross-check: payloads encoded by protobufjs (the library the production encoders use) from .proto
// text written here from the reference, decoded by the intake's own field-number tables.
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DatadogIntake, startIntake } from '../../src/index.js';
import { buildSketch } from './helpers/agent-sketch.js';
import { send } from './helpers/http.js';

const PROTO = `
syntax = "proto3";
package datadog.agentpayload;
message MetricPayload {
  enum MetricType { UNSPECIFIED = 0; COUNT = 1; RATE = 2; GAUGE = 3; }
  message MetricPoint { double value = 1; int64 timestamp = 2; }
  message Resource { string type = 1; string name = 2; }
  message MetricSeries {
    repeated Resource resources = 1; string metric = 2; repeated string tags = 3;
    repeated MetricPoint points = 4; MetricType type = 5; string unit = 6;
    string source_type_name = 7; int64 interval = 8; Metadata metadata = 9;
  }
  repeated MetricSeries series = 1;
}
message Metadata { Origin origin = 1; }
message Origin { uint32 origin_product = 4; uint32 origin_category = 5; uint32 origin_service = 6; }
message CommonMetadata { string agent_version = 1; string timezone = 2; double current_epoch = 3;
  string internal_ip = 4; string public_ip = 5; string api_key = 6; }
message SketchPayload {
  message Sketch {
    message Dogsketch { int64 ts = 1; int64 cnt = 2; double min = 3; double max = 4; double avg = 5;
      double sum = 6; repeated sint32 k = 7; repeated uint32 n = 8; }
    string metric = 1; string host = 2; repeated string tags = 4; repeated Dogsketch dogsketches = 7;
    Metadata metadata = 8;
  }
  repeated Sketch sketches = 1; CommonMetadata metadata = 2;
}
`;

const TRACE_PROTO = `
syntax = "proto3";
package datadog.trace;
message AgentPayload { string hostName = 1; string env = 2; repeated TracerPayload tracerPayloads = 5;
  map<string, string> tags = 6; string agentVersion = 7; double targetTPS = 8; double errorTPS = 9;
  bool rareSamplerEnabled = 10; }
message TracerPayload { string containerID = 1; string languageName = 2; string languageVersion = 3;
  string tracerVersion = 4; string runtimeID = 5; repeated TraceChunk chunks = 6; map<string, string> tags = 7;
  string env = 8; string hostname = 9; string appVersion = 10; }
message TraceChunk { int32 priority = 1; string origin = 2; repeated Span spans = 3; map<string, string> tags = 4;
  bool droppedTrace = 5; }
message Span { string service = 1; string name = 2; string resource = 3; uint64 traceID = 4; uint64 spanID = 5;
  uint64 parentID = 6; int64 start = 7; int64 duration = 8; int32 error = 9; map<string, string> meta = 10;
  map<string, double> metrics = 11; string type = 12; map<string, bytes> meta_struct = 13;
  repeated SpanLink spanLinks = 14; repeated SpanEvent spanEvents = 15; }
message SpanLink { uint64 traceID = 1; uint64 traceID_high = 2; uint64 spanID = 3; map<string, string> attributes = 4;
  string tracestate = 5; uint32 flags = 6; }
message SpanEvent { fixed64 time_unix_nano = 1; string name = 2; map<string, AttributeAnyValue> attributes = 3; }
message AttributeAnyValue { int32 type = 1; string string_value = 2; bool bool_value = 3; int64 int_value = 4;
  double double_value = 5; AttributeArray array_value = 6; }
message AttributeArray { repeated AttributeArrayValue values = 1; }
message AttributeArrayValue { int32 type = 1; string string_value = 2; bool bool_value = 3; int64 int_value = 4;
  double double_value = 5; }
`;

const root = protobuf.parse(PROTO, { keepCase: true }).root;
const traceRoot = protobuf.parse(TRACE_PROTO, { keepCase: true }).root;
const encode = (r: protobuf.Root, type: string, obj: object): Uint8Array => {
  const T = r.lookupType(type);
  return T.encode(T.fromObject(obj)).finish();
};

let intake: DatadogIntake;
beforeAll(async () => {
  intake = await startIntake();
});
afterAll(() => intake.stop());

const post = (path: string, body: Uint8Array) =>
  send(intake.url, path, {
    body,
    headers: { 'dd-api-key': intake.apiKey, 'content-type': 'application/x-protobuf' },
  });

describe('protobufjs-encoded payloads', () => {
  it('MetricPayload', async () => {
    const body = encode(root, 'datadog.agentpayload.MetricPayload', {
      series: [
        {
          metric: 'pbjs.count',
          type: 1,
          interval: 10,
          tags: ['a:b'],
          resources: [{ type: 'host', name: 'h' }],
          points: [{ value: 42, timestamp: 1_700_000_010 }],
          metadata: { origin: { origin_product: 10, origin_category: 11, origin_service: 12 } },
          unit: 'request',
        },
      ],
    });
    expect((await post('/api/v2/series', body)).status).toBe(202);
    expect(intake.metrics('pbjs.count')).toMatchObject([
      {
        type: 'count',
        interval: 10,
        value: 42,
        timestamp: 1_700_000_010,
        unit: 'request',
        origin: { origin_product: 10, origin_category: 11, origin_service: 12 },
      },
    ]);
  });

  it('SketchPayload', async () => {
    const s = buildSketch([0.001, 0.5, 1, 2, 3, 100, 100, 1e6, -4]);
    const body = encode(root, 'datadog.agentpayload.SketchPayload', {
      sketches: [{ metric: 'pbjs.dist', tags: ['x:y'], dogsketches: [{ ts: 1_700_000_000, ...s }] }],
      metadata: { agent_version: '0.1.0' },
    });
    expect((await post('/api/beta/sketches', body)).status).toBe(202);
    const [d] = intake.distributions('pbjs.dist');
    expect(d).toMatchObject({ count: s.cnt, min: -4, max: 1e6, k: s.k, n: s.n, problems: [] });
  });

  it('AgentPayload with maps, span links, span events and meta_struct', async () => {
    const body = encode(traceRoot, 'datadog.trace.AgentPayload', {
      env: 'e',
      targetTPS: 60,
      errorTPS: 60,
      tags: { a: '1' },
      tracerPayloads: [
        {
          languageName: 'python',
          tags: { _dd_tag: 'v' },
          chunks: [
            {
              priority: 2,
              origin: 'lambda',
              tags: { 'chunk.tag': 'c' },
              spans: [
                {
                  service: 's',
                  name: 'n',
                  resource: 'r',
                  traceID: '18364758544493064720',
                  spanID: '9007199254740993',
                  parentID: '1',
                  start: '1700000000123456789',
                  duration: '42',
                  meta: { k: 'v' },
                  metrics: { m: 1.5 },
                  meta_struct: { appsec: Buffer.from([0x81, 0xa1, 0x61, 0x01]) },
                  spanLinks: [
                    {
                      traceID: '5',
                      traceID_high: '6',
                      spanID: '7',
                      attributes: { l: 'x' },
                      flags: 2147483649,
                    },
                  ],
                  spanEvents: [
                    {
                      time_unix_nano: '1700000000000000001',
                      name: 'exception',
                      attributes: {
                        msg: { type: 0, string_value: 'boom' },
                        n: { type: 2, int_value: '-3' },
                        arr: { type: 4, array_value: { values: [{ type: 1, bool_value: true }] } },
                      },
                    },
                  ],
                },
              ],
            },
          ],
        },
      ],
    });
    expect((await post('/api/v0.2/traces', body)).status).toBe(202);
    const [span] = intake.spans('n');
    expect(span).toMatchObject({
      traceID: 18_364_758_544_493_064_720n,
      spanID: 9_007_199_254_740_993n,
      parentID: 1n,
      start: 1_700_000_000_123_456_789n,
      duration: 42n,
      meta: { k: 'v' },
      metrics: { m: 1.5 },
      meta_struct: { appsec: Uint8Array.from([0x81, 0xa1, 0x61, 0x01]) },
      spanLinks: [
        { traceID: 5n, traceID_high: 6n, spanID: 7n, attributes: { l: 'x' }, flags: 2_147_483_649 },
      ],
      chunk: { priority: 2, origin: 'lambda', tags: { 'chunk.tag': 'c' } },
      tracer: { languageName: 'python', tags: { _dd_tag: 'v' } },
      agent: { env: 'e', targetTPS: 60 },
    });
    expect(span!.spanEvents[0]).toMatchObject({
      time_unix_nano: 1_700_000_000_000_000_001n,
      name: 'exception',
      attributes: {
        msg: { type: 0, string_value: 'boom' },
        n: { type: 2, int_value: -3n },
        arr: { type: 4, array_value: { values: [{ type: 1, bool_value: true }] } },
      },
    });
  });
});

/** Synchronous logger shape shared by the packages. */
export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export const noopLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export type EndpointKind =
  | 'series'
  | 'sketches'
  | 'check_run'
  | 'events'
  | 'logs'
  | 'traces'
  | 'stats'
  | 'pipeline_stats'
  | 'profiling'
  | 'llmobs'
  | 'llmobs_eval'
  | 'debugger'
  | 'debugger_logs'
  | 'apm_telemetry';

/** A payload handed to the forwarder: uncompressed bytes, content type, extra headers. */
export interface OutgoingPayload {
  kind: EndpointKind;
  body: Uint8Array;
  contentType: string;
  headers?: Record<string, string>;
  /** Spans, stats groups or requests inside, for drop accounting. */
  items?: number;
  /** For a 413: two smaller payloads, or undefined when it cannot be split. */
  split?: () => OutgoingPayload[] | undefined;
}

/** A 64-bit id exactly as the tracer sent it: a BigInt for 0xcf/0xd3, a Number for compact ints. */
export type Id = bigint | number;

export interface SpanLink {
  trace_id: Id;
  trace_id_high: Id;
  span_id: Id;
  attributes?: Record<string, string>;
  tracestate?: string;
  flags?: number;
}

export type AttributeAnyValue =
  | { type: 0; string_value: string }
  | { type: 1; bool_value: boolean }
  | { type: 2; int_value: Id }
  | { type: 3; double_value: number }
  | { type: 4; array_value: { values: AttributeAnyValue[] } };

export interface SpanEvent {
  time_unix_nano: Id;
  name: string;
  attributes?: Record<string, AttributeAnyValue>;
}

/** A span in the tracer's v0.4 vocabulary; all fields present after decoding. */
export interface Span {
  service: string;
  name: string;
  resource: string;
  trace_id: Id;
  span_id: Id;
  parent_id: Id;
  start: Id;
  duration: Id;
  error: number;
  meta: Record<string, string>;
  metrics: Record<string, number>;
  type: string;
  meta_struct?: Record<string, Uint8Array>;
  span_links?: SpanLink[];
  span_events?: SpanEvent[];
}

/** What the tracer's request headers say about its payload (wire-protocols D.2). */
export interface TracerHeaders {
  lang: string;
  langVersion: string;
  langInterpreter: string;
  langInterpreterVendor: string;
  tracerVersion: string;
  containerId: string;
  clientComputedStats: boolean;
  clientComputedTopLevel: boolean;
  droppedP0Traces: number;
  droppedP0Spans: number;
}

/** One decoded tracer request after processing: what becomes one TracerPayload. */
export interface TracerPayload {
  header: TracerHeaders;
  chunks: TraceChunk[];
  tags?: Record<string, string>;
  env?: string;
  hostname?: string;
  appVersion?: string;
  runtimeId?: string;
}

export interface TraceChunk {
  priority: number;
  origin: string;
  spans: Span[];
  tags?: Record<string, string>;
  droppedTrace?: boolean;
  /**
   * Tags every span of the chunk gets when encoded, without copying them into each span's meta:
   * `always` overrides what the span has, `ifAbsent` only fills in.
   */
  spanTags?: SpanTagStamp;
}

export interface SpanTagStamp {
  always: Record<string, string>;
  ifAbsent: Record<string, string>;
}

/** A hook an app adds to adjust spans (serverless-init parents job spans under its task span). */
export type SpanProcessorHook = (chunk: TraceChunk, payload: TracerPayload) => void;

// Shapes of what the intake records and returns from its query helpers.
import type { Destination } from './sites.js';

export type IntakeKind =
  | 'series'
  | 'series_v1'
  | 'sketches'
  | 'check_run'
  | 'events'
  | 'logs'
  | 'traces'
  | 'stats'
  | 'validate';

export type MetricTypeName = 'unspecified' | 'count' | 'rate' | 'gauge';

export interface MetricResource {
  type: string;
  name: string;
}

/** One point of one series, flattened: what `metrics()` returns. */
export interface MetricPointRecord {
  metric: string;
  /** The proto enum number as sent (0 unspecified, 1 count, 2 rate, 3 gauge). */
  typeCode: number;
  type: MetricTypeName;
  timestamp: number;
  value: number;
  tags: string[];
  resources: MetricResource[];
  /** The first resource of type `host`, if any. */
  host: string | undefined;
  interval: number;
  unit: string;
  sourceTypeName: string;
  origin: Record<string, unknown> | undefined;
  format: 'json' | 'protobuf';
  /** Set when the point is more than 10 min in the future or 1 h in the past (the API drops those). */
  outOfRange: boolean;
  requestId: number;
}

/** One Dogsketch of one Sketch, with the summary and quantile estimates: what `distributions()` returns. */
export interface DistributionRecord {
  metric: string;
  host: string;
  tags: string[];
  ts: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  avg: number;
  k: number[];
  n: number[];
  /** Quantile estimate from the agent bin mapping (gamma 1.015625, bias 1338). */
  quantile(q: number): number;
  p50: number;
  p75: number;
  p90: number;
  p95: number;
  p99: number;
  /** Invariants the bins break (unsorted keys, counts that do not add up to cnt ...); empty when sound. */
  problems: string[];
  requestId: number;
}

export interface CheckRunRecord {
  check: string;
  host_name: string;
  timestamp: number;
  status: number;
  message: string;
  tags: string[];
  requestId: number;
}

export interface EventRecord {
  title: string;
  text: string;
  timestamp: number | undefined;
  priority: string | undefined;
  host: string | undefined;
  tags: string[];
  alertType: string | undefined;
  aggregationKey: string | undefined;
  sourceTypeName: string | undefined;
  /** `api` for /api/v1/events, `intake` for the Agent's /intake/ payload. */
  format: 'api' | 'intake';
  requestId: number;
}

/** A log entry as sent (free-form JSON object), plus where it came from. */
export type LogRecord = Record<string, unknown> & {
  /** Non-enumerable: the request this entry arrived in. */
  readonly $requestId?: number;
  /** Non-enumerable: true when the serialized entry passed 1 MB (the API truncates it). */
  readonly $truncated?: boolean;
};

export interface SpanLinkRecord {
  traceID: bigint;
  traceID_high: bigint;
  spanID: bigint;
  attributes: Record<string, string>;
  tracestate: string;
  flags: number;
}

export interface SpanRecord {
  service: string;
  name: string;
  resource: string;
  /** Exact 64-bit ids. */
  traceID: bigint;
  spanID: bigint;
  parentID: bigint;
  /** Nanoseconds since the epoch, exact. */
  start: bigint;
  duration: bigint;
  error: number;
  meta: Record<string, string>;
  metrics: Record<string, number>;
  type: string;
  meta_struct: Record<string, Uint8Array>;
  spanLinks: SpanLinkRecord[];
  spanEvents: Record<string, unknown>[];
  /** Context of the chunk and tracer payload the span arrived in. */
  chunk: { priority: number; origin: string; tags: Record<string, string>; droppedTrace: boolean };
  tracer: {
    containerID: string;
    languageName: string;
    languageVersion: string;
    tracerVersion: string;
    runtimeID: string;
    env: string;
    hostname: string;
    appVersion: string;
    tags: Record<string, string>;
  };
  agent: { hostName: string; env: string; agentVersion: string; targetTPS: number; errorTPS: number };
  requestId: number;
}

/** The decoded AgentPayload of one /api/v0.2/traces request. */
export type AgentPayloadRecord = Record<string, unknown> & { requestId: number };

/** A decoded ClientGroupedStats with its bucket and payload context: what `stats()` returns. */
export interface StatsRecord {
  /** The grouped stats as sent (PascalCase keys), summaries decoded into `okSketch`/`errorSketch`. */
  group: Record<string, unknown>;
  okSketch: DDSketchSummary | undefined;
  errorSketch: DDSketchSummary | undefined;
  bucket: { Start: number | bigint; Duration: number | bigint; AgentTimeShift?: number | bigint };
  client: Record<string, unknown>;
  agent: { AgentHostname: string; AgentEnv: string; AgentVersion: string; ClientComputed: boolean };
  requestId: number;
}

/** A DDSketch proto (APM stats okSummary/errorSummary) reduced to its mapping and total count. */
export interface DDSketchSummary {
  gamma: number;
  indexOffset: number;
  zeroCount: number;
  count: number;
  positive: Map<number, number>;
  negative: Map<number, number>;
}

export interface RecordedRequest {
  id: number;
  /** When the body was fully read (ms since the epoch, from the intake's clock). */
  receivedAt: number;
  /** When the intake answered (after any delay fault); undefined for a reset or a black hole. */
  answeredAt: number | undefined;
  method: string;
  /** Path without the query string. */
  path: string;
  /** The request target with any `api_key` query parameter redacted. */
  url: string;
  /** The host the client addressed (Host header, or the proxy target), without the port. */
  destination: string;
  /** The Datadog site and intake role of `destination` when it is a real intake host name. */
  site: Destination | undefined;
  /** Header names lower-cased; `dd-api-key`, `dd-application-key` and (proxy-)authorization redacted. */
  headers: Record<string, string>;
  apiKey: { present: boolean; accepted: boolean; redacted: string | undefined };
  kind: IntakeKind | undefined;
  contentType: string;
  contentEncoding: string;
  /** Bytes on the wire. */
  bodyBytes: number;
  /** Bytes after decompression (0 when decompression failed). */
  decodedBytes: number;
  /** Status the intake answered with; undefined for a reset or a black hole. */
  status: number | undefined;
  /** The response body the intake sent. */
  responseBody: string | undefined;
  /** Which fault answered, if one did. */
  fault: string | undefined;
  /** Why the intake refused the request, for non-2xx answers. */
  error: string | undefined;
  /** The decompressed body. */
  body: Uint8Array;
  /** The decoded payload (JSON value, protobuf message tree or msgpack value). */
  decoded: unknown;
  /** How many items (points, sketches, logs, spans, ...) the request carried when accepted. */
  items: number;
  tls: boolean;
}

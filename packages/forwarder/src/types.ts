/** Our own log lines. Synchronous: a freeze or an exit must not eat them. */
export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/** The Datadog intakes the forwarder knows how to reach. */
export type EndpointKind =
  | 'series'
  | 'sketches'
  | 'check_run'
  | 'events'
  | 'logs'
  | 'traces'
  | 'stats'
  // The routes the trace receiver proxies to Datadog unchanged.
  | 'pipeline_stats'
  | 'profiling'
  | 'llmobs'
  | 'llmobs_eval_v1'
  | 'llmobs_eval_v2'
  | 'debugger'
  | 'debugger_logs'
  | 'apm_telemetry';

export const ENDPOINT_KINDS: readonly EndpointKind[] = [
  'series',
  'sketches',
  'check_run',
  'events',
  'logs',
  'traces',
  'stats',
  'pipeline_stats',
  'profiling',
  'llmobs',
  'llmobs_eval_v1',
  'llmobs_eval_v2',
  'debugger',
  'debugger_logs',
  'apm_telemetry',
];

/** A payload handed to the forwarder by a payload builder. The forwarder never looks inside `body`. */
export interface OutgoingPayload {
  kind: EndpointKind;
  /** Uncompressed bytes (or already encoded ones, when `headers` carries a `Content-Encoding`). */
  body: Uint8Array;
  contentType: string;
  headers?: Record<string, string>;
  /** Query string for proxied routes (without the leading `?`). */
  query?: string;
  /** Events or points inside, for drop accounting. */
  items?: number;
  /** For a 413: two (or more) smaller payloads, or `undefined` if it cannot be split. */
  split?: () => OutgoingPayload[] | undefined;
}

/**
 * Compresses a kind's bodies exactly as the forwarder would (same codec, level and bytes), for a
 * builder that compresses each body as it completes it: the payload then carries `Content-Encoding:
 * encoding` in its headers and is sent as it is.
 */
export interface PayloadCodec {
  /** The `Content-Encoding` of what `compress` returns. */
  readonly encoding: string;
  /** The compressed bytes, or undefined when the codec cannot right now (keep the body as it is). */
  compress(data: Uint8Array): Uint8Array | undefined;
  /** The bytes `compress` was given (for a compressed payload answered 413, which is split). */
  decompress(data: Uint8Array): Uint8Array;
}

/** Monotonic milliseconds. Injected so that freezes and backoff can be driven by tests. */
export interface Clock {
  now(): number;
}

export const monotonicClock: Clock = { now: () => performance.now() };

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Synchronous logger the package writes its own diagnostics to (never an async one: a freeze must not eat lines). */
export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export type EndpointKind =
  | 'series'
  | 'sketches'
  | 'check_run'
  | 'events'
  | 'logs'
  | 'traces'
  | 'stats'
  | 'profiling'
  | 'llmobs'
  | 'debugger'
  | 'apm_telemetry';

/** A payload handed to the forwarder; `body` is uncompressed. */
export interface OutgoingPayload {
  kind: EndpointKind;
  body: Uint8Array;
  contentType: string;
  headers?: Record<string, string>;
  /** Log events inside, for drop accounting. */
  items?: number;
  /** For a 413: two smaller payloads, or undefined when a single event cannot be split. */
  split?: () => OutgoingPayload[] | undefined;
}

/**
 * What compresses a batch's body as the transport would (same codec and level, so the same bytes),
 * so that a batch waits for its flush compressed; the forwarder's `payloadCodec('logs')` has this
 * shape.
 */
export interface BatchCodec {
  /** The `Content-Encoding` of what `compress` returns. */
  readonly encoding: string;
  /** The compressed bytes, or undefined when the codec cannot right now (the body stays as it is). */
  compress(data: Uint8Array): Uint8Array | undefined;
  decompress(data: Uint8Array): Uint8Array;
}

/** Datadog log statuses this package emits. */
export type LogStatus = 'critical' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * One Telemetry API event as Lambda posts it (`{"time","type","record"}`), accepted structurally:
 * anything else is counted as invalid and skipped. `time` is the ISO string Lambda sends, or epoch
 * milliseconds when a parser upstream already converted it.
 */
export interface TelemetryEvent {
  time: string | number;
  type: string;
  record: unknown;
}

/** A log line after interpretation, before encoding. */
export interface LogRecord {
  message: string;
  status: LogStatus;
  /** Unix milliseconds. */
  timestamp: number;
  requestId: string | null;
  /** Attributes parsed from a JSON message (never the reserved keys). */
  attributes?: Record<string, unknown>;
  /** The same, already serialised as `,"key":value,…` (what the parsers produce); wins over `attributes`. */
  attributesJson?: string;
  /** Tags the record carried itself (`ddtags` in a JSON message), comma-joined. */
  tags?: string;
  /** Extra keys under the `lambda` attribute (durable functions). */
  lambda?: Record<string, unknown>;
  /** `JSON.stringify(message)` when the parser already has it; the encoder then reuses it. */
  messageJson?: string;
}

/**
 * A record with every field present (the optional ones undefined): records of one shape keep the
 * encoder's property reads monomorphic, which records built field by field would not.
 */
export function logRecord(
  message: string,
  status: LogStatus,
  timestamp: number,
  requestId: string | null,
  extra?: Pick<LogRecord, 'attributesJson' | 'tags' | 'lambda' | 'messageJson'>,
): LogRecord {
  return {
    message,
    status,
    timestamp,
    requestId,
    attributes: undefined,
    attributesJson: extra?.attributesJson || undefined,
    tags: extra?.tags || undefined,
    lambda: extra?.lambda,
    messageJson: extra?.messageJson,
  };
}

export const noopLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

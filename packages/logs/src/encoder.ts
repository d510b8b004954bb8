import { quoteJson } from './json-string.js';
import { MAX_EVENT_BYTES, TRUNCATED_MARKER } from './limits.js';
import type { LogRecord, LogStatus } from './types.js';

/**
 * `lambda`: the real extension's shape, with message, `lambda`, timestamp and status nested in
 * `message` (the intake flattens it with `DD-PROTOCOL: agent-json`); `flat`: the Agent's shape, as
 * serverless-init sends it.
 */
export type EventLayout = 'lambda' | 'flat';

export interface EncoderOptions {
  layout: EventLayout;
  /** `hostname`; on Lambda the function ARN. */
  hostname: string;
  /** `lambda.arn` (lambda layout); defaults to `hostname`. */
  functionArn?: string;
  /** `service` (lower-cased by `fromEnv`); "" when unset, as the real extension sends. */
  service: string;
  /** `ddsource`: `lambda`, `cloudrun`, ... */
  source: string;
  /** `ddtags`: comma-joined `k:v` tags. */
  tags: string;
  /** Events whose JSON exceeds this many bytes are truncated (default 1 MiB). */
  maxEventBytes?: number;
}

export interface EncodedEvent {
  /** The event's JSON; "" when it comes in `parts`. */
  json: string;
  /** A large event as pieces to write one after the other (their concatenation is the JSON). */
  parts?: readonly string[];
  /** Total UTF-16 length of `parts`. */
  length?: number;
  /** UTF-8 byte length of `json`, or -1 when not counted (it is then well under the limit). */
  bytes: number;
  truncated: boolean;
}

const LAMBDA_RESERVED = new Set(['message', 'lambda', 'timestamp', 'status']);
const LAMBDA_BEFORE = '{"message":{"message":';
const FLAT_BEFORE = '{"message":';
// Events at least this long (large messages or large attributes) are written in their pieces
// straight into the buffer rather than joined into one string first.
const LARGE_EVENT = 2048;
const LAMBDA_KEYS = new Set(['arn', 'request_id']);
const FLAT_RESERVED = new Set([
  'message',
  'status',
  'timestamp',
  'hostname',
  'service',
  'ddsource',
  'ddtags',
]);

const MILLIS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
const STATUSES: readonly LogStatus[] = ['critical', 'error', 'warn', 'info', 'debug', 'trace'];

/**
 * `s` as one flat string. A string built by concatenation is a tree of its pieces, which every
 * later concatenation nests and the batch's write walks node by node: text reused for every event
 * is flattened once, so each event's string has a few pieces rather than a dozen.
 */
function flat(s: string): string {
  return JSON.parse(JSON.stringify(s)) as string;
}

/** Whether `ms` is written as its second's digits, then its three digits of milliseconds. */
function writtenBySecond(ms: number): boolean {
  return ms >= 1e12 && ms < 2_147_483_647_000 && Number.isInteger(ms);
}

/**
 * An epoch-ms timestamp as JSON. Thirteen digits are past the small integers, so `String(ms)` takes
 * the general double-to-text path; seconds and milliseconds apart take the integer one.
 */
export function timestampJson(ms: number): string {
  if (writtenBySecond(ms)) {
    const seconds = Math.floor(ms / 1000);
    return `${seconds}${MILLIS[ms - seconds * 1000]}`;
  }
  return String(ms);
}

function attrsJson(attrs: Record<string, unknown> | undefined, reserved: Set<string>): string {
  if (!attrs) return '';
  let out = '';
  for (const key in attrs) {
    if (reserved.has(key)) continue;
    const value = attrs[key];
    if (value === undefined || typeof value === 'function') continue;
    let v: string | undefined;
    try {
      v = JSON.stringify(value);
    } catch {
      v = undefined;
    }
    if (v !== undefined) out += ',' + JSON.stringify(key) + ':' + v;
  }
  return out;
}

/** Serialises log records into intake JSON, once, with the constant parts pre-serialised. */
export class EventEncoder {
  readonly maxEventBytes: number;
  readonly layout: EventLayout;
  private readonly arnJson: string;
  private readonly hostJson: string;
  private readonly serviceJson: string;
  private readonly sourceJson: string;
  private readonly tags: string;
  private readonly tail: string;
  private readonly tagsJson: string;
  /** `,"status":"…"` and the tail of an event with no attributes of its own, by status (lambda layout). */
  private readonly statusTail: Record<string, string> = {};

  constructor(options: EncoderOptions) {
    this.layout = options.layout;
    this.maxEventBytes = options.maxEventBytes ?? MAX_EVENT_BYTES;
    this.hostJson = JSON.stringify(options.hostname);
    this.arnJson = JSON.stringify(options.functionArn ?? options.hostname);
    this.serviceJson = JSON.stringify(options.service);
    this.sourceJson = JSON.stringify(options.source);
    this.tags = options.tags;
    this.tagsJson = JSON.stringify(options.tags);
    this.tail =
      this.layout === 'lambda'
        ? `},"hostname":${this.hostJson},"service":${this.serviceJson},"ddtags":${this.tagsJson},"ddsource":${this.sourceJson}}`
        : '';
    for (const st of STATUSES) this.statusTail[st] = flat(`,"status":"${st}"${this.tail}`);
  }

  private tagsFor(extra: string | undefined): string {
    if (!extra) return this.tagsJson;
    return JSON.stringify(this.tags === '' ? extra : this.tags + ',' + extra);
  }

  private lastRequestId: string | null = null;
  private lastLambdaHead = '';

  /** `,"lambda":{"arn":…,"request_id":…` for a request id, cached: consecutive events share it. */
  private lambdaHead(requestId: string | null): string {
    if (requestId !== this.lastRequestId || this.lastLambdaHead === '') {
      this.lastRequestId = requestId;
      this.lastLambdaHead = `,"lambda":{"arn":${this.arnJson},"request_id":${requestId === null ? 'null' : JSON.stringify(requestId)}`;
    }
    return this.lastLambdaHead;
  }

  /** The `lambdaHead` that `lastHead` was made from (the same string while the request id is). */
  private headFrom = '';
  private lastHead = '';
  private lastSecond = -1;
  private lastHeadSecond = '';

  /**
   * The lambda event from after its message up to its timestamp's milliseconds, flat and cached
   * (`,"lambda":{…},"timestamp":<seconds>`): consecutive events share the request id and mostly
   * the second. `undefined` for a timestamp written otherwise (see `timestampJson`).
   */
  private headThroughSecond(requestId: string | null, ms: number): string | undefined {
    if (!writtenBySecond(ms)) return undefined;
    const second = Math.floor(ms / 1000);
    const lambda = this.lambdaHead(requestId);
    if (lambda !== this.headFrom) {
      this.headFrom = lambda;
      this.lastHead = `${lambda}},"timestamp":`;
      this.lastSecond = -1;
    }
    if (second !== this.lastSecond) {
      this.lastSecond = second;
      this.lastHeadSecond = flat(this.lastHead + second);
    }
    return this.lastHeadSecond;
  }

  /** What precedes the message: a constant of the layout. */
  private get before(): string {
    return this.layout === 'lambda' ? LAMBDA_BEFORE : FLAT_BEFORE;
  }

  /** The event after its message, kept apart so a large message is never copied into a rope. */
  private after(r: LogRecord, withAttributes: boolean): string {
    if (this.layout === 'lambda') {
      if (r.lambda === undefined && !r.tags) {
        const head = this.headThroughSecond(r.requestId, r.timestamp);
        if (head !== undefined) {
          const millis = MILLIS[r.timestamp % 1000]!;
          const attrs = withAttributes
            ? (r.attributesJson ?? (r.attributes ? attrsJson(r.attributes, LAMBDA_RESERVED) : ''))
            : '';
          if (attrs === '') return head + millis + this.statusTail[r.status]!;
          return `${head}${millis},"status":"${r.status}"${attrs}${this.tail}`;
        }
      }
      const lambdaExtra = r.lambda ? attrsJson(r.lambda, LAMBDA_KEYS) : '';
      const attrs = !withAttributes
        ? ''
        : r.attributesJson !== undefined
          ? r.attributesJson
          : r.attributes
            ? attrsJson(r.attributes, LAMBDA_RESERVED)
            : '';
      const tail = r.tags
        ? `},"hostname":${this.hostJson},"service":${this.serviceJson},"ddtags":${this.tagsFor(r.tags)},"ddsource":${this.sourceJson}}`
        : this.tail;
      return `${this.lambdaHead(r.requestId)}${lambdaExtra}},"timestamp":${timestampJson(r.timestamp)},"status":"${r.status}"${attrs}${tail}`;
    }
    const attrs = !withAttributes ? '' : (r.attributesJson ?? attrsJson(r.attributes, FLAT_RESERVED));
    return `,"status":"${r.status}","timestamp":${timestampJson(r.timestamp)},"hostname":${this.hostJson},"service":${this.serviceJson},"ddsource":${this.sourceJson},"ddtags":${this.tagsFor(r.tags)}${attrs}}`;
  }

  private serialise(r: LogRecord, messageJson: string, withAttributes: boolean): string {
    return this.before + messageJson + this.after(r, withAttributes);
  }

  encode(record: LogRecord): EncodedEvent {
    const messageJson = record.messageJson ?? quoteJson(record.message);
    const before = this.before;
    const after = this.after(record, true);
    if (messageJson.length + after.length >= LARGE_EVENT) {
      const parts = [before, messageJson, after];
      const length = before.length + messageJson.length + after.length;
      if (length * 3 <= this.maxEventBytes) return { json: '', parts, length, bytes: -1, truncated: false };
      const bytes = Buffer.byteLength(before) + Buffer.byteLength(messageJson) + Buffer.byteLength(after);
      if (bytes <= this.maxEventBytes) return { json: '', parts, length, bytes, truncated: false };
      return this.truncate(record);
    }
    const json = before + messageJson + after;
    // n UTF-16 units are at most 3n UTF-8 bytes: most events need no byte count here at all.
    if (json.length * 3 <= this.maxEventBytes) return { json, bytes: -1, truncated: false };
    const bytes = Buffer.byteLength(json);
    if (bytes <= this.maxEventBytes) return { json, bytes, truncated: false };
    return this.truncate(record);
  }

  /**
   * Cuts the message so the whole event fits, ending it with the Agent's `...TRUNCATED...` marker.
   * Attributes go first if they alone are too big to fit.
   */
  private truncate(record: LogRecord): EncodedEvent {
    const max = this.maxEventBytes;
    let withAttributes = true;
    let overhead = Buffer.byteLength(this.serialise(record, '""', true)) - 2;
    if (overhead + TRUNCATED_MARKER.length + 2 > max) {
      withAttributes = false;
      overhead = Buffer.byteLength(this.serialise(record, '""', false)) - 2;
    }
    // The longest prefix whose escaped UTF-8 fits: one pass, adding each character's cost in JSON.
    const budget = max - overhead - 2 - TRUNCATED_MARKER.length;
    const n = prefixFitting(record.message, budget);
    const fits = (k: number): string | undefined => {
      const m = JSON.stringify(record.message.slice(0, k) + TRUNCATED_MARKER);
      return overhead + Buffer.byteLength(m) <= max ? m : undefined;
    };
    const messageJson = fits(n) ?? JSON.stringify(TRUNCATED_MARKER);
    const json = this.serialise(record, messageJson, withAttributes);
    return { json, bytes: Buffer.byteLength(json), truncated: true };
  }
}

/**
 * How many UTF-16 units of `s` fit in `budget` bytes once JSON-escaped and UTF-8 encoded, never
 * ending inside a surrogate pair (JSON.stringify writes a lone surrogate as a 6-byte escape).
 */
export function prefixFitting(s: string, budget: number): number {
  let used = 0;
  let i = 0;
  const n = s.length;
  while (i < n) {
    const c = s.charCodeAt(i);
    let cost: number;
    let width = 1;
    if (c < 0x80) {
      if (c === 0x22 || c === 0x5c || c === 0x08 || c === 0x0c || c === 0x0a || c === 0x0d || c === 0x09)
        cost = 2;
      else if (c < 0x20) cost = 6;
      else cost = 1;
    } else if (c < 0x800) cost = 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const d = i + 1 < n ? s.charCodeAt(i + 1) : 0;
      if (d >= 0xdc00 && d <= 0xdfff) {
        cost = 4;
        width = 2;
      } else cost = 6;
    } else if (c >= 0xdc00 && c <= 0xdfff) cost = 6;
    else cost = 3;
    if (used + cost > budget) break;
    used += cost;
    i += width;
  }
  return i;
}

import type { BatchLimits } from './batch.js';
import { LogBuffer } from './buffer.js';
import { EventEncoder } from './encoder.js';
import {
  type Interpretation,
  interpretation,
  interpretJsonText,
  interpretObject,
  interpretText,
  serialiseObject,
  trimEnd,
} from './formats.js';
import { findOutOfMemory, type OutOfMemoryReport } from './oom.js';
import { renderPlatformEvent } from './platform.js';
import { RateLimitedLog } from './rate-limit.js';
import { applyRules, type ProcessingRule } from './rules.js';
import { statusFromLevel } from './status.js';
import { type TagsInput, tagString } from './tags.js';
import {
  type BatchCodec,
  type Logger,
  type LogRecord,
  logRecord,
  noopLogger,
  type OutgoingPayload,
  type TelemetryEvent,
} from './types.js';

/** The prefix of this extension's own log lines (`DD_EXTENSION | LEVEL | message`). */
export const OWN_LOG_PREFIX = 'DD_EXTENSION | ';
const OWN_LINE = /^DD_EXTENSION \| ([A-Za-z]+) \| /;

export interface LambdaLogsOptions {
  /** Ship logs at all (`DD_SERVERLESS_LOGS_ENABLED`/`DD_LOGS_ENABLED`); OOM lines are spotted either way. */
  enabled?: boolean;
  rules?: readonly ProcessingRule[];
  /** The function ARN: `hostname` and `lambda.arn`. */
  functionArn: string;
  /** `service` ("" when unset, as the real extension sends). */
  service?: string;
  /** `ddtags` of every event (the app builds the Lambda tags). */
  tags?: TagsInput;
  /** `ddsource`, default `lambda`. */
  source?: string;
  /** Ship this extension's own `DD_EXTENSION | …` lines too (default false). */
  shipOwnLogs?: boolean;
  /** Managed-instance mode: no request-id inference; logs without one ship at once. */
  managedInstance?: boolean;
  maxBufferedEvents?: number;
  maxBufferedBytes?: number;
  /** Compresses each batch when it is cut, so that it waits for the flush compressed (`BufferOptions.codec`). */
  codec?: BatchCodec;
  /** Logs with no request id yet wait for the next `platform.start`; past this many, the oldest ship without one. */
  maxOrphans?: number;
  /** Called for each function/extension line carrying a runtime's out-of-memory message. */
  onOutOfMemory?: (report: OutOfMemoryReport) => void;
  logger?: Logger;
  now?: () => number;
}

export interface LogStats {
  /** Telemetry events looked at. */
  received: number;
  /** Log events accepted into the buffer. */
  buffered: number;
  /** Events dropped by processing rules. */
  excluded: number;
  /** This extension's own lines left out. */
  ownLinesSkipped: number;
  /** Events dropped because the buffer was full. */
  dropped: number;
  /** Events cut to the 1 MiB limit. */
  truncated: number;
  /** Malformed telemetry events skipped. */
  invalid: number;
  /** Events handed out in payloads. */
  flushed: number;
  /** Out-of-memory lines reported. */
  outOfMemory: number;
  /** Records Lambda itself said it dropped (`platform.logsDropped`). */
  droppedByLambda: number;
}

/**
 * Turns Telemetry API events into Datadog log events: function and extension records in every
 * runtime's text and JSON formats, platform events as the START/END/REPORT lines, each tied to
 * its request id, filtered by the processing rules, held in a bounded buffer until `flush`.
 */
export class LambdaLogs {
  private readonly enabled: boolean;
  private readonly rules: readonly ProcessingRule[];
  private readonly encoder: EventEncoder;
  private readonly buffer: LogBuffer;
  private readonly shipOwnLogs: boolean;
  private readonly managed: boolean;
  private readonly maxOrphans: number;
  private readonly onOutOfMemory: ((r: OutOfMemoryReport) => void) | undefined;
  private readonly now: () => number;
  private readonly log: RateLimitedLog;
  private currentRequestId: string | null = null;
  private orphans: LogRecord[] = [];
  private readonly runtimeDurations = new Map<string, number>();
  private readonly counters = {
    received: 0,
    buffered: 0,
    excluded: 0,
    ownLinesSkipped: 0,
    truncated: 0,
    invalid: 0,
    flushed: 0,
    outOfMemory: 0,
    droppedByLambda: 0,
  };
  private readonly runtimeDurationOf = (id: string): number | undefined => this.runtimeDurations.get(id);

  constructor(options: LambdaLogsOptions) {
    const logger = options.logger ?? noopLogger;
    this.now = options.now ?? Date.now;
    this.enabled = options.enabled ?? true;
    this.rules = options.rules ?? [];
    this.shipOwnLogs = options.shipOwnLogs ?? false;
    this.managed = options.managedInstance ?? false;
    this.maxOrphans = options.maxOrphans ?? 10_000;
    this.onOutOfMemory = options.onOutOfMemory;
    this.log = new RateLimitedLog(logger, 10_000, this.now);
    this.encoder = new EventEncoder({
      layout: 'lambda',
      hostname: options.functionArn,
      service: options.service ?? '',
      source: options.source ?? 'lambda',
      tags: tagString(options.tags),
    });
    this.buffer = new LogBuffer({
      maxBufferedEvents: options.maxBufferedEvents,
      maxBufferedBytes: options.maxBufferedBytes,
      ...(options.codec ? { codec: options.codec } : {}),
      logger,
      now: this.now,
    });
  }

  /** Takes one POST body of the Telemetry API (an array of events) or a single event. */
  ingest(events: unknown): void {
    if (Array.isArray(events)) {
      for (const e of events) this.ingestSafely(e);
    } else {
      this.ingestSafely(events);
    }
  }

  /** No event, however odd, may throw into the listener that feeds us. */
  private ingestSafely(event: unknown): void {
    try {
      this.ingestOne(event);
    } catch (err) {
      this.counters.invalid++;
      this.log.error('ingest-failed', `logs: could not process a telemetry event: ${(err as Error).message}`);
    }
  }

  private ingestOne(raw: unknown): void {
    this.counters.received++;
    if (raw === null || typeof raw !== 'object') {
      this.invalid('a telemetry event is not an object');
      return;
    }
    const event = raw as Partial<TelemetryEvent>;
    const type = event.type;
    if (typeof type !== 'string') {
      this.invalid('a telemetry event has no "type"');
      return;
    }
    const timestamp = this.timestampOf(event.time);
    if (type === 'function' || type === 'extension') {
      this.logRecord(type, event.record, timestamp);
      return;
    }
    if (!type.startsWith('platform.')) {
      this.invalid(`unknown telemetry event type "${type}"`);
      return;
    }
    this.platform(type, event.record, timestamp);
  }

  private minutePrefix = '';
  private minuteBase = 0;

  /**
   * The event's ISO time in ms (now, if missing or unparseable). Consecutive events share their
   * minute, so only the seconds are read when the `YYYY-MM-DDTHH:MM:` prefix repeats.
   */
  private timestampOf(time: unknown): number {
    // Already parsed (the lifecycle package hands events on with `time` in epoch ms).
    if (typeof time === 'number') return Number.isFinite(time) ? Math.trunc(time) : this.now();
    if (typeof time !== 'string') return this.now();
    if (time.length === 24 && this.minutePrefix !== '' && time.startsWith(this.minutePrefix)) {
      const secMs = secondsMillis(time);
      if (secMs >= 0) return this.minuteBase + secMs;
    }
    const parsed = parseIsoMillis(time);
    if (!Number.isFinite(parsed)) return this.now();
    if (time.length === 24 && secondsMillis(time) >= 0) {
      this.minutePrefix = time.slice(0, 17);
      this.minuteBase = parsed - secondsMillis(time);
    }
    return parsed;
  }

  private invalid(why: string): void {
    this.counters.invalid++;
    this.log.warn('invalid-event', `logs: skipping malformed telemetry: ${why}`);
  }

  private platform(type: string, record: unknown, timestamp: number): void {
    const r = record as Record<string, unknown> | null;
    // Invocation bookkeeping happens whether or not logs ship: REPORT needs the runtime duration.
    if (type === 'platform.runtimeDone' && r && typeof r['requestId'] === 'string') {
      const d = (r['metrics'] as Record<string, unknown> | undefined)?.['durationMs'];
      if (typeof d === 'number') this.rememberRuntimeDuration(r['requestId'], d);
    }
    if (type === 'platform.logsDropped' && r && typeof r['droppedRecords'] === 'number') {
      this.counters.droppedByLambda += r['droppedRecords'];
    }
    const line = renderPlatformEvent(type, record, this.runtimeDurationOf, this.managed);
    if (type === 'platform.start' && line?.requestId) this.currentRequestId = line.requestId;
    if (type === 'platform.report' && line?.requestId) this.runtimeDurations.delete(line.requestId);
    if (line && this.enabled) {
      const message = applyRules(this.rules, line.message);
      if (message === null) this.counters.excluded++;
      else this.route(logRecord(message, line.status, timestamp, line.requestId ?? this.currentRequestId));
    }
    if (type === 'platform.start' && this.currentRequestId) this.adoptOrphans(this.currentRequestId);
    if (
      (type === 'platform.runtimeDone' || type === 'platform.report') &&
      line?.requestId === this.currentRequestId
    ) {
      this.currentRequestId = null;
    }
  }

  private rememberRuntimeDuration(id: string, ms: number): void {
    this.runtimeDurations.set(id, ms);
    if (this.runtimeDurations.size > 256) {
      const oldest = this.runtimeDurations.keys().next().value;
      if (oldest !== undefined) this.runtimeDurations.delete(oldest);
    }
  }

  private logRecord(type: 'function' | 'extension', record: unknown, timestamp: number): void {
    let text: string | undefined;
    let obj: Record<string, unknown> | undefined;
    if (typeof record === 'string') text = trimEnd(record);
    else if (record !== null && typeof record === 'object' && !Array.isArray(record)) {
      obj = record as Record<string, unknown>;
    } else {
      this.invalid(`a ${type} record is neither a string nor an object`);
      return;
    }

    let ownStatus: string | undefined;
    if (text !== undefined && type === 'extension' && text.startsWith(OWN_LOG_PREFIX)) {
      if (!this.shipOwnLogs) {
        this.counters.ownLinesSkipped++;
        return;
      }
      ownStatus = OWN_LINE.exec(text)?.[1];
    } else {
      const oom = text !== undefined ? findOutOfMemory(text) : findOutOfMemoryIn(obj!);
      if (oom) this.reportOom(oom, text, obj, timestamp);
    }
    if (!this.enabled) return;

    let interp: Interpretation;
    if (this.rules.length === 0) {
      interp = text !== undefined ? interpretText(text) : interpretObject(obj!);
    } else {
      // The rules see a JSON record as written (`JSON.stringify(record)`, as the Agent serialises it).
      // It is serialised value by value, so each value is serialised once for the rules' text and
      // the attributes both, short strings and numbers without the native call.
      const serialised = obj ? serialiseObject(obj) : undefined;
      const original = text ?? serialised?.text ?? JSON.stringify(obj);
      const masked = applyRules(this.rules, original);
      if (masked === null) {
        this.counters.excluded++;
        return;
      }
      if (obj && masked === original) interp = interpretObject(obj, original, 0, serialised);
      else if (obj) interp = interpretJsonText(masked) ?? interpretation(masked);
      else interp = interpretText(masked);
    }
    const status = ownStatus !== undefined ? statusFromLevel(ownStatus) : interp.status;
    this.route(
      logRecord(
        interp.message,
        status ?? 'info',
        timestamp,
        interp.requestId ?? (this.managed ? null : this.currentRequestId),
        interp,
      ),
    );
  }

  /** Logs with no request id wait for the next `platform.start` (as INIT_START and init-phase lines do). */
  private route(rec: LogRecord): void {
    if (rec.requestId === null && !this.managed) this.holdOrphan(rec);
    else this.add(rec);
  }

  private reportOom(
    pattern: string,
    text: string | undefined,
    obj: Record<string, unknown> | undefined,
    timestamp: number,
  ): void {
    this.counters.outOfMemory++;
    if (!this.onOutOfMemory) return;
    let requestId: string | null = null;
    if (obj) {
      const id = obj['requestId'] ?? obj['AWSRequestId'];
      if (typeof id === 'string' && id !== '') requestId = id;
    } else if (text !== undefined) {
      requestId = interpretText(text).requestId ?? null;
    }
    requestId ??= this.currentRequestId;
    try {
      this.onOutOfMemory({ requestId, timestamp, pattern, line: text ?? JSON.stringify(obj) });
    } catch (err) {
      this.log.error('oom-hook', `logs: the out-of-memory hook threw: ${(err as Error).message}`);
    }
  }

  private holdOrphan(rec: LogRecord): void {
    this.orphans.push(rec);
    if (this.orphans.length > this.maxOrphans) this.add(this.orphans.shift()!);
  }

  private adoptOrphans(requestId: string): void {
    if (this.orphans.length === 0) return;
    const orphans = this.orphans;
    this.orphans = [];
    for (const o of orphans) {
      o.requestId = requestId;
      this.add(o);
    }
  }

  private add(rec: LogRecord): void {
    const encoded = this.encoder.encode(rec);
    if (encoded.truncated) {
      this.counters.truncated++;
      this.log.warn('truncated', `logs: an event over ${this.encoder.maxEventBytes} bytes was truncated`);
    }
    if (this.buffer.push(encoded)) this.counters.buffered++;
  }

  /**
   * Everything buffered, as `/api/v2/logs` payloads. Logs still waiting for a request id stay
   * held, except in the `final` flush (SHUTDOWN), which ships them without one.
   */
  flush(options: { final?: boolean; limits?: BatchLimits } = {}): OutgoingPayload[] {
    if (options.final && this.orphans.length > 0) {
      const orphans = this.orphans;
      this.orphans = [];
      for (const o of orphans) this.add(o);
    }
    const payloads = this.buffer.drain(options.limits);
    for (const p of payloads) this.counters.flushed += p.items ?? 0;
    return payloads;
  }

  /** Events waiting for the next flush (orphans included). */
  get pending(): number {
    return this.buffer.length + this.orphans.length;
  }

  /** The request id logs without their own are tied to now. */
  get requestId(): string | null {
    return this.currentRequestId;
  }

  stats(): LogStats {
    return { ...this.counters, dropped: this.buffer.dropped };
  }
}

function findOutOfMemoryIn(obj: Record<string, unknown>): string | undefined {
  for (const key in obj) {
    const v = obj[key];
    if (typeof v === 'string') {
      const p = findOutOfMemory(v);
      if (p) return p;
    } else if (Array.isArray(v)) {
      for (const item of v) {
        if (typeof item === 'string') {
          const p = findOutOfMemory(item);
          if (p) return p;
        }
      }
    }
  }
  return undefined;
}

const ISO_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22];

/** `YYYY-MM-DDTHH:MM:SS.mmmZ`, the Telemetry API's time format, without `Date.parse`'s generality. */
export function parseIsoMillis(s: string): number {
  if (s.length !== 24 || s.charCodeAt(10) !== 84 /* T */ || s.charCodeAt(23) !== 90 /* Z */)
    return Date.parse(s);
  for (const i of ISO_DIGITS) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return Date.parse(s);
  }
  const d = (i: number): number => s.charCodeAt(i) - 48;
  const month = d(5) * 10 + d(6);
  const day = d(8) * 10 + d(9);
  const hour = d(11) * 10 + d(12);
  const minute = d(14) * 10 + d(15);
  const second = d(17) * 10 + d(18);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59)
    return Date.parse(s);
  const year = d(0) * 1000 + d(1) * 100 + d(2) * 10 + d(3);
  return Date.UTC(year, month - 1, day, hour, minute, second, d(20) * 100 + d(21) * 10 + d(22));
}

/** `SS.mmmZ` at the end of a 24-character ISO time, in ms; -1 if malformed. */
function secondsMillis(s: string): number {
  const a = s.charCodeAt(17) - 48;
  const b = s.charCodeAt(18) - 48;
  const c = s.charCodeAt(20) - 48;
  const d = s.charCodeAt(21) - 48;
  const e = s.charCodeAt(22) - 48;
  if (
    a < 0 ||
    a > 5 ||
    b < 0 ||
    b > 9 ||
    c < 0 ||
    c > 9 ||
    d < 0 ||
    d > 9 ||
    e < 0 ||
    e > 9 ||
    s.charCodeAt(19) !== 46 ||
    s.charCodeAt(23) !== 90
  ) {
    return -1;
  }
  return (a * 10 + b) * 1000 + c * 100 + d * 10 + e;
}

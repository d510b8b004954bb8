import type { BatchLimits } from './batch.js';
import { LogBuffer } from './buffer.js';
import { EventEncoder } from './encoder.js';
import { interpretJsonText } from './formats.js';
import { RateLimitedLog } from './rate-limit.js';
import { applyRules, type ProcessingRule } from './rules.js';
import { type TagsInput, tagString } from './tags.js';
import type { Logger, LogStatus, OutgoingPayload } from './types.js';
import { logRecord, noopLogger } from './types.js';

export interface LogPipelineOptions {
  /** `ddsource`: `DD_SOURCE`, or the cloud's default (`cloudrun` on Cloud Run). */
  source: string;
  /** `service` (`DD_SERVICE`, lower-cased). */
  service?: string;
  /** `hostname`. */
  hostname?: string;
  /** `ddtags` of every event: the merged Cloud Run tags the app builds. */
  tags?: TagsInput;
  rules?: readonly ProcessingRule[];
  maxBufferedEvents?: number;
  maxBufferedBytes?: number;
  logger?: Logger;
  now?: () => number;
}

export interface PipelineStats {
  received: number;
  buffered: number;
  excluded: number;
  truncated: number;
  dropped: number;
  flushed: number;
}

/**
 * Plain lines (a child's output, tailed files) → processing rules → Agent-shaped log events →
 * bounded buffer → `/api/v2/logs` payloads. Used by serverless-init.
 */
export class LogPipeline {
  private readonly rules: readonly ProcessingRule[];
  private readonly encoder: EventEncoder;
  private readonly buffer: LogBuffer;
  private readonly now: () => number;
  private readonly log: RateLimitedLog;
  private readonly counters = { received: 0, buffered: 0, excluded: 0, truncated: 0, flushed: 0 };

  constructor(options: LogPipelineOptions) {
    const logger = options.logger ?? noopLogger;
    this.now = options.now ?? Date.now;
    this.rules = options.rules ?? [];
    this.log = new RateLimitedLog(logger, 10_000, this.now);
    this.encoder = new EventEncoder({
      layout: 'flat',
      hostname: options.hostname ?? '',
      service: options.service ?? '',
      source: options.source,
      tags: tagString(options.tags),
    });
    this.buffer = new LogBuffer({
      maxBufferedEvents: options.maxBufferedEvents,
      maxBufferedBytes: options.maxBufferedBytes,
      logger,
      now: this.now,
    });
  }

  /**
   * One log line. `status` is the stream's (stderr → `error`); a JSON line's own `level`/`status`
   * field wins over it.
   */
  submit(line: string, status: LogStatus = 'info', timestamp: number = this.now()): void {
    this.counters.received++;
    const message = this.rules.length === 0 ? line : applyRules(this.rules, line);
    if (message === null) {
      this.counters.excluded++;
      return;
    }
    let st = status;
    if (message.charCodeAt(0) === 123 /* { */) {
      const json = interpretJsonText(message);
      if (json?.status) st = json.status;
    }
    const encoded = this.encoder.encode(logRecord(message, st, timestamp, null));
    if (encoded.truncated) {
      this.counters.truncated++;
      this.log.warn('truncated', `logs: an event over ${this.encoder.maxEventBytes} bytes was truncated`);
    }
    if (this.buffer.push(encoded)) this.counters.buffered++;
  }

  /** Everything buffered, as `/api/v2/logs` payloads. */
  flush(limits?: BatchLimits): OutgoingPayload[] {
    const payloads = this.buffer.drain(limits);
    for (const p of payloads) this.counters.flushed += p.items ?? 0;
    return payloads;
  }

  get pending(): number {
    return this.buffer.length;
  }

  stats(): PipelineStats {
    return { ...this.counters, dropped: this.buffer.dropped };
  }
}

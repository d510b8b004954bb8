import { type BatchLimits, buildBatches } from './batch.js';
import type { EncodedEvent } from './encoder.js';
import { RateLimitedLog } from './rate-limit.js';
import type { Logger, OutgoingPayload } from './types.js';

export interface BufferOptions {
  /** Most events held between flushes (default 200 000). */
  maxBufferedEvents?: number;
  /** Most bytes of serialised events held between flushes (default 64 MiB). */
  maxBufferedBytes?: number;
  logger?: Logger;
  now?: () => number;
}

export const DEFAULT_MAX_BUFFERED_EVENTS = 200_000;
export const DEFAULT_MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

/**
 * The bounded store between intake and flush: serialised events in arrival order. When full, new
 * events are dropped and counted (the count is logged, rate-limited, and readable in `dropped`).
 */
export class LogBuffer {
  readonly maxEvents: number;
  readonly maxBytes: number;
  private entries: string[] = [];
  private sizes: number[] = [];
  private heldBytes = 0;
  private droppedCount = 0;
  private readonly warn: RateLimitedLog | undefined;

  constructor(options: BufferOptions = {}) {
    this.maxEvents = options.maxBufferedEvents ?? DEFAULT_MAX_BUFFERED_EVENTS;
    this.maxBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.warn = options.logger ? new RateLimitedLog(options.logger, 10_000, options.now) : undefined;
  }

  /** Adds an event; `false` (and a counted drop) when the buffer is full. */
  push(event: EncodedEvent): boolean {
    if (this.entries.length >= this.maxEvents || this.heldBytes + event.bytes > this.maxBytes) {
      this.droppedCount++;
      this.warn?.warn(
        'buffer-full',
        `logs: buffer full (${this.entries.length} events, ${this.heldBytes} bytes); dropping logs until the next flush, ${this.droppedCount} dropped so far`,
      );
      return false;
    }
    this.entries.push(event.json);
    this.sizes.push(event.bytes);
    this.heldBytes += event.bytes;
    return true;
  }

  get length(): number {
    return this.entries.length;
  }

  get bytes(): number {
    return this.heldBytes;
  }

  /** Events dropped because the buffer was full, since creation. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Takes everything held, as `/api/v2/logs` payloads. */
  drain(limits?: BatchLimits): OutgoingPayload[] {
    if (this.entries.length === 0) return [];
    const entries = this.entries;
    const sizes = this.sizes;
    this.entries = [];
    this.sizes = [];
    this.heldBytes = 0;
    return buildBatches(entries, sizes, limits);
  }
}

import type { BatchLimits } from './batch.js';
import { LOGS_HEADERS } from './batch.js';
import type { EncodedEvent } from './encoder.js';
import { MAX_BATCH_BYTES, MAX_BATCH_EVENTS } from './limits.js';
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

// Events are written as UTF-8 into large off-heap chunks as they arrive: the JS string of each
// event dies young, and what waits for the flush costs the garbage collector nothing.
const CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * The bounded store between intake and flush: serialised events in arrival order. When full, new
 * events are dropped and counted (the count is logged, rate-limited, and readable in `dropped`).
 */
export class LogBuffer {
  readonly maxEvents: number;
  readonly maxBytes: number;
  private chunks: Buffer[] = [];
  private chunk: Buffer | undefined;
  private used = 0;
  private spare: Buffer | undefined;
  /** Per event: chunk index, start in the chunk, byte length. */
  private chunkOf: number[] = [];
  private startOf: number[] = [];
  private sizeOf: number[] = [];
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
    const { json } = event;
    const worst = event.bytes >= 0 ? event.bytes : json.length * 3;
    if (
      this.sizeOf.length >= this.maxEvents ||
      this.heldBytes + Math.min(worst, json.length) > this.maxBytes
    ) {
      return this.drop();
    }
    if (!this.chunk || this.chunk.length - this.used < worst + 1) this.newChunk(worst + 1);
    const chunk = this.chunk!;
    const n = chunk.write(json, this.used, 'utf8');
    if (this.heldBytes + n > this.maxBytes) return this.drop();
    this.chunkOf.push(this.chunks.length - 1);
    this.startOf.push(this.used);
    this.sizeOf.push(n);
    // Each event is followed by a comma, so a batch is one copy per chunk it spans.
    chunk[this.used + n] = 0x2c;
    this.used += n + 1;
    this.heldBytes += n;
    return true;
  }

  private drop(): false {
    this.droppedCount++;
    this.warn?.warn(
      'buffer-full',
      `logs: buffer full (${this.sizeOf.length} events, ${this.heldBytes} bytes); dropping logs until the next flush, ${this.droppedCount} dropped so far`,
    );
    return false;
  }

  private newChunk(atLeast: number): void {
    let c: Buffer;
    if (atLeast <= CHUNK_BYTES && this.spare) {
      c = this.spare;
      this.spare = undefined;
    } else {
      c = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, atLeast));
    }
    this.chunks.push(c);
    this.chunk = c;
    this.used = 0;
  }

  get length(): number {
    return this.sizeOf.length;
  }

  get bytes(): number {
    return this.heldBytes;
  }

  /** Events dropped because the buffer was full, since creation. */
  get dropped(): number {
    return this.droppedCount;
  }

  /**
   * Takes everything held, as `/api/v2/logs` payloads of at most `maxEvents` events and `maxBytes`
   * bytes each (brackets and commas included), in arrival order.
   */
  drain(limits: BatchLimits = {}): OutgoingPayload[] {
    const count = this.sizeOf.length;
    if (count === 0) return [];
    const maxEvents = limits.maxEvents ?? MAX_BATCH_EVENTS;
    const maxBytes = limits.maxBytes ?? MAX_BATCH_BYTES;
    const chunks = this.chunks;
    const chunkOf = this.chunkOf;
    const startOf = this.startOf;
    const sizeOf = this.sizeOf;
    const out: OutgoingPayload[] = [];
    let first = 0;
    let bytes = 2;
    for (let i = 0; i < count; i++) {
      const add = sizeOf[i]! + (i > first ? 1 : 0);
      if (i > first && (i - first >= maxEvents || bytes + add > maxBytes)) {
        out.push(
          bytesPayload(assemble(chunks, chunkOf, startOf, sizeOf, first, i, bytes), sizeOf.slice(first, i)),
        );
        first = i;
        bytes = 2 + sizeOf[i]!;
      } else {
        bytes += add;
      }
    }
    out.push(
      bytesPayload(assemble(chunks, chunkOf, startOf, sizeOf, first, count, bytes), sizeOf.slice(first)),
    );
    // Bodies are copies: keep one standard chunk for the next round, let the rest go.
    this.spare = chunks.find((c) => c.length === CHUNK_BYTES);
    this.chunks = [];
    this.chunk = undefined;
    this.used = 0;
    this.chunkOf = [];
    this.startOf = [];
    this.sizeOf = [];
    this.heldBytes = 0;
    return out;
  }
}

function assemble(
  chunks: Buffer[],
  chunkOf: number[],
  startOf: number[],
  sizeOf: number[],
  from: number,
  to: number,
  total: number,
): Buffer {
  const body = Buffer.allocUnsafe(total);
  body[0] = 0x5b; // [
  let at = 1;
  let i = from;
  while (i < to) {
    const c = chunkOf[i]!;
    let j = i;
    while (j + 1 < to && chunkOf[j + 1] === c) j++;
    if (i > from) body[at++] = 0x2c; // ,
    at += chunks[c]!.copy(body, at, startOf[i]!, startOf[j]! + sizeOf[j]!);
    i = j + 1;
  }
  body[at] = 0x5d; // ]
  return body;
}

/** A payload over an assembled body; `sizes` are its events' byte lengths, so it can split for a 413. */
export function bytesPayload(body: Buffer, sizes: number[]): OutgoingPayload {
  return {
    kind: 'logs',
    body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
    contentType: 'application/json',
    headers: { ...LOGS_HEADERS },
    items: sizes.length,
    split: () => {
      if (sizes.length < 2) return undefined;
      const mid = sizes.length >>> 1;
      let cut = 1;
      for (let i = 0; i < mid; i++) cut += sizes[i]! + 1; // through the comma after event mid-1
      const left = Buffer.allocUnsafe(cut);
      body.copy(left, 0, 0, cut - 1);
      left[cut - 1] = 0x5d;
      const right = Buffer.allocUnsafe(body.length - cut + 1);
      right[0] = 0x5b;
      body.copy(right, 1, cut);
      return [bytesPayload(left, sizes.slice(0, mid)), bytesPayload(right, sizes.slice(mid))];
    },
  };
}

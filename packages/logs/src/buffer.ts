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
const GROUP_EVENTS = 64;
const GROUP_CHARS = 256 * 1024;

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

  private pending: string[] = [];
  private pendingChars = 0;

  /** Adds an event; `false` (and a counted drop) when the buffer is full. */
  push(event: EncodedEvent): boolean {
    const { json } = event;
    const length = event.parts ? (event.length ?? 0) : json.length;
    // A string of n UTF-16 units is at least n UTF-8 bytes: the exact count comes at commit.
    if (
      this.sizeOf.length + this.pending.length >= this.maxEvents ||
      this.heldBytes + this.pendingChars + length > this.maxBytes
    ) {
      return this.drop();
    }
    if (event.parts) return this.writeParts(event.parts, event.bytes >= 0 ? event.bytes : length * 3);
    this.pending.push(json);
    this.pendingChars += json.length;
    if (this.pending.length >= GROUP_EVENTS || this.pendingChars >= GROUP_CHARS) this.commit();
    return true;
  }

  /** A large event: its pieces are written straight into the chunk, never joined into one string. */
  private writeParts(parts: readonly string[], worst: number): boolean {
    this.commit();
    if (!this.chunk || this.chunk.length - this.used < worst + 1) this.newChunk(worst + 1);
    const chunk = this.chunk!;
    let n = 0;
    for (const p of parts) n += chunk.write(p, this.used + n, 'utf8');
    if (this.heldBytes + n > this.maxBytes) return this.drop();
    this.chunkOf.push(this.chunks.length - 1);
    this.startOf.push(this.used);
    this.sizeOf.push(n);
    chunk[this.used + n] = 0x2c;
    this.used += n + 1;
    this.heldBytes += n;
    return true;
  }

  /**
   * Writes the pending events into the chunk with one UTF-8 write (one native call per group, not
   * per event); every event is followed by a comma, so a batch later is one copy per chunk.
   */
  private commit(): void {
    const pending = this.pending;
    const count = pending.length;
    if (count === 0) return;
    this.pending = [];
    this.pendingChars = 0;
    const text = count === 1 ? pending[0]! : pending.join(',');
    const worst = text.length * 3 + 1;
    if (!this.chunk || this.chunk.length - this.used < worst) this.newChunk(worst);
    const chunk = this.chunk!;
    const n = chunk.write(text, this.used, 'utf8');
    chunk[this.used + n] = 0x2c;
    const ascii = n === text.length;
    const chunkIndex = this.chunks.length - 1;
    let at = this.used;
    for (let i = 0; i < count; i++) {
      const size = ascii ? pending[i]!.length : Buffer.byteLength(pending[i]!);
      if (this.heldBytes + size > this.maxBytes) {
        // Multi-byte text made the group bigger than its estimate: what does not fit is dropped.
        for (let k = i; k < count; k++) this.drop();
        break;
      }
      this.chunkOf.push(chunkIndex);
      this.startOf.push(at);
      this.sizeOf.push(size);
      this.heldBytes += size;
      at += size + 1;
    }
    this.used = at;
  }

  private drop(): false {
    this.droppedCount++;
    this.warn?.warn(
      'buffer-full',
      `logs: buffer full (${this.length} events, ${this.bytes} bytes); dropping logs until the next flush, ${this.droppedCount} dropped so far`,
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
    return this.sizeOf.length + this.pending.length;
  }

  /** Bytes held (events still waiting for their group write are counted as one byte a character). */
  get bytes(): number {
    return this.heldBytes + this.pendingChars;
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
    this.commit();
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

import type { BatchLimits } from './batch.js';
import { LOGS_HEADERS } from './batch.js';
import type { EncodedEvent } from './encoder.js';
import { MAX_BATCH_BYTES, MAX_BATCH_EVENTS } from './limits.js';
import { RateLimitedLog } from './rate-limit.js';
import type { BatchCodec, Logger, OutgoingPayload } from './types.js';

export interface BufferOptions {
  /** Most events held between flushes (default 200 000). */
  maxBufferedEvents?: number;
  /** Most bytes of serialised events held between flushes (default 64 MiB). */
  maxBufferedBytes?: number;
  /**
   * Compresses each batch when it is cut (see `BatchCodec`): what waits for the flush is its
   * compressed bytes, and the body it was written in is written again by the next batch.
   */
  codec?: BatchCodec;
  logger?: Logger;
  now?: () => number;
}

export const DEFAULT_MAX_BUFFERED_EVENTS = 200_000;
export const DEFAULT_MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

// Events are written as UTF-8 straight into the body of the batch they will ship in (`[e1,e2,…`),
// cut by the intake's limits as they arrive: the JS string of each event dies young, what waits for
// the flush is off-heap, and the flush hands the bodies out as they are, without copying them.
const FIRST_BODY_BYTES = 256 * 1024;
/**
 * Where a batch is cut when it is compressed at the cut (besides the intake's 1000 events): the size
 * a forwarder compresses on its event loop in one go (its `DEFAULT_SYNC_MAX_BYTES`), so that one cut,
 * which runs while telemetry is ingested, holds the loop about as long as one of its compressions.
 */
export const PACKED_BATCH_BYTES = 1024 * 1024;
const GROUP_EVENTS = 64;
const GROUP_CHARS = 256 * 1024;

/** One batch's body as written so far: `[`, its events, the commas between them (no `]` yet). */
interface Body {
  buf: Buffer;
  /** Bytes written. */
  used: number;
  /** Each event's UTF-8 size. */
  sizes: number[];
}

/** A batch compressed when it was cut: its body's bytes, closed by `]`, through the codec. */
interface Packed {
  packed: Uint8Array;
  sizes: number[];
}

/**
 * The bounded store between intake and flush: serialised events in arrival order, already in the
 * batches they will ship in. When full, new events are dropped and counted (the count is logged,
 * rate-limited, and readable in `dropped`).
 */
export class LogBuffer {
  readonly maxEvents: number;
  readonly maxBytes: number;
  /** Full batches, oldest first; then the one being filled. */
  private full: (Body | Packed)[] = [];
  private open: Body | undefined;
  /**
   * A body's buffer no batch holds any more (it was compressed, or copied out of), for the next
   * body: its pages are resident already. One at most; a payload never holds it.
   */
  private spare: Buffer | undefined;
  private readonly codec: BatchCodec | undefined;
  /** A batch's most bytes, brackets and commas included. */
  private readonly cutBytes: number;
  /** A body's largest buffer: a batch's most bytes, and room for a group being written when it fills. */
  private readonly maxBodyBytes: number;
  private packedBytes = 0;
  /** The size a new body starts at: what the last full batch needed, and some. */
  private capacity = FIRST_BODY_BYTES;
  private count = 0;
  private heldBytes = 0;
  private droppedCount = 0;
  private readonly warn: RateLimitedLog | undefined;
  private pending: string[] = [];
  private pendingChars = 0;

  constructor(options: BufferOptions = {}) {
    this.maxEvents = options.maxBufferedEvents ?? DEFAULT_MAX_BUFFERED_EVENTS;
    this.maxBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.warn = options.logger ? new RateLimitedLog(options.logger, 10_000, options.now) : undefined;
    this.codec = options.codec;
    this.cutBytes = this.codec ? PACKED_BATCH_BYTES : MAX_BATCH_BYTES;
    this.maxBodyBytes = this.cutBytes + (this.cutBytes >>> 3);
  }

  /** Adds an event; `false` (and a counted drop) when the buffer is full. */
  push(event: EncodedEvent): boolean {
    const { json } = event;
    const length = event.parts ? (event.length ?? 0) : json.length;
    // A string of n UTF-16 units is at least n UTF-8 bytes: the exact count comes at commit.
    if (
      this.count + this.pending.length >= this.maxEvents ||
      this.heldBytes + this.pendingChars + length > this.maxBytes
    ) {
      return this.drop();
    }
    if (event.parts) return this.writeParts(event.parts, event.bytes >= 0 ? event.bytes : length * 3);
    const pending = this.pending;
    pending.push(json);
    this.pendingChars += json.length;
    if (
      pending.length >= GROUP_EVENTS ||
      this.pendingChars >= GROUP_CHARS ||
      // A group that ends where the batch fills needs no move into the next batch.
      (this.open !== undefined && this.open.sizes.length + pending.length === MAX_BATCH_EVENTS)
    ) {
      this.commit();
    }
    return true;
  }

  /** A large event: its pieces are written straight into the body, never joined into one string. */
  private writeParts(parts: readonly string[], worst: number): boolean {
    this.commit();
    const body = this.bodyFor(worst + 2);
    const at = this.eventStart(body);
    this.reserve(body, at, at + worst + 1);
    const buf = body.buf;
    let n = 0;
    for (const p of parts) n += buf.write(p, at + n, 'utf8');
    return this.place(body, at, at + n, [n]) === 1;
  }

  /**
   * Writes the pending events into the open body with one UTF-8 write (one native call per group,
   * not per event), separated by commas as the body has them.
   */
  private commit(): void {
    const pending = this.pending;
    const count = pending.length;
    if (count === 0) return;
    this.pending = [];
    this.pendingChars = 0;
    const text = count === 1 ? pending[0]! : pending.join(',');
    const body = this.bodyFor(text.length * 3 + 2);
    const at = this.eventStart(body);
    const n = this.writeText(body, at, text);
    const ascii = n === text.length;
    const sizes: number[] = new Array(count);
    for (let i = 0; i < count; i++) sizes[i] = ascii ? pending[i]!.length : Buffer.byteLength(pending[i]!);
    this.place(body, at, at + n, sizes);
  }

  /** The body the next events go into: the open one, unless it has its 1000 events. */
  private bodyFor(atLeast: number): Body {
    const open = this.open;
    if (open === undefined) return this.newBody(atLeast);
    return open.sizes.length >= MAX_BATCH_EVENTS ? this.nextBody(atLeast) : open;
  }

  /** Where the body's next event starts: after its `[`, or after a comma following its last event. */
  private eventStart(body: Body): number {
    if (body.sizes.length === 0) return body.used;
    body.buf[body.used] = 0x2c; // ,
    return body.used + 1;
  }

  /** Writes `text` at `at`, growing the body if it may not fit; the UTF-8 bytes written. */
  private writeText(body: Body, at: number, text: string): number {
    const length = text.length;
    const free = body.buf.length - at - 1; // a byte stays free for the closing bracket
    if (free >= length + 4) {
      const n = body.buf.write(text, at, 'utf8');
      // A write stops short only where the next character's bytes (4 at most) do not fit.
      if (free >= length * 3 || n + 4 <= free) return n;
    }
    this.reserve(body, at, at + length * 3 + 1);
    return body.buf.write(text, at, 'utf8');
  }

  /** Makes the body at least `size` bytes long, keeping its first `keep` bytes. */
  private reserve(body: Body, keep: number, size: number): void {
    if (body.buf.length >= size) return;
    const grown = Buffer.allocUnsafe(Math.max(size, Math.min(body.buf.length * 2, this.maxBodyBytes)));
    body.buf.copy(grown, 0, 0, keep);
    body.buf = grown;
  }

  /**
   * Takes the events just written at `[start, end)` (sizes `sizes`, one comma between each) into
   * batches: an event that would take its batch past 1000 events or 5 MiB starts the next one (it
   * and the rest of the group are moved there), and what the buffer's own bound has no room for
   * is dropped. Returns how many were kept.
   */
  private place(first: Body, start: number, end: number, sizes: readonly number[]): number {
    let body = first;
    let at = start;
    let stop = end;
    for (let i = 0; i < sizes.length; i++) {
      const size = sizes[i]!;
      if (this.heldBytes + size > this.maxBytes) {
        // Multi-byte text made the group bigger than its estimate: what does not fit is dropped.
        for (let k = i; k < sizes.length; k++) this.drop();
        return i;
      }
      const n = body.sizes.length;
      // With the closing bracket, the body would be used + 1 + size + 1 bytes.
      if (n > 0 && (n >= MAX_BATCH_EVENTS || body.used + size + 2 > this.cutBytes)) {
        const next = this.nextBody(stop - at + 2);
        body.buf.copy(next.buf, 1, at, stop);
        stop = 1 + stop - at;
        at = 1;
        body = next;
      }
      body.sizes.push(size);
      body.used = at + size;
      this.count++;
      this.heldBytes += size;
      at += size + 1;
    }
    return sizes.length;
  }

  /** The open body is full: it joins the full ones (compressed, with a codec), and a new one opens. */
  private nextBody(atLeast: number): Body {
    const done = this.open!;
    this.open = undefined;
    this.full.push(this.pack(done));
    this.capacity = Math.min(Math.max(done.used + (done.used >>> 3), FIRST_BODY_BYTES), this.maxBodyBytes);
    return this.newBody(atLeast);
  }

  /**
   * The body's bytes through the codec, into a buffer of their exact size; the body's own buffer
   * becomes the spare, which the next body writes over. Without a codec (or when it cannot right
   * now) the body stays as it is.
   */
  private pack(body: Body): Body | Packed {
    const codec = this.codec;
    if (codec === undefined) return body;
    body.buf[body.used] = 0x5d; // ]
    const out = codec.compress(body.buf.subarray(0, body.used + 1));
    if (out === undefined) return body;
    // A codec's output may be a view of a larger chunk, or of its input (which is written over
    // next): only its bytes are kept, in memory of their own.
    const own =
      out.buffer !== body.buf.buffer && out.byteOffset === 0 && out.buffer.byteLength === out.byteLength;
    const packed = own ? out : new Uint8Array(out);
    this.packedBytes += packed.byteLength;
    this.recycle(body.buf);
    return { packed, sizes: body.sizes };
  }

  /** Keeps the larger of the spare and `buf`, which nothing refers to any more. */
  private recycle(buf: Buffer): void {
    if (this.spare === undefined || this.spare.length < buf.length) this.spare = buf;
  }

  private newBody(atLeast: number): Body {
    const size = Math.max(this.capacity, atLeast);
    let buf: Buffer;
    if (this.spare !== undefined && this.spare.length >= size) {
      buf = this.spare;
      this.spare = undefined;
    } else {
      buf = Buffer.allocUnsafe(size);
    }
    buf[0] = 0x5b; // [
    const body: Body = { buf, used: 1, sizes: [] };
    this.open = body;
    return body;
  }

  private drop(): false {
    this.droppedCount++;
    this.warn?.warn(
      'buffer-full',
      `logs: buffer full (${this.length} events, ${this.bytes} bytes); dropping logs until the next flush, ${this.droppedCount} dropped so far`,
    );
    return false;
  }

  get length(): number {
    return this.count + this.pending.length;
  }

  /** Bytes held (events still waiting for their group write are counted as one byte a character). */
  get bytes(): number {
    return this.heldBytes + this.pendingChars;
  }

  /** Bytes of the batches compressed at their cut, held until the flush. */
  get compressedBytes(): number {
    return this.packedBytes;
  }

  /** Events dropped since creation: the buffer was full, or a compressed batch could not be cut again. */
  get dropped(): number {
    return this.droppedCount;
  }

  /**
   * Takes everything held, as `/api/v2/logs` payloads of at most `maxEvents` events and `maxBytes`
   * bytes each (brackets and commas included), in arrival order.
   */
  drain(limits: BatchLimits = {}): OutgoingPayload[] {
    this.commit();
    const open = this.open;
    this.open = undefined;
    const maxEvents = limits.maxEvents ?? MAX_BATCH_EVENTS;
    const maxBytes = limits.maxBytes ?? this.cutBytes;
    const recutting = maxEvents !== MAX_BATCH_EVENTS || maxBytes !== this.cutBytes;
    const batches = this.full;
    if (open !== undefined && open.sizes.length > 0) batches.push(recutting ? open : this.pack(open));
    else if (open !== undefined) this.recycle(open.buf);
    this.full = [];
    this.count = 0;
    this.heldBytes = 0;
    this.packedBytes = 0;
    if (batches.length === 0) return [];
    // The bodies were cut by the intake's limits: other limits cut them again, by copying.
    if (recutting) return recut(this.unpackAll(batches), maxEvents, maxBytes);
    return batches.map((b) =>
      'packed' in b ? packedPayload(b, this.codec!) : bytesPayload(this.handOut(b), b.sizes),
    );
  }

  /**
   * The batches' bodies as written (for cutting them again): a compressed one is decompressed; one
   * that cannot be is dropped, its events counted and warned of, and the others still go.
   */
  private unpackAll(batches: readonly (Body | Packed)[]): Body[] {
    const bodies: Body[] = [];
    for (const b of batches) {
      if (!('packed' in b)) {
        bodies.push(b);
        continue;
      }
      try {
        const buf = asBuffer(this.codec!.decompress(b.packed));
        bodies.push({ buf, used: buf.length - 1, sizes: b.sizes });
      } catch (err) {
        this.droppedCount += b.sizes.length;
        this.warn?.warn(
          'unpack-failed',
          `logs: a compressed batch could not be decompressed to cut it again (${(err as Error).message}); dropping its ${b.sizes.length} events, ${this.droppedCount} dropped so far`,
        );
      }
    }
    return bodies;
  }

  /**
   * The body's bytes, closed by its bracket: the buffer itself, unless most of it is unused (a
   * batch the flush cut short), which is copied out rather than held for as long as it is sent.
   */
  private handOut(body: Body): Buffer {
    const length = body.used + 1;
    body.buf[body.used] = 0x5d; // ]
    if (body.buf.length - length <= length >>> 2) return body.buf.subarray(0, length);
    const copy = Buffer.allocUnsafe(length);
    body.buf.copy(copy, 0, 0, length);
    this.recycle(body.buf);
    return copy;
  }
}

/** Bodies cut again by other limits than the intake's (the greedy cut in arrival order). */
function recut(bodies: readonly Body[], maxEvents: number, maxBytes: number): OutgoingPayload[] {
  const out: OutgoingPayload[] = [];
  // The batch being formed: its events' sizes, and the byte ranges (source, from, to) holding them.
  let sizes: number[] = [];
  let ranges: [Buffer, number, number][] = [];
  let bytes = 2;
  const emit = (): void => {
    const body = Buffer.allocUnsafe(bytes);
    body[0] = 0x5b; // [
    let at = 1;
    for (const [buf, from, to] of ranges) {
      if (at > 1) body[at++] = 0x2c; // ,
      at += buf.copy(body, at, from, to);
    }
    body[at] = 0x5d; // ]
    out.push(bytesPayload(body, sizes));
    sizes = [];
    ranges = [];
    bytes = 2;
  };
  for (const b of bodies) {
    let at = 1;
    for (const size of b.sizes) {
      if (sizes.length > 0 && (sizes.length >= maxEvents || bytes + size + 1 > maxBytes)) emit();
      const last = ranges[ranges.length - 1];
      // Events next to each other in one body are copied as one range (the comma comes along).
      if (last !== undefined && last[0] === b.buf && last[2] === at - 1) last[2] = at + size;
      else ranges.push([b.buf, at, at + size]);
      bytes += (sizes.length > 0 ? 1 : 0) + size;
      sizes.push(size);
      at += size + 1;
    }
  }
  if (sizes.length > 0) emit();
  return out;
}

/**
 * A payload over a batch compressed at its cut: sent as it is (its headers say how it is encoded);
 * a 413 splits the decompressed body, whose halves the forwarder compresses as it does any body.
 */
function packedPayload(b: Packed, codec: BatchCodec): OutgoingPayload {
  const { packed, sizes } = b;
  return {
    kind: 'logs',
    body: packed,
    contentType: 'application/json',
    headers: { ...LOGS_HEADERS, 'Content-Encoding': codec.encoding },
    items: sizes.length,
    split: () => {
      if (sizes.length < 2) return undefined;
      return bytesPayload(asBuffer(codec.decompress(packed)), sizes).split?.();
    },
  };
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
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

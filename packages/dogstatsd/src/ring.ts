/**
 * A bounded single-producer, single-consumer queue of datagrams in one SharedArrayBuffer: the
 * socket's thread writes each datagram (with the time it arrived), the parser's worker reads it.
 * No message and no system call per datagram: the writer publishes its position with an atomic
 * store and wakes the reader only when the reader said it sleeps.
 *
 * Layout: a control block of int32s, then `capacity` bytes of records, each
 * `[length int32][unused int32][arrival ms float64][bytes, padded to 8]`; a length of -1 says the
 * rest of the buffer is skipped and the next record starts at 0.
 */
const HEAD = 0;
const TAIL = 1;
const SLEEPING = 2;
const CONTROL_BYTES = 64;
const HEADER = 16;
const WRAP = -1;

/** `Atomics.waitAsync` (Node 16+; in TypeScript's lib from ES2024). */
interface AtomicsWaitAsync {
  waitAsync(
    a: Int32Array,
    index: number,
    value: number,
  ): { async: boolean; value: Promise<unknown> | string };
}

export const DEFAULT_RING_BYTES = 8 * 1024 * 1024;

const padded = (length: number): number => HEADER + ((length + 7) & ~7);

export interface RingBuffers {
  sab: SharedArrayBuffer;
  capacity: number;
}

export function createRing(capacity = DEFAULT_RING_BYTES): RingBuffers {
  const bytes = Math.max(1024, capacity & ~7);
  return { sab: new SharedArrayBuffer(CONTROL_BYTES + bytes), capacity: bytes };
}

class RingView {
  protected readonly control: Int32Array;
  protected readonly i32: Int32Array;
  protected readonly f64: Float64Array;
  protected readonly bytes: Buffer;
  protected readonly capacity: number;

  constructor({ sab, capacity }: RingBuffers) {
    this.capacity = capacity;
    this.control = new Int32Array(sab, 0, CONTROL_BYTES / 4);
    this.i32 = new Int32Array(sab, CONTROL_BYTES, capacity / 4);
    this.f64 = new Float64Array(sab, CONTROL_BYTES, capacity / 8);
    this.bytes = Buffer.from(sab, CONTROL_BYTES, capacity);
  }

  /** Bytes written and not yet read. */
  pending(): number {
    const head = Atomics.load(this.control, HEAD);
    const tail = Atomics.load(this.control, TAIL);
    return head >= tail ? head - tail : this.capacity - tail + head;
  }
}

/** The socket's side. */
export class RingWriter extends RingView {
  private head: number;

  constructor(ring: RingBuffers) {
    super(ring);
    this.head = Atomics.load(this.control, HEAD);
  }

  /** Queues `buf[0, length)` received at `arrivedMs`; false when the ring is full (the caller counts the drop). */
  push(buf: Uint8Array, length: number, arrivedMs: number): boolean {
    const need = padded(length);
    const cap = this.capacity;
    let head = this.head;
    const tail = Atomics.load(this.control, TAIL);
    // One record's worth is always left free, so a full ring never looks empty (head === tail).
    const free = (head >= tail ? cap - head + tail : tail - head) - HEADER;
    const room = cap - head;
    if (room < need) {
      if (room + need > free) return false;
      this.i32[head >> 2] = WRAP;
      head = 0;
    } else if (need > free) {
      return false;
    }
    this.i32[head >> 2] = length;
    this.f64[(head >> 3) + 1] = arrivedMs;
    this.bytes.set(length === buf.length ? buf : buf.subarray(0, length), head + HEADER);
    head += need;
    if (head === cap) head = 0;
    this.head = head;
    Atomics.store(this.control, HEAD, head);
    if (
      Atomics.load(this.control, SLEEPING) === 1 &&
      Atomics.compareExchange(this.control, SLEEPING, 1, 0) === 1
    ) {
      Atomics.notify(this.control, HEAD);
    }
    return true;
  }
}

/** The parser's side. */
export class RingReader extends RingView {
  private tail: number;
  /** Arrival time of the record `next()` returned last. */
  arrivedMs = 0;

  constructor(ring: RingBuffers) {
    super(ring);
    this.tail = Atomics.load(this.control, TAIL);
  }

  /**
   * Copies the next datagram into `into` and returns its length, or -1 when the ring is empty (or
   * the reading reached `stopAt`, a `mark()`).
   * Its space is given back at `release()`, so a burst is read without an atomic store each.
   */
  next(into: Buffer, stopAt?: number): number {
    let tail = this.tail;
    if (tail === (stopAt ?? Atomics.load(this.control, HEAD))) return -1;
    let length = this.i32[tail >> 2]!;
    if (length === WRAP) {
      tail = 0;
      length = this.i32[0]!;
    }
    this.arrivedMs = this.f64[(tail >> 3) + 1]!;
    const start = tail + HEADER;
    this.bytes.copy(into, 0, start, start + Math.min(length, into.length));
    tail += padded(length);
    if (tail === this.capacity) tail = 0;
    this.tail = tail;
    return length;
  }

  /**
   * Where the writer is now: given to `next` as `stopAt`, it ends the reading at the records
   * queued up to this moment, however fast more arrive.
   */
  mark(): number {
    return Atomics.load(this.control, HEAD);
  }

  /** Gives the space of the records read so far back to the writer. */
  release(): void {
    Atomics.store(this.control, TAIL, this.tail);
  }

  /**
   * Says the reader is about to sleep and returns the position to wait on, or undefined when a
   * record arrived meanwhile (read it rather than sleep).
   */
  prepareSleep(): number | undefined {
    this.release();
    Atomics.store(this.control, SLEEPING, 1);
    const head = Atomics.load(this.control, HEAD);
    if (head !== this.tail) {
      Atomics.store(this.control, SLEEPING, 0);
      return undefined;
    }
    return head;
  }

  /** Waits (without blocking the thread's event loop) until the writer moves past `head`. */
  waitAsync(head: number): Promise<unknown> | undefined {
    const r = (Atomics as unknown as AtomicsWaitAsync).waitAsync(this.control, HEAD, head);
    return r.async ? (r.value as Promise<unknown>) : undefined;
  }

  /** Blocks up to `ms` for a record, without asking the writer for a wake-up. */
  waitBriefly(ms: number): void {
    Atomics.wait(this.control, HEAD, this.tail, ms);
  }

  awake(): void {
    Atomics.store(this.control, SLEEPING, 0);
  }
}

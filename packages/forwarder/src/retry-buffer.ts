/** What the retry buffer needs of a request: its size, what it carries, and when it was first tried. */
export interface Bufferable {
  body: Uint8Array;
  items: number;
  /** Monotonic ms of the first attempt: the buffer keeps requests in this order. */
  firstTriedAt: number;
}

export interface RetryBufferStats {
  /** Requests waiting. */
  requests: number;
  /** Bytes waiting (compressed bodies). */
  bytes: number;
  /** Requests dropped because the buffer was full (oldest first), since start. */
  droppedRequests: number;
  droppedItems: number;
  droppedBytes: number;
}

/**
 * Requests kept for the next flush, oldest first, bounded in bytes. When a request does not fit, the oldest
 * are dropped (and counted) until it does; a request larger than the whole bound is dropped at once.
 */
export class RetryBuffer<T extends Bufferable> {
  readonly #maxBytes: number;
  #queue: T[] = [];
  #bytes = 0;
  #droppedRequests = 0;
  #droppedItems = 0;
  #droppedBytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = Math.max(0, maxBytes);
  }

  get maxBytes(): number {
    return this.#maxBytes;
  }

  /** Adds a request in age order; returns the requests dropped to make room (possibly this one). */
  push(request: T): T[] {
    const size = request.body.byteLength;
    if (size > this.#maxBytes) {
      this.#countDrop(request);
      return [request];
    }
    let at = this.#queue.length;
    while (at > 0 && this.#queue[at - 1]!.firstTriedAt > request.firstTriedAt) at--;
    this.#queue.splice(at, 0, request);
    this.#bytes += size;
    const dropped: T[] = [];
    while (this.#bytes > this.#maxBytes) {
      const oldest = this.#queue.shift()!;
      this.#bytes -= oldest.body.byteLength;
      this.#countDrop(oldest);
      dropped.push(oldest);
    }
    return dropped;
  }

  /** Removes and returns everything waiting, oldest first. */
  takeAll(): T[] {
    const all = this.#queue;
    this.#queue = [];
    this.#bytes = 0;
    return all;
  }

  get size(): number {
    return this.#queue.length;
  }

  get bytes(): number {
    return this.#bytes;
  }

  stats(): RetryBufferStats {
    return {
      requests: this.#queue.length,
      bytes: this.#bytes,
      droppedRequests: this.#droppedRequests,
      droppedItems: this.#droppedItems,
      droppedBytes: this.#droppedBytes,
    };
  }

  #countDrop(r: T): void {
    this.#droppedRequests++;
    this.#droppedItems += r.items;
    this.#droppedBytes += r.body.byteLength;
  }
}

// Where the agent keeps encoded chunks between flushes: slabs carved chunk by chunk and carved again
// once a flush has copied every chunk into its AgentPayloads. A tracer's requests then cost no new
// memory outside the JS heap for their chunks, and such memory, allocated at every request, is what
// starts most of V8's full collections under load. Small requests share slabs instead of each
// pinning a slice of Node's shared 8 KiB pool.

/** Slab size: a chunk is a few KiB, and a slab's unused tail is less than one chunk. */
const SLAB = 128 * 1024;
/** Chunks larger than this get a buffer of their own, so that no slab's tail is large. */
const OWN = SLAB / 4;

export class ChunkArena {
  private readonly slabs: Buffer[] = [];
  /** Slab being carved (index in `slabs`) and the position in it. */
  private current = 0;
  private pos = 0;

  /** `keepSlabs`: slabs kept for the next requests after a flush; those beyond are let go. */
  constructor(private readonly keepSlabs = 64) {}

  /** `n` bytes valid until the next `reset`. */
  take(n: number): Buffer {
    if (n > OWN) return Buffer.allocUnsafeSlow(n);
    if (this.current < this.slabs.length && this.pos + n > SLAB) {
      this.current++;
      this.pos = 0;
    }
    if (this.current === this.slabs.length) this.slabs.push(Buffer.allocUnsafeSlow(SLAB));
    const at = this.pos;
    this.pos += n;
    return this.slabs[this.current]!.subarray(at, at + n);
  }

  /** Every chunk taken so far is no longer read: their bytes will be overwritten. */
  reset(): void {
    if (this.slabs.length > this.keepSlabs) this.slabs.length = this.keepSlabs;
    this.current = 0;
    this.pos = 0;
  }

  /** Bytes of the slabs held. */
  get bytes(): number {
    return this.slabs.length * SLAB;
  }
}

// Where the agent keeps encoded chunks between flushes: slabs carved chunk by chunk and carved again
// once a flush has copied every chunk into its AgentPayloads. A tracer's requests then cost no new
// memory outside the JS heap for their chunks, and such memory, allocated at every request, adds
// to what V8 must collect under load. Small requests share slabs instead of each pinning a slice of
// Node's shared 8 KiB pool.

/** Slab size: a chunk is a few KiB. */
const SLAB = 128 * 1024;
/** Chunks larger than this get a buffer of their own, so that no slab's tail is large. */
const OWN = SLAB / 4;
/** Slabs whose tails later chunks may still fill: a chunk that does not fit moves on to a new slab. */
const OPEN = 4;

export class ChunkArena {
  private readonly slabs: Buffer[] = [];
  /** Slabs being carved (indexes in `slabs`) and the position in each, the newest last. */
  private readonly open: number[] = [];
  private readonly used: number[] = [];

  /** `keepSlabs`: slabs kept for the next requests after a flush; those beyond are let go. */
  constructor(private readonly keepSlabs = 64) {}

  /** `n` bytes valid until the next `reset`. */
  take(n: number): Buffer {
    if (n > OWN) return Buffer.allocUnsafeSlow(n);
    let i = 0;
    while (i < this.open.length && this.used[i]! + n > SLAB) i++;
    if (i === this.open.length) {
      if (this.open.length === OPEN) {
        this.open.shift();
        this.used.shift();
        i--;
      }
      const next = this.open.length === 0 ? 0 : this.open[this.open.length - 1]! + 1;
      if (next === this.slabs.length) this.slabs.push(Buffer.allocUnsafeSlow(SLAB));
      this.open.push(next);
      this.used.push(0);
    }
    const at = this.used[i]!;
    this.used[i] = at + n;
    return this.slabs[this.open[i]!]!.subarray(at, at + n);
  }

  /** Every chunk taken so far is no longer read: their bytes will be overwritten. */
  reset(): void {
    if (this.slabs.length > this.keepSlabs) this.slabs.length = this.keepSlabs;
    this.open.length = 0;
    this.used.length = 0;
  }

  /** Bytes of the slabs held. */
  get bytes(): number {
    return this.slabs.length * SLAB;
  }
}

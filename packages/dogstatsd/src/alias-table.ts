/**
 * Open-addressing hash table from a line's raw-bytes fingerprint (the parser's two hashes and the
 * length) to a small non-negative integer (what the aggregator resolved the bytes to). A slot's
 * three key fields and its value sit side by side in one Int32Array, so a lookup reads one cache
 * line and no object: on a socket, the kernel's work between datagrams keeps evicting the
 * aggregator's data, and every line the hot path touches is a likely miss.
 */
export class AliasTable {
  private mask: number;
  /** Per slot: hash, second hash, length, value + 1 (0 when empty). */
  private slots: Int32Array;
  size = 0;

  constructor(capacity = 1024) {
    let n = 16;
    while (n < capacity * 2) n *= 2;
    this.mask = n - 1;
    this.slots = new Int32Array(n * 4);
  }

  /** The value, or -1 when the fingerprint is not in the table. */
  get(hash: number, hash2: number, length: number): number {
    const mask = this.mask;
    const slots = this.slots;
    let i = (hash ^ (hash >>> 13)) & mask;
    for (;;) {
      const j = i << 2;
      const v = slots[j + 3]!;
      if (v === 0) return -1;
      if (slots[j] === hash && slots[j + 1] === hash2 && slots[j + 2] === length) return v - 1;
      i = (i + 1) & mask;
    }
  }

  /** Adds a fingerprint that `get` did not find; `value` ≥ 0 and < 2^31 − 1. */
  set(hash: number, hash2: number, length: number, value: number): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    this.place(hash, hash2, length, value + 1);
    this.size++;
  }

  private place(hash: number, hash2: number, length: number, stored: number): void {
    const mask = this.mask;
    const slots = this.slots;
    let i = (hash ^ (hash >>> 13)) & mask;
    while (slots[(i << 2) + 3] !== 0) i = (i + 1) & mask;
    const j = i << 2;
    slots[j] = hash;
    slots[j + 1] = hash2;
    slots[j + 2] = length;
    slots[j + 3] = stored;
  }

  private grow(): void {
    const old = this.slots;
    const n = (this.mask + 1) * 2;
    this.mask = n - 1;
    this.slots = new Int32Array(n * 4);
    for (let j = 0; j < old.length; j += 4) {
      if (old[j + 3] !== 0) this.place(old[j]!, old[j + 1]!, old[j + 2]!, old[j + 3]!);
    }
  }
}

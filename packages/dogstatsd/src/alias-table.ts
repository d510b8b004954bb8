/**
 * Open-addressing hash table from a line's raw-bytes fingerprint (the parser's two hashes and the
 * length) to what it resolved to. Lookups touch typed arrays only, with no key object and no
 * Map hashing, which is the cost of every repeated line on the hot path. The three key fields
 * and an occupied mark sit side by side in one array, so a probe reads one cache line for the
 * key (and one for the value): on a socket, the kernel's work between datagrams keeps evicting
 * the aggregator's data, and each line the hot path touches is a likely miss.
 */
export class AliasTable<T> {
  private mask: number;
  /** Per slot: hash, second hash, length, 1 when occupied. */
  private keys: Int32Array;
  private values: (T | undefined)[];
  size = 0;

  constructor(capacity = 1024) {
    let slots = 16;
    while (slots < capacity * 2) slots *= 2;
    this.mask = slots - 1;
    this.keys = new Int32Array(slots * 4);
    this.values = new Array<T | undefined>(slots).fill(undefined);
  }

  get(hash: number, hash2: number, length: number): T | undefined {
    const mask = this.mask;
    const keys = this.keys;
    let i = (hash ^ (hash >>> 13)) & mask;
    for (;;) {
      const j = i << 2;
      if (keys[j + 3] === 0) return undefined;
      if (keys[j] === hash && keys[j + 1] === hash2 && keys[j + 2] === length) return this.values[i];
      i = (i + 1) & mask;
    }
  }

  /** Adds a fingerprint that `get` did not find. */
  set(hash: number, hash2: number, length: number, value: T): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    this.place(hash, hash2, length, value);
    this.size++;
  }

  private place(hash: number, hash2: number, length: number, value: T): void {
    const mask = this.mask;
    const keys = this.keys;
    let i = (hash ^ (hash >>> 13)) & mask;
    while (keys[(i << 2) + 3] !== 0) i = (i + 1) & mask;
    const j = i << 2;
    keys[j] = hash;
    keys[j + 1] = hash2;
    keys[j + 2] = length;
    keys[j + 3] = 1;
    this.values[i] = value;
  }

  private grow(): void {
    const { keys, values } = this;
    const slots = (this.mask + 1) * 2;
    this.mask = slots - 1;
    this.keys = new Int32Array(slots * 4);
    this.values = new Array<T | undefined>(slots).fill(undefined);
    for (let i = 0; i < values.length; i++) {
      const j = i << 2;
      if (keys[j + 3] !== 0) this.place(keys[j]!, keys[j + 1]!, keys[j + 2]!, values[i]!);
    }
  }
}

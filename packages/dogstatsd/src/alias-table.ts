/**
 * Open-addressing hash table from a line's raw-bytes fingerprint (the parser's two hashes and the
 * length) to what it resolved to. Lookups touch typed arrays only, with no key object and no
 * Map hashing, which is the cost of every repeated line on the hot path.
 */
export class AliasTable<T> {
  private mask: number;
  private h1: Int32Array;
  private h2: Int32Array;
  private lens: Int32Array;
  private values: (T | undefined)[];
  size = 0;

  constructor(capacity = 1024) {
    let slots = 16;
    while (slots < capacity * 2) slots *= 2;
    this.mask = slots - 1;
    this.h1 = new Int32Array(slots);
    this.h2 = new Int32Array(slots);
    this.lens = new Int32Array(slots);
    this.values = new Array<T | undefined>(slots).fill(undefined);
  }

  get(hash: number, hash2: number, length: number): T | undefined {
    const mask = this.mask;
    const values = this.values;
    let i = (hash ^ (hash >>> 13)) & mask;
    for (;;) {
      const v = values[i];
      if (v === undefined) return undefined;
      if (this.h1[i] === hash && this.h2[i] === hash2 && this.lens[i] === length) return v;
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
    let i = (hash ^ (hash >>> 13)) & mask;
    while (this.values[i] !== undefined) i = (i + 1) & mask;
    this.h1[i] = hash;
    this.h2[i] = hash2;
    this.lens[i] = length;
    this.values[i] = value;
  }

  private grow(): void {
    const { h1, h2, lens, values } = this;
    const slots = (this.mask + 1) * 2;
    this.mask = slots - 1;
    this.h1 = new Int32Array(slots);
    this.h2 = new Int32Array(slots);
    this.lens = new Int32Array(slots);
    this.values = new Array<T | undefined>(slots).fill(undefined);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v !== undefined) this.place(h1[i]!, h2[i]!, lens[i]!, v);
    }
  }
}

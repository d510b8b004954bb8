/**
 * The Datadog Agent's DDSketch (the `Dogsketch` of /api/beta/sketches): relative accuracy 1/128,
 * gamma 1 + 2/128, 1338 key bias, at most 4096 bins, per-bin counts capped at 65 535 with the
 * excess spilled into further bins of the same key. The open-source DDSketch mapping (what
 * `@datadog/sketches-js` implements) uses other keys, so the intake would misread it.
 */
export const SKETCH_GAMMA = 1 + 2 / 128;
export const SKETCH_GAMMA_LN = Math.log1p(2 / 128);
/** floor(ln(1e-9) / gamma_ln) = -1337, so bias = 1338 keeps key 1 for the smallest tracked value. */
export const SKETCH_KEY_BIAS = 1338;
export const SKETCH_BIN_LIMIT = 4096;
export const SKETCH_MAX_KEY = 32766;
export const SKETCH_INF_KEY = 32767;
export const SKETCH_MAX_BIN_COUNT = 65535;
/** gamma^(1 - bias): values with a smaller magnitude fall in the zero bin. */
export const SKETCH_NORM_MIN = SKETCH_GAMMA ** (1 - SKETCH_KEY_BIAS);

/** Go's math.RoundToEven. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round rounds .5 up; a tie whose result is odd goes to the even neighbour below.
  if (r - x === 0.5 && r % 2 !== 0) return r - 1;
  return r;
}

/** The agent's key for a value: sign-symmetric, 0 for |v| below the normal minimum. */
export function sketchKey(v: number): number {
  if (v < 0) {
    const k = sketchKey(-v);
    return k === 0 ? 0 : -k;
  }
  if (!(v >= SKETCH_NORM_MIN)) return 0;
  const k = roundHalfEven(Math.log(v) / SKETCH_GAMMA_LN) + SKETCH_KEY_BIAS;
  if (k > SKETCH_MAX_KEY) return SKETCH_INF_KEY;
  return Math.max(k, 1);
}

/** Lower bound of a key's bin. */
export function sketchKeyLowerBound(k: number): number {
  if (k < 0) return -sketchKeyLowerBound(-k);
  if (k === 0) return 0;
  if (k === SKETCH_INF_KEY) return Number.POSITIVE_INFINITY;
  return SKETCH_GAMMA ** (k - SKETCH_KEY_BIAS);
}

/** Bins ready for the wire: parallel arrays sorted by key, counts ≤ 65 535. */
export interface SketchBins {
  k: number[];
  n: number[];
}

/**
 * Widest key range a sketch keeps as a dense array (one number per key, indexed by key): a
 * distribution's values usually span a few hundred keys (two decades is ~300), and indexing an
 * array costs least on the hot path. A wider sketch moves to a hash table of its keys.
 */
const DENSE_MAX_SPAN = 2048;
const DENSE_FIRST_SPAN = 16;
/**
 * Past this width a window must hold a key in every DENSE_MIN_FILL_FACTOR, or it moves to a hash
 * table: a few values decades apart (1 and 10 000 are 594 keys apart) would otherwise cost 8 bytes
 * for every empty key between them, in every context.
 */
const DENSE_FREE_SPAN = 128;
const DENSE_MIN_FILL_FACTOR = 8;
/**
 * A hashed sketch whose keys come to fill one in this many of their range moves back to a dense
 * window (values spread over a few hundred keys look sparse for their first samples). Half the
 * factor above, so a sketch does not flip back and forth at the boundary.
 */
const DENSE_REFILL_FACTOR = DENSE_MIN_FILL_FACTOR / 2;
/**
 * Fewest keys a hash table moves back with: a window this full could never have to move out
 * again before it doubles, while a table just cleared for its next bucket must not move for its
 * first few keys only to move back once they spread.
 */
const DENSE_REFILL_MIN_KEYS = (2 * DENSE_FREE_SPAN) / DENSE_MIN_FILL_FACTOR;
/**
 * A cleared sketch keeps a window up to this wide for the next bucket, or a wider one that its
 * keys filled as densely as a new window must be, and a hash table up to this many slots (a
 * context's next bucket usually holds the same keys); a larger, emptier one is let go.
 */
const DENSE_KEEP_SPAN = DENSE_FREE_SPAN;
const HASH_KEEP_SLOTS = 256;
const HASH_FIRST_SLOTS = 8;

// Layout of the sketch's one array of doubles: the summary, the last value inserted and its key,
// the count of zeros (key 0, kept apart: it lies 1338 keys from 1.0, and a window spanning both
// would be mostly empty), the key of the first dense bin, the number of hash slots, then the bins:
// either a dense window (one count per key from LO; SLOTS is 0) or an open-addressing table of
// SLOTS (key, count) pairs, key 0 marking a free slot (LO is then +∞, so that the dense index
// test of an insert always fails). One array rather than object fields (each a separate boxed
// number in V8) or a Map keeps an insert on two or three cache lines, which is what it costs on
// a socket's hot path, where the kernel's work keeps evicting the aggregator's data.
const COUNT = 0;
const MIN = 1;
const MAX = 2;
const SUM = 3;
const AVG = 4;
const LAST_VALUE = 5;
const LAST_KEY = 6;
const ZEROS = 7;
const LO = 8;
const SLOTS = 9;
const BINS = 10;

const emptySummary = (): number[] => [
  0,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  0,
  0,
  Number.NaN,
  0,
  0,
  0,
  0,
];

/** Where a key's probe sequence starts in a table of `slots` (a power of two). */
function slotOf(key: number, slots: number): number {
  return (Math.imul(key, 0x9e3779b1) >>> 16) & (slots - 1);
}

/** An `AgentSketch`'s fields as plain data. */
export interface SketchState {
  d: number[];
  hashKeys: number;
  hashLo: number;
  hashHi: number;
}

export class AgentSketch {
  private d: number[] = emptySummary();
  /** Keys held by the hash table, and their lowest and highest (meaningful when SLOTS > 0). */
  private hashKeys = 0;
  private hashLo = 0;
  private hashHi = 0;

  /** The sketch as plain data, to cross to another thread (`fromState` rebuilds it). */
  toState(): SketchState {
    return { d: this.d, hashKeys: this.hashKeys, hashLo: this.hashLo, hashHi: this.hashHi };
  }

  static fromState(state: SketchState): AgentSketch {
    const s = new AgentSketch();
    s.d = state.d;
    s.hashKeys = state.hashKeys;
    s.hashLo = state.hashLo;
    s.hashHi = state.hashHi;
    return s;
  }

  get count(): number {
    return this.d[COUNT]!;
  }
  get min(): number {
    return this.d[MIN]!;
  }
  get max(): number {
    return this.d[MAX]!;
  }
  get sum(): number {
    return this.d[SUM]!;
  }
  get avg(): number {
    return this.d[AVG]!;
  }

  /** Inserts `v` `n` times (the sample-rate weight). Non-finite values are ignored. */
  insert(v: number, n = 1): void {
    if (!Number.isFinite(v) || n <= 0) return;
    const d = this.d;
    let key: number;
    // A repeated value (a count sent as 1) skips the log.
    if (v === d[LAST_VALUE]) {
      key = d[LAST_KEY]!;
    } else {
      key = sketchKey(v);
      d[LAST_VALUE] = v;
      d[LAST_KEY] = key;
    }
    const count = d[COUNT]! + n;
    d[COUNT] = count;
    if (v < d[MIN]!) d[MIN] = v;
    if (v > d[MAX]!) d[MAX] = v;
    d[SUM] = d[SUM]! + v * n;
    d[AVG] = d[AVG]! + ((v - d[AVG]!) * n) / count;
    if (key === 0) {
      d[ZEROS] = d[ZEROS]! + n;
      return;
    }
    // Last, because a key outside the bins may replace the array (the summary is copied over).
    const i = key - d[LO]! + BINS;
    if (i >= BINS && i < d.length) d[i] = d[i]! + n;
    else if (d[SLOTS] !== 0) this.addHashed(key, n);
    else this.addOutside(key, n);
  }

  /** Adds to a key of the hash table. */
  private addHashed(key: number, n: number): void {
    const d = this.d;
    const slots = d[SLOTS]!;
    const mask = slots - 1;
    let s = slotOf(key, slots);
    for (;;) {
      const j = BINS + 2 * s;
      const k = d[j];
      if (k === key) {
        d[j + 1] = d[j + 1]! + n;
        return;
      }
      if (k === 0) {
        d[j] = key;
        d[j + 1] = n;
        break;
      }
      s = (s + 1) & mask;
    }
    const keys = ++this.hashKeys;
    if (key < this.hashLo) this.hashLo = key;
    if (key > this.hashHi) this.hashHi = key;
    const span = this.hashHi - this.hashLo + 1;
    if (keys >= DENSE_REFILL_MIN_KEYS && span <= DENSE_MAX_SPAN && span <= DENSE_REFILL_FACTOR * keys) {
      this.densify(span);
    } else if (keys * 2 > slots) this.rehash(slots * 2);
  }

  /** A key outside the dense bins: the first one, a wider window, or a move to the hash table. */
  private addOutside(key: number, n: number): void {
    const d = this.d;
    const width = d.length - BINS;
    if (width === 0) {
      this.d = widened(d, key - (DENSE_FIRST_SPAN >> 1), DENSE_FIRST_SPAN);
      this.d[key - this.d[LO]! + BINS] = n;
      return;
    }
    const lo = d[LO]!;
    const newLo = Math.min(lo, key);
    const hi = Math.max(lo + width - 1, key);
    const span = hi - newLo + 1;
    if (span > DENSE_MAX_SPAN || (span > DENSE_FREE_SPAN && span > DENSE_MIN_FILL_FACTOR * (keysIn(d) + 1))) {
      this.toHashed(key, n);
      return;
    }
    // Double at least, so a sketch widening key by key copies O(span) in all.
    let size = width * 2;
    while (size < span) size *= 2;
    if (size > DENSE_MAX_SPAN) size = DENSE_MAX_SPAN;
    // Grow towards the new key: downwards when it is below the bins, upwards otherwise.
    const grown = widened(d, key < lo ? hi - size + 1 : newLo, size);
    grown[key - grown[LO]! + BINS] = n;
    this.d = grown;
  }

  /** Moves the dense bins, plus `n` at `key`, into a hash table. */
  private toHashed(key: number, n: number): void {
    const d = this.d;
    const lo = d[LO]!;
    let slots = HASH_FIRST_SLOTS;
    while (slots < 2 * (keysIn(d) + 1)) slots *= 2;
    this.d = emptyTable(d, slots);
    this.hashKeys = 0;
    this.hashLo = key;
    this.hashHi = key;
    for (let j = BINS; j < d.length; j++) if (d[j] !== 0) this.place(lo + j - BINS, d[j]!);
    this.place(key, n);
  }

  /** Puts a key that is not in the table yet (the table has room). */
  private place(key: number, count: number): void {
    const d = this.d;
    const slots = d[SLOTS]!;
    let s = slotOf(key, slots);
    while (d[BINS + 2 * s] !== 0) s = (s + 1) & (slots - 1);
    d[BINS + 2 * s] = key;
    d[BINS + 2 * s + 1] = count;
    this.hashKeys++;
    if (key < this.hashLo) this.hashLo = key;
    if (key > this.hashHi) this.hashHi = key;
  }

  private rehash(slots: number): void {
    const old = this.d;
    this.d = emptyTable(old, slots);
    this.hashKeys = 0;
    for (let j = BINS; j < old.length; j += 2) if (old[j] !== 0) this.place(old[j]!, old[j + 1]!);
  }

  /** Moves the hashed keys into a dense window of at least `span` keys. */
  private densify(span: number): void {
    const old = this.d;
    let size = DENSE_FIRST_SPAN;
    while (size < span) size *= 2;
    if (size > DENSE_MAX_SPAN) size = DENSE_MAX_SPAN;
    const lo = this.hashLo;
    const d = old.slice(0, BINS);
    d[LO] = lo;
    d[SLOTS] = 0;
    for (let j = 0; j < size; j++) d.push(0);
    for (let j = BINS; j < old.length; j += 2) if (old[j] !== 0) d[old[j]! - lo + BINS] = old[j + 1]!;
    this.d = d;
  }

  get isEmpty(): boolean {
    return this.d[COUNT] === 0;
  }

  /** Empties the sketch, keeping its bins' layout when small or well used (the next bucket's values are likely alike). */
  clear(): void {
    const d = this.d;
    const slots = d[SLOTS]!;
    const width = d.length - BINS;
    if (
      slots > HASH_KEEP_SLOTS ||
      (slots === 0 && width > DENSE_KEEP_SPAN && width > DENSE_MIN_FILL_FACTOR * keysIn(d))
    ) {
      this.d = emptySummary();
      return;
    }
    d[COUNT] = 0;
    d[MIN] = Number.POSITIVE_INFINITY;
    d[MAX] = Number.NEGATIVE_INFINITY;
    d[SUM] = 0;
    d[AVG] = 0;
    d[LAST_VALUE] = Number.NaN;
    d[LAST_KEY] = 0;
    d[ZEROS] = 0;
    d.fill(0, BINS);
    this.hashKeys = 0;
    this.hashLo = Number.POSITIVE_INFINITY;
    this.hashHi = Number.NEGATIVE_INFINITY;
  }

  /**
   * Sorted bins, each count ≤ 65 535 (a larger count repeats the key), and at most 4096 of them:
   * when over, the lowest bins are folded into the lowest bin that is kept, as the agent does.
   */
  bins(): SketchBins {
    const k: number[] = [];
    const n: number[] = [];
    const push = (key: number, count: number): void => {
      let c = count;
      while (c > 0) {
        const take = Math.min(c, SKETCH_MAX_BIN_COUNT);
        k.push(key);
        n.push(take);
        c -= take;
      }
    };
    const d = this.d;
    // The zeros go between the negative keys and the positive ones.
    let zeros = d[ZEROS]!;
    const visit = (key: number, count: number): void => {
      if (zeros > 0 && key > 0) {
        push(0, zeros);
        zeros = 0;
      }
      push(key, count);
    };
    if (d[SLOTS] === 0) {
      const lo = d[LO]!;
      for (let j = BINS; j < d.length; j++) if (d[j] !== 0) visit(lo + j - BINS, d[j]!);
    } else {
      const used: number[] = [];
      for (let j = BINS; j < d.length; j += 2) if (d[j] !== 0) used.push(j);
      used.sort((a, b) => d[a]! - d[b]!);
      for (const j of used) visit(d[j]!, d[j + 1]!);
    }
    if (zeros > 0) push(0, zeros);
    if (k.length <= SKETCH_BIN_LIMIT) return { k, n };
    return trimLeft(k, n);
  }

  /**
   * Quantile the way the agent reads a sketch: the rank roundHalfEven(q·(count−1)), linear
   * interpolation inside the bin, clamped to the exact min and max.
   */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    if (q <= 0) return this.min;
    if (q >= 1) return this.max;
    const { k, n } = this.bins();
    const want = roundHalfEven(q * (this.count - 1));
    let seen = 0;
    for (let i = 0; i < k.length; i++) {
      const binCount = n[i]!;
      seen += binCount;
      if (seen <= want) continue;
      const weight = (seen - want) / binCount;
      let low = sketchKeyLowerBound(k[i]!);
      let high = low * SKETCH_GAMMA;
      if (low < 0) [low, high] = [high, low];
      if (k[i] === 0) high = low;
      const v = low * weight + high * (1 - weight);
      return Math.min(this.max, Math.max(this.min, v));
    }
    return this.max;
  }
}

/** How many keys of the dense window hold a count. */
function keysIn(d: number[]): number {
  let used = 0;
  for (let j = BINS; j < d.length; j++) if (d[j] !== 0) used++;
  return used;
}

/** A copy of the summary with `size` dense bins from key `lo`, holding the old bins' counts. */
function widened(d: number[], lo: number, size: number): number[] {
  const out = d.slice(0, BINS);
  out[LO] = lo;
  // Pushed one by one, the array keeps its unboxed-double elements.
  for (let j = 0; j < size; j++) out.push(0);
  const oldLo = d[LO]!;
  for (let j = BINS; j < d.length; j++) out[oldLo - lo + j] = d[j]!;
  return out;
}

/** A copy of the summary with an empty hash table of `slots` (key, count) pairs. */
function emptyTable(d: number[], slots: number): number[] {
  const out = d.slice(0, BINS);
  out[LO] = Number.POSITIVE_INFINITY;
  out[SLOTS] = slots;
  for (let j = 0; j < 2 * slots; j++) out.push(0);
  return out;
}

/** Folds the lowest bins so that exactly SKETCH_BIN_LIMIT remain, respecting the per-bin cap. */
function trimLeft(k: number[], n: number[]): SketchBins {
  const excess = k.length - SKETCH_BIN_LIMIT;
  let carried = 0;
  for (let i = 0; i <= excess; i++) carried += n[i]!;
  const keepKey = k[excess]!;
  const restK = k.slice(excess + 1);
  const restN = n.slice(excess + 1);
  const headK: number[] = [];
  const headN: number[] = [];
  while (carried > 0) {
    const take = Math.min(carried, SKETCH_MAX_BIN_COUNT);
    headK.push(keepKey);
    headN.push(take);
    carried -= take;
  }
  // Overflow spills could push the total back over the limit; the agent accepts that rare case too.
  return { k: headK.concat(restK), n: headN.concat(restN) };
}

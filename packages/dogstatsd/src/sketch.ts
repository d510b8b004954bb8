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

export class AgentSketch {
  count = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  sum = 0;
  avg = 0;
  /** key → total count (a mutable box: one Map lookup per insert); split into wire bins when encoded. */
  private readonly counts = new Map<number, { n: number }>();
  /** The bin of the last value inserted: a repeated value (a count sent as 1) skips the log and the lookup. */
  private lastValue = Number.NaN;
  private lastBin: { n: number } | undefined;

  /** Inserts `v` `n` times (the sample-rate weight). Non-finite values are ignored. */
  insert(v: number, n = 1): void {
    if (!Number.isFinite(v) || n <= 0) return;
    if (v === this.lastValue) {
      this.lastBin!.n += n;
    } else {
      const key = sketchKey(v);
      let bin = this.counts.get(key);
      if (bin === undefined) {
        bin = { n };
        this.counts.set(key, bin);
      } else {
        bin.n += n;
      }
      this.lastValue = v;
      this.lastBin = bin;
    }
    this.count += n;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
    this.sum += v * n;
    this.avg += ((v - this.avg) * n) / this.count;
  }

  get isEmpty(): boolean {
    return this.count === 0;
  }

  /**
   * Sorted bins, each count ≤ 65 535 (a larger count repeats the key), and at most 4096 of them:
   * when over, the lowest bins are folded into the lowest bin that is kept, as the agent does.
   */
  bins(): SketchBins {
    const keys = [...this.counts.keys()].sort((a, b) => a - b);
    const k: number[] = [];
    const n: number[] = [];
    for (const key of keys) {
      let c = this.counts.get(key)!.n;
      while (c > 0) {
        const take = Math.min(c, SKETCH_MAX_BIN_COUNT);
        k.push(key);
        n.push(take);
        c -= take;
      }
    }
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

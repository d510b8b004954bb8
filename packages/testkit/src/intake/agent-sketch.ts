// The Datadog Agent's DDSketch bin mapping (what Dogsketch `k` keys mean) and quantile estimation
// over decoded bins, as the wire-protocol reference describes it.

/** Relative accuracy of the agent mapping: eps = 1/128. */
export const AGENT_SKETCH_EPS = 1 / 128;
/** gamma = 1 + 2·eps. */
export const AGENT_SKETCH_GAMMA = 1 + 2 * AGENT_SKETCH_EPS;
/** ln(gamma) = log1p(1/64). */
export const AGENT_SKETCH_GAMMA_LN = Math.log1p(2 * AGENT_SKETCH_EPS);
/** Smallest positive value the mapping distinguishes from 0. */
export const AGENT_SKETCH_MIN_VALUE = 1e-9;
/** -floor(ln(1e-9)/ln(gamma)) + 1 = 1338. */
export const AGENT_SKETCH_BIAS = -Math.floor(Math.log(AGENT_SKETCH_MIN_VALUE) / AGENT_SKETCH_GAMMA_LN) + 1;
export const AGENT_SKETCH_MAX_KEY = 32766;
export const AGENT_SKETCH_INF_KEY = 32767;
export const AGENT_SKETCH_BIN_LIMIT = 4096;
/** gamma^(1-bias): values below this magnitude map to key 0. */
export const AGENT_SKETCH_NORM_MIN = AGENT_SKETCH_GAMMA ** (1 - AGENT_SKETCH_BIAS);

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round rounds .5 up; move exact halves to the even neighbour.
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The agent key of a value (used by tests and for checking what clients send). */
export function agentSketchKey(v: number): number {
  if (v < 0) return -agentSketchKey(-v);
  if (v === 0 || v < AGENT_SKETCH_NORM_MIN) return 0;
  const k = roundHalfEven(Math.log(v) / AGENT_SKETCH_GAMMA_LN) + AGENT_SKETCH_BIAS;
  if (k > AGENT_SKETCH_MAX_KEY) return AGENT_SKETCH_INF_KEY;
  return Math.max(1, k);
}

/** Lower bound of a bin's magnitude: gamma^(|k| - bias), sign-symmetric, 0 for k = 0. */
export function agentSketchLowerBound(k: number): number {
  if (k === 0) return 0;
  if (k < 0) return -agentSketchLowerBound(-k);
  if (k >= AGENT_SKETCH_INF_KEY) return Number.POSITIVE_INFINITY;
  return AGENT_SKETCH_GAMMA ** (k - AGENT_SKETCH_BIAS);
}

export interface SketchBins {
  readonly k: readonly number[];
  readonly n: readonly number[];
}

export interface SketchSummary {
  readonly cnt: number;
  readonly min: number;
  readonly max: number;
}

/**
 * Estimates the q-quantile as the Agent does: the rank roundHalfEven(q·(cnt−1)) is located in the
 * bins (sorted by key), and the value is interpolated linearly between the bin's lower bound and
 * lower bound·gamma (the first bin starts at min instead). Unlike the Agent, the result is clamped
 * to [min, max], so an estimate never leaves the range the client actually saw.
 */
export function agentSketchQuantile(bins: SketchBins, summary: SketchSummary, q: number): number {
  const { cnt, min, max } = summary;
  if (cnt <= 0 || bins.k.length === 0) return Number.NaN;
  if (q <= 0) return min;
  if (q >= 1) return max;
  const rank = roundHalfEven(q * (cnt - 1));
  let seen = 0;
  for (let i = 0; i < bins.k.length; i++) {
    const n = bins.n[i] ?? 0;
    if (n === 0) continue;
    seen += n;
    if (seen <= rank) continue;
    const weight = (seen - rank) / n;
    let lo = agentSketchLowerBound(bins.k[i]!);
    const hi = lo * AGENT_SKETCH_GAMMA;
    if (i === 0) lo = min;
    const v = lo * weight + hi * (1 - weight);
    return Math.min(max, Math.max(min, v));
  }
  return max;
}

/** Checks the invariants the intake relies on; returns a problem description or undefined. */
export function agentSketchProblem(bins: SketchBins, cnt: number): string | undefined {
  if (bins.k.length !== bins.n.length) return `k has ${bins.k.length} keys but n has ${bins.n.length} counts`;
  let total = 0;
  for (let i = 0; i < bins.k.length; i++) {
    const k = bins.k[i]!;
    if (Math.abs(k) > AGENT_SKETCH_INF_KEY) return `key ${k} is outside the int16 key space`;
    if (i > 0 && k < bins.k[i - 1]!) return `keys are not sorted ascending at index ${i}`;
    total += bins.n[i]!;
  }
  if (total !== cnt) return `bin counts add up to ${total} but cnt is ${cnt}`;
  return undefined;
}

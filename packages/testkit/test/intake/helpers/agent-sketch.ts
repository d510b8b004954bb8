// An independent implementation of the Agent's sketch insertion, straight from the wire-protocol
// reference (gamma 1 + 2/128, bias 1338, round-half-even keys, u16 bin counts), for building test
// payloads the way the Agent and the extension do.
const GAMMA = 1 + 2 / 128;
const LN_GAMMA = Math.log1p(2 / 128);
const BIAS = 1338;
const NORM_MIN = GAMMA ** (1 - BIAS);

function roundEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

export function key(v: number): number {
  if (v < 0) return -key(-v);
  if (v < NORM_MIN) return 0;
  const k = roundEven(Math.log(v) / LN_GAMMA) + BIAS;
  return k > 32766 ? 32767 : Math.max(1, k);
}

export interface BuiltSketch {
  cnt: number;
  min: number;
  max: number;
  sum: number;
  avg: number;
  k: number[];
  n: number[];
}

export function buildSketch(values: readonly number[]): BuiltSketch {
  const counts = new Map<number, number>();
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  let avg = 0;
  let cnt = 0;
  for (const v of values) {
    counts.set(key(v), (counts.get(key(v)) ?? 0) + 1);
    min = Math.min(min, v);
    max = Math.max(max, v);
    sum += v;
    cnt++;
    avg += (v - avg) / cnt;
  }
  const k: number[] = [];
  const n: number[] = [];
  for (const [kk, c] of [...counts].sort((a, b) => a[0] - b[0])) {
    // A bin holds at most 65 535; the excess spills into more bins with the same key.
    for (let left = c; left > 0; left -= 65_535) {
      k.push(kk);
      n.push(Math.min(left, 65_535));
    }
  }
  return { cnt, min, max, sum, avg, k, n };
}

/** The exact q-quantile at the rank the Agent uses: roundHalfEven(q·(n−1)) of the sorted values. */
export function exactQuantile(sorted: readonly number[], q: number): number {
  return sorted[roundEven(q * (sorted.length - 1))]!;
}

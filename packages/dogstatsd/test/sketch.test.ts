import { seededRandom } from '@serverless-agent/testkit';
import { describe, expect, it } from 'vitest';
import {
  AgentSketch,
  SKETCH_BIN_LIMIT,
  SKETCH_GAMMA,
  SKETCH_GAMMA_LN,
  SKETCH_KEY_BIAS,
  SKETCH_NORM_MIN,
  sketchKey,
  sketchKeyLowerBound,
} from '../src/index.js';

// Seeded so the distributions are the same on every run.
const rng = seededRandom;

function exactQuantile(sorted: number[], q: number): number {
  // The rank the agent uses: roundHalfEven(q·(n−1)).
  const r = q * (sorted.length - 1);
  let i = Math.round(r);
  if (i - r === 0.5 && i % 2 !== 0) i--;
  return sorted[i]!;
}

describe('agent sketch parameters (wire-protocols B.3)', () => {
  it('has gamma 1.015625, gamma_ln log1p(1/64), bias 1338, 4096 bins', () => {
    expect(SKETCH_GAMMA).toBe(1.015625);
    expect(SKETCH_GAMMA_LN).toBe(0.015504186535965254);
    expect(SKETCH_KEY_BIAS).toBe(1338);
    expect(Math.floor(Math.log(1e-9) / SKETCH_GAMMA_LN)).toBe(-1337);
    expect(SKETCH_NORM_MIN).toBeCloseTo(9.94185e-10, 14);
    expect(SKETCH_BIN_LIMIT).toBe(4096);
  });

  it('maps the worked examples to their keys', () => {
    expect(sketchKey(1)).toBe(1338);
    expect(sketchKey(100)).toBe(1635);
    expect(sketchKey(0.5)).toBe(1293);
    expect(sketchKey(-1)).toBe(-1338);
    expect(sketchKey(-100)).toBe(-1635);
    expect(sketchKey(0)).toBe(0);
    expect(sketchKey(1e-10)).toBe(0);
    expect(sketchKey(-1e-10)).toBe(0);
    // The smallest tracked value gets key 1, huge values the +Inf key.
    expect(sketchKey(SKETCH_NORM_MIN)).toBe(1);
    expect(sketchKey(1e300)).toBe(32767);
    expect(sketchKey(-1e300)).toBe(-32767);
  });

  // Expected keys worked out from the spec's rule, key(v) = roundHalfEven(ln v / γ_ln) + 1338 with
  // γ_ln = log1p(1/64) = 0.015504186535965254, not from the code under test.
  const GAMMA_LN = 0.015504186535965254;

  it('rounds to the nearest key, neither flooring nor truncating', () => {
    // ln 2 / γ_ln = 44.707… → 45 (a floor would give 44).
    expect(sketchKey(2)).toBe(1338 + 45);
    // ln 10 / γ_ln = 148.513… → 149.
    expect(sketchKey(10)).toBe(1338 + 149);
    // ln 7 / γ_ln = 125.508… → 126.
    expect(sketchKey(7)).toBe(1338 + 126);
    // ln 1000 / γ_ln = 445.541… → 446.
    expect(sketchKey(1000)).toBe(1338 + 446);
    // ln 0.1 / γ_ln = -148.513… → -149 (a truncation would give -148).
    expect(sketchKey(0.1)).toBe(1338 - 149);
    // ln 0.001 / γ_ln = -445.541… → -446.
    expect(sketchKey(0.001)).toBe(1338 - 446);
    expect(sketchKey(-2)).toBe(-(1338 + 45));
  });

  it('rounds exact ties to even, as Go math.RoundToEven does', () => {
    // Doubles whose ln(v) / γ_ln is exactly k + 0.5 in IEEE arithmetic (the premise is checked).
    const ties: [number, number, number][] = [
      // [v, ln v / γ_ln, expected key]: an even k stays (half-up would add one) ...
      [1.9935885393039237, 44.5, 1338 + 44],
      [22.389439581963483, 200.5, 1338 + 200],
      // ... an odd k goes up to the even neighbour (half-down would not).
      [1.9629179463915556, 43.5, 1338 + 44],
      [22.739274575431665, 201.5, 1338 + 202],
    ];
    for (const [v, raw, key] of ties) {
      expect(Math.log(v) / GAMMA_LN, String(v)).toBe(raw);
      expect(sketchKey(v), String(v)).toBe(key);
      expect(sketchKey(-v), String(-v)).toBe(-key);
    }
  });

  it('keys have relative accuracy 1/128: a bin lower bound is within eps of every value mapped to it', () => {
    const r = rng(1);
    const eps = 1 / 128;
    for (let i = 0; i < 20_000; i++) {
      const v = Math.exp((r() - 0.5) * 40); // 2e-9 .. 5e8
      const lb = sketchKeyLowerBound(sketchKey(v));
      expect(Math.abs(lb - v) / v).toBeLessThanOrEqual(eps + 1e-12);
    }
  });
});

describe('AgentSketch', () => {
  it('keeps count, min, max, sum and the running average', () => {
    const s = new AgentSketch();
    for (const v of [1, 2, 3, 4]) s.insert(v);
    s.insert(10, 4);
    expect(s.count).toBe(8);
    expect(s.min).toBe(1);
    expect(s.max).toBe(10);
    expect(s.sum).toBe(50);
    expect(s.avg).toBeCloseTo(6.25, 12);
  });

  it('emits sorted bins and splits counts above 65535 into repeated keys', () => {
    const s = new AgentSketch();
    s.insert(100, 70_000);
    s.insert(1);
    s.insert(-1);
    s.insert(0);
    expect(s.bins()).toEqual({ k: [-1338, 0, 1338, 1635, 1635], n: [1, 1, 1, 65535, 4465] });
  });

  it('keeps the same bins whether its keys grow upwards, downwards or past the dense span', () => {
    // Every way the key window changes: a narrow range (dense), growth on both sides, and a range
    // wider than the dense span (negative and positive values), against counts kept by key.
    const cases: [string, (r: () => number) => number][] = [
      ['narrow', (r) => 10 + r() * 5],
      ['rising', (r) => Math.exp(r() * 3)],
      ['falling then rising', (r) => (r() < 0.5 ? 1e-3 * (1 + r()) : 1e3 * (1 + r()))],
      ['both signs', (r) => (r() - 0.5) * 1e4],
      ['zero and tiny', (r) => (r() < 0.3 ? 0 : r() < 0.5 ? 1e-12 : r())],
    ];
    for (const [name, gen] of cases) {
      const r = rng(name.length * 7919);
      const s = new AgentSketch();
      const byKey = new Map<number, number>();
      for (let i = 0; i < 3000; i++) {
        const v = gen(r);
        const w = 1 + (i % 3);
        s.insert(v, w);
        byKey.set(sketchKey(v), (byKey.get(sketchKey(v)) ?? 0) + w);
      }
      const keys = [...byKey.keys()].sort((a, b) => a - b);
      expect(s.bins(), name).toEqual({ k: keys, n: keys.map((k) => byKey.get(k)) });
      expect(s.count, name).toBe(6000);
    }
  });
  it('keeps the same bins when keys spread thinly first and fill in later, bucket after bucket', () => {
    // 1…97 in strides of 30 (as a client cycling over contexts sends them): the first few keys lie
    // far apart, the range fills in later; a cleared sketch is reused for the next bucket.
    const s = new AgentSketch();
    for (const [bucket, strideOffset] of [
      [0, 0],
      [1, 11],
      [2, 50],
    ] as const) {
      s.clear();
      const byKey = new Map<number, number>();
      for (let i = 0; i < 400; i++) {
        const v = ((strideOffset + i * 30) % 97) + 1 + bucket * 0.25;
        s.insert(v);
        byKey.set(sketchKey(v), (byKey.get(sketchKey(v)) ?? 0) + 1);
        if (i === 3 || i === 60 || i === 399) {
          const keys = [...byKey.keys()].sort((a, b) => a - b);
          expect(s.bins(), `bucket ${bucket}, ${i + 1} values`).toEqual({
            k: keys,
            n: keys.map((k) => byKey.get(k)),
          });
        }
      }
      expect(s.count).toBe(400);
    }
  });

  it('collapses the lowest bins into the first kept one beyond 4096 bins', () => {
    const s = new AgentSketch();
    for (let i = 0; i < 5000; i++) s.insert(Math.exp(i * SKETCH_GAMMA_LN * 1.0001) * 1e-6);
    const { k, n } = s.bins();
    expect(k.length).toBe(SKETCH_BIN_LIMIT);
    expect(n.reduce((a, b) => a + b, 0)).toBe(5000);
    expect(n[0]).toBe(5000 - 4095);
    for (let i = 1; i < k.length; i++) expect(k[i]!).toBeGreaterThan(k[i - 1]!);
  });

  for (const [name, gen] of [
    ['uniform(1, 1000)', (r: () => number) => 1 + r() * 999],
    ['exponential(mean 50)', (r: () => number) => -50 * Math.log(1 - r())],
    [
      'log-normal',
      (r: () => number) => Math.exp(3 + 2 * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(6.283 * r())),
    ],
  ] as const) {
    it(`quantiles of ${name} stay within the sketch's accuracy`, () => {
      const r = rng(42);
      const s = new AgentSketch();
      const values: number[] = [];
      for (let i = 0; i < 50_000; i++) {
        const v = gen(r);
        values.push(v);
        s.insert(v);
      }
      values.sort((a, b) => a - b);
      for (const q of [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999]) {
        const exact = exactQuantile(values, q);
        // Agent interpolation spans [γ^(k-bias), γ^(k-bias+1)] while a key holds values within
        // half a step of γ^(k-bias) in log space: the error is at most γ^1.5 − 1 ≈ 2.36 %.
        expect(Math.abs(s.quantile(q) - exact) / exact).toBeLessThanOrEqual(SKETCH_GAMMA ** 1.5 - 1);
        // The bin that holds the rank starts within 1/128 of the exact value.
        const lb = sketchKeyLowerBound(sketchKey(exact));
        expect(Math.abs(lb - exact) / exact).toBeLessThanOrEqual(1 / 128 + 1e-12);
      }
      expect(s.quantile(0)).toBe(values[0]);
      expect(s.quantile(1)).toBe(values[values.length - 1]);
    });
  }

  it('ignores non-finite values', () => {
    const s = new AgentSketch();
    s.insert(Number.NaN);
    s.insert(Number.POSITIVE_INFINITY);
    expect(s.isEmpty).toBe(true);
  });
});

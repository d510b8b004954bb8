import { describe, expect, it } from 'vitest';
import { Aggregator } from '../src/index.js';
import { nthSmallest } from '../src/select.js';

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('nthSmallest', () => {
  it('finds every rank of random arrays with duplicates, as a sort would', () => {
    const rnd = random(7);
    for (const len of [1, 2, 3, 10, 101, 1000]) {
      const values = Array.from({ length: len }, () => Math.floor(rnd() * len * 0.3) - len * 0.1);
      const sorted = Float64Array.from(values).sort();
      const work = Float64Array.from(values);
      for (let k = 0; k < len; k++) expect(nthSmallest(work, k)).toBe(sorted[k]);
    }
  });

  it('handles sorted, reversed and constant input', () => {
    const n = 5000;
    const up = Float64Array.from({ length: n }, (_, i) => i);
    const down = Float64Array.from({ length: n }, (_, i) => n - i);
    const flat = new Float64Array(n).fill(3);
    expect(nthSmallest(up, 1234)).toBe(1234);
    expect(nthSmallest(down, 0)).toBe(1);
    expect(nthSmallest(flat, 4999)).toBe(3);
  });
});

describe('a histogram context larger than the sort threshold', () => {
  it('flushes the same aggregates and percentiles as sorting gives', async () => {
    const a = new Aggregator({
      now: () => 1_700_000_005_000,
      histogramAggregates: ['max', 'min', 'median', 'avg', 'count'],
      histogramPercentiles: [0.5, 0.95, 0.99],
    });
    const rnd = random(42);
    const values = Array.from({ length: 20_001 }, () => Math.round(rnd() * 1e6) / 100);
    for (const v of values) a.submit({ name: 'big', value: v, type: 'histogram' });
    const sorted = Float64Array.from(values).sort();
    const n = sorted.length;
    const at = (target: number) => sorted[Math.min(n - 1, Math.max(0, Math.floor(target)))];
    const { series } = await a.flush({ all: true });
    const got = Object.fromEntries(series.map((s) => [s.metric, s.points[0]!.value]));
    expect(got['big.max']).toBe(sorted[n - 1]);
    expect(got['big.min']).toBe(sorted[0]);
    expect(got['big.median']).toBe(at((n - 1) / 2));
    expect(got['big.50percentile']).toBe(at((50 * n - 1) / 100));
    expect(got['big.95percentile']).toBe(at((95 * n - 1) / 100));
    expect(got['big.99percentile']).toBe(at((99 * n - 1) / 100));
    expect(got['big.count']).toBe(n / 10);
  });
});

import { describe, expect, it } from 'vitest';
import { seededRandom } from '../src/index.js';

describe('seededRandom', () => {
  it('replays the same sequence for the same seed, another for another seed', () => {
    const take = (seed: number) => Array.from({ length: 5 }, seededRandom(seed));
    expect(take(42)).toEqual(take(42));
    expect(take(42)).not.toEqual(take(43));
  });

  it('is uniform in [0, 1): ten buckets of 100 000 draws each within 5 % of the mean', () => {
    const next = seededRandom(7);
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i++) {
      const x = next();
      expect(x >= 0 && x < 1).toBe(true);
      buckets[Math.floor(x * 10)]!++;
    }
    for (const b of buckets) expect(Math.abs(b - 10_000)).toBeLessThan(500);
  });
});

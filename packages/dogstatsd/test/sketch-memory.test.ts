import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { AgentSketch, Aggregator, flushPayloads } from '../src/index.js';

// A full GC on demand, without starting node with --expose-gc.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapPerContext(lines: (i: number) => string, n: number): Promise<{ live: number; flushed: number }> {
  return (async () => {
    const a = new Aggregator({ now: () => 1_700_000_003_000, maxContexts: 2 * n });
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < n; i++) a.ingest(Buffer.from(lines(i)));
    a.stats(); // aggregates what is pending
    gc();
    const live = (process.memoryUsage().heapUsed - before) / n;
    await flushPayloads(a, { all: true });
    gc();
    const flushed = (process.memoryUsage().heapUsed - before) / n;
    return { live, flushed };
  })();
}

describe('distribution memory per context', () => {
  it('a distribution of zeros and ones stays small, live and after its flush', async () => {
    const { live, flushed } = await heapPerContext((i) => `lat.${i}:0|d\nlat.${i}:1|d`, 20_000);
    expect(live).toBeLessThan(2000);
    expect(flushed).toBeLessThan(2000);
  }, 60_000);

  it('values decades apart do not pay for the empty keys between them', async () => {
    const { live, flushed } = await heapPerContext((i) => `far.${i}:1|d\nfar.${i}:10000|d`, 20_000);
    expect(live).toBeLessThan(2500);
    expect(flushed).toBeLessThan(2500);
  }, 60_000);

  it('the bins are the same whichever layout holds them', () => {
    const values = [0, 0, 1, -1, 10_000, 0.001, 5, 5, 6, -3e9, 0];
    const s = new AgentSketch();
    for (const v of values) s.insert(v);
    const keys = s.bins().k;
    expect(keys).toEqual([...keys].sort((a, b) => a - b));
    expect(s.bins().n.reduce((x, y) => x + y, 0)).toBe(values.length);
    expect(keys.filter((k) => k === 0)).toHaveLength(1);
    expect(s.bins().n[keys.indexOf(0)]).toBe(3);
  });
});

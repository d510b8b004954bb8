import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { STEADY_STATE_V8_FLAGS, tuneHeapForSteadyState } from '../src/heap-tuning.js';

// A node that grows its young generation as loading does, applies the flags (or not), then runs
// many small "invocations" whose objects live a little while; it prints its heap's spaces.
const WORKLOAD = `
const v8 = require('node:v8');
const space = (name) => v8.getHeapSpaceStatistics().find((s) => s.space_name === name);
let live = [];
const work = (n, size) => {
  for (let i = 0; i < n; i++) {
    const a = [];
    for (let j = 0; j < size; j++) a.push({ j, s: 'x' + j });
    live.push(a);
    if (live.length > 3) live.shift();
  }
};
work(100, 2000);
const loaded = space('new_space').space_size;
for (const f of JSON.parse(process.env.FLAGS)) v8.setFlagsFromString(f);
work(2000, 2000);
const gc = typeof require('node:vm').runInNewContext('typeof gc === "function" ? gc : undefined');
console.log(JSON.stringify({ loaded, after: space('new_space').space_size, gc }));
`;

function runWorkload(flags: readonly string[]): { loaded: number; after: number; gc: string } {
  const out = execFileSync(process.execPath, ['-e', WORKLOAD], {
    env: { ...process.env, FLAGS: JSON.stringify(flags), NODE_OPTIONS: '' },
    encoding: 'utf8',
  });
  return JSON.parse(out) as { loaded: number; after: number; gc: string };
}

describe('heap tuning for the steady state', () => {
  it('sets its flags, in order, then collects at an idle moment only once the heap grew by the threshold', () => {
    const set: string[] = [];
    let used = 10_000_000;
    let collections = 0;
    let lookups = 0;
    const collectIfGrown = tuneHeapForSteadyState(
      {
        setFlag: (f) => set.push(f),
        collector: () => {
          // gc is only reachable once --expose-gc is set; it is looked up when first needed
          expect(set).toContain('--expose-gc');
          lookups++;
          return () => {
            collections++;
            used = 10_200_000; // what the collection left
          };
        },
        usedBytes: () => used,
      },
      1_000_000,
    );
    expect(set).toEqual([...STEADY_STATE_V8_FLAGS]);
    expect(lookups).toBe(0);
    used += 999_999;
    expect(collectIfGrown()).toBe(false);
    used += 1;
    expect(collectIfGrown()).toBe(true);
    expect(collections).toBe(1);
    // Measured from what the collection left, not from where it started.
    used = 11_100_000;
    expect(collectIfGrown()).toBe(false);
    used = 11_200_000;
    expect(collectIfGrown()).toBe(true);
    expect(collections).toBe(2);
    expect(lookups).toBe(1);
  });

  it('takes effect when set at run time: the young generation stops growing where loading left it, gc is reachable', () => {
    const untuned = runWorkload([]);
    const tuned = runWorkload(STEADY_STATE_V8_FLAGS);
    expect(untuned.gc).toBe('undefined');
    expect(tuned.gc).toBe('function');
    // Without the flags the young generation keeps growing with the survivors...
    expect(untuned.after).toBeGreaterThan(untuned.loaded);
    // ...with them it is no larger than it was when they were set.
    expect(tuned.after).toBeLessThanOrEqual(tuned.loaded);
  });
});

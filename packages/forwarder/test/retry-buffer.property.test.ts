import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RetryBuffer } from '../src/index.js';

describe('RetryBuffer properties', () => {
  it('never holds more than its bound, and accounts for every request pushed', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5_000 }),
        fc.array(
          fc.oneof(
            fc.record({
              op: fc.constant('push' as const),
              bytes: fc.integer({ min: 0, max: 3_000 }),
              age: fc.nat(100),
            }),
            fc.record({ op: fc.constant('take' as const) }),
          ),
          { maxLength: 200 },
        ),
        (max, ops) => {
          const b = new RetryBuffer(max);
          let pushed = 0;
          let taken = 0;
          for (const o of ops) {
            if (o.op === 'push') {
              b.push({ body: new Uint8Array(o.bytes), items: 1, firstTriedAt: o.age });
              pushed++;
            } else {
              const all = b.takeAll();
              taken += all.length;
              // Oldest first.
              for (let k = 1; k < all.length; k++)
                expect(all[k]!.firstTriedAt).toBeGreaterThanOrEqual(all[k - 1]!.firstTriedAt);
            }
            expect(b.bytes).toBeLessThanOrEqual(max);
          }
          const s = b.stats();
          expect(taken + s.requests + s.droppedRequests).toBe(pushed);
        },
      ),
    );
  });
});

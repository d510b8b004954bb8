import type { FlushCore, FlushDecision, FlushEvent, FlushOutcome } from '@serverless-agent/flush-strategy';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FlushDriver } from '../src/flush-driver.js';

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

// The core's decisions are the driver's input: a core that answers the first event with one blocking
// flush of `budgetMs` (and later events with nothing) lets the waiting be checked on its own. The
// flush the driver starts resolves when the test says.
function blockingFlush(id: number, budgetMs: number) {
  const events: FlushEvent[] = [];
  const first = [{ type: 'flush-blocking', id, reason: 'end', budgetMs } as FlushDecision];
  const core = {
    handle(event: FlushEvent) {
      events.push(event);
      return events.length === 1 ? first : [];
    },
  } as unknown as FlushCore;
  const flush = deferred<FlushOutcome>();
  return { events, flush, driver: new FlushDriver(core, () => flush.promise) };
}

describe('FlushDriver', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('a blocking flush holds send until it is done, and leaves no budget timer behind', async () => {
    const { events, flush, driver } = blockingFlush(1, 60_000);
    const set = vi.spyOn(globalThis, 'setTimeout');
    const clear = vi.spyOn(globalThis, 'clearTimeout');
    let returned = false;
    const sent = driver.send({ type: 'runtime-done', requestId: 'r1' } as FlushEvent).then((d) => {
      returned = true;
      return d;
    });
    await new Promise((r) => setImmediate(r));
    expect(returned).toBe(false);
    flush.resolve('success');
    const decisions = await sent;
    expect(decisions.map((d) => d.type)).toEqual(['flush-blocking']);
    // The 60 s budget timer is cleared once the flush ended: nothing keeps a frozen sandbox's loop busy.
    const budgetCall = set.mock.calls.findIndex(([, ms]) => ms === 60_000);
    expect(budgetCall).toBeGreaterThanOrEqual(0);
    expect(clear).toHaveBeenCalledWith(set.mock.results[budgetCall]?.value);
    expect(events.map((e) => e.type)).toEqual(['runtime-done', 'flush-finished']);
    driver.close();
  });

  it('a flush that outlasts its budget lets send return at the budget, and still reports its end', async () => {
    const { events, flush, driver } = blockingFlush(7, 5);
    await driver.send({ type: 'runtime-done', requestId: 'r1' } as FlushEvent);
    // Returned while the flush is still out: only its decision has been seen.
    expect(events.map((e) => e.type)).toEqual(['runtime-done']);
    flush.resolve('partial');
    await new Promise((r) => setImmediate(r));
    expect(events.at(-1)).toMatchObject({ type: 'flush-finished', id: 7, outcome: 'partial' });
    driver.close();
  });
});

// The README's example app, run with real timers: the core stays pure, the app owns the timer and
// the waits. Nothing here asserts on elapsed time; it waits for events.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import { FlushCore, type FlushEvent, type FlushOutcome, type FlushStrategy } from '../src/index.js';

class FlushDriver {
  readonly #core: FlushCore;
  readonly #flush: () => Promise<FlushOutcome>;
  readonly #inFlight = new Map<number, Promise<void>>();
  #timer: NodeJS.Timeout | undefined;

  constructor(core: FlushCore, flush: () => Promise<FlushOutcome>) {
    this.#core = core;
    this.#flush = flush;
  }

  /** Feeds one event to the core; resolves when the app may carry on (call /next, or exit). */
  async send(event: FlushEvent): Promise<void> {
    const waits: Promise<void>[] = [];
    let budgetMs = 0;
    for (const d of this.#core.handle(event)) {
      switch (d.type) {
        case 'arm-timer':
          clearTimeout(this.#timer);
          this.#timer = setTimeout(() => void this.send({ type: 'timer' }), Math.max(0, d.at - Date.now()));
          break;
        case 'flush-blocking':
          waits.push(...this.#inFlight.values(), this.#start(d.id));
          budgetMs = d.budgetMs;
          break;
        case 'flush-background':
          this.#start(d.id);
          break;
        case 'nothing':
          break;
      }
    }
    if (waits.length > 0) {
      const ac = new AbortController();
      await Promise.race([
        Promise.allSettled(waits),
        sleep(budgetMs, undefined, { signal: ac.signal }).catch(() => {}),
      ]);
      ac.abort();
    }
  }

  stop(): void {
    clearTimeout(this.#timer);
  }

  #start(id: number): Promise<void> {
    const startedAt = Date.now();
    const done = this.#flush()
      .catch((): FlushOutcome => 'failure')
      .then((outcome) => {
        this.#inFlight.delete(id);
        void this.send({ type: 'flush-finished', id, outcome, durationMs: Date.now() - startedAt });
      });
    this.#inFlight.set(id, done);
    return done;
  }
}

function rig(strategy: FlushStrategy, flush: () => Promise<FlushOutcome>) {
  const core = new FlushCore({ strategy, clock: Date.now });
  return { core, driver: new FlushDriver(core, flush) };
}

describe('an app driving the core with its own timers', () => {
  it('serverless-init: the 3 s timer (here 20 ms) flushes in the background until shutdown', async () => {
    let flushes = 0;
    const { core, driver } = rig({ kind: 'timer', intervalMs: 20 }, async () => {
      flushes++;
      await sleep(2);
      return 'success';
    });
    await driver.send({ type: 'extension-started' });
    await vi.waitFor(() => expect(flushes).toBeGreaterThanOrEqual(3), { timeout: 10_000, interval: 10 });
    const before = flushes;
    await driver.send({ type: 'shutdown', deadlineMs: Date.now() + 5000 });
    expect(flushes).toBe(before + 1);
    expect(core.inFlight).toBe(0);
    driver.stop();
  });

  it('end: the app does not go on before the end-of-invocation flush has finished', async () => {
    const log: string[] = [];
    const { driver } = rig({ kind: 'end' }, async () => {
      log.push('flush started');
      await sleep(20);
      log.push('flush finished');
      return 'success';
    });
    await driver.send({ type: 'extension-started' });
    await driver.send({ type: 'invocation-started', deadlineMs: Date.now() + 10_000 });
    await driver.send({ type: 'runtime-done' });
    log.push('next');
    expect(log).toEqual(['flush started', 'flush finished', 'next']);
    driver.stop();
  });

  it('an unhealthy intake holds the function no longer than the unhealthy budget', async () => {
    let release: (() => void) | undefined;
    const { core, driver } = rig({ kind: 'end' }, () => {
      return new Promise<FlushOutcome>((resolve) => {
        release = () => resolve('timeout');
      });
    });
    await driver.send({ type: 'extension-started' });
    await driver.send({ type: 'backend-health', healthy: false, unhealthyBudgetMs: 30 });
    await driver.send({ type: 'invocation-started', deadlineMs: Date.now() + 600_000 });
    // the flush never ends by itself: send() resolves on the 30 ms budget
    await driver.send({ type: 'runtime-done' });
    expect(core.inFlight).toBe(1);
    release?.();
    await vi.waitFor(() => expect(core.inFlight).toBe(0), { timeout: 10_000, interval: 5 });
    driver.stop();
  });
});

// Random lifecycles (seeded, so a failure replays) checked against what the core promises on every
// decision, for every strategy and both variants.
import { seededRandom } from '@serverless-agent/testkit';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DEADLINE_MARGIN_MS,
  DEFAULT_UNHEALTHY_BUDGET_MS,
  FlushCore,
  type FlushDecision,
  type FlushEvent,
  type FlushStrategy,
  type FlushVariant,
} from '../src/index.js';

const strategies: FlushStrategy[] = [
  { kind: 'default' },
  { kind: 'end' },
  { kind: 'end-periodically', intervalMs: 0 },
  { kind: 'end-periodically', intervalMs: 10_000 },
  { kind: 'periodically', intervalMs: 500 },
  { kind: 'periodically', intervalMs: 20_000 },
  { kind: 'continuously', intervalMs: 1000 },
  { kind: 'continuously', intervalMs: 4_000_000_000 },
  { kind: 'timer', intervalMs: 3000 },
];

const MAX_TIMER_STEP_MS = 2 ** 31 - 1;

function check(strategy: FlushStrategy, variant: FlushVariant, seed: number): number {
  const r = seededRandom(seed);
  let now = 1_700_000_000_000 + Math.floor(r() * 1e6);
  const flushTimeoutS = r() < 0.2 ? Math.floor(r() * 40) : 30;
  const core = new FlushCore({ strategy, variant, flushTimeoutS, clock: () => now });
  const open = new Set<number>();
  let lastId = 0;
  let healthy = true;
  let deadline: number | undefined;
  let phase: 'idle' | 'invocation' | 'shutdown' = 'idle';
  let checked = 0;

  const send = (event: FlushEvent): readonly FlushDecision[] => {
    const decisions = core.handle(event);
    const [first, ...rest] = decisions;
    expect(first).toBeDefined();
    expect(first!.type).not.toBe('arm-timer');
    expect(rest.length).toBeLessThanOrEqual(1);
    for (const d of rest) expect(d.type).toBe('arm-timer');
    for (const d of decisions) {
      checked++;
      if (phase === 'shutdown' && event.type !== 'shutdown') expect(d.type).toBe('nothing');
      if (d.type === 'arm-timer') {
        expect(d.at).toBeGreaterThanOrEqual(now);
        expect(d.at - now).toBeLessThanOrEqual(MAX_TIMER_STEP_MS);
      }
      if (d.type === 'flush-blocking' || d.type === 'flush-background') {
        expect(d.id).toBeGreaterThan(lastId);
        lastId = d.id;
        open.add(d.id);
        expect(d.final).toBe(event.type === 'shutdown');
      }
      if (d.type === 'flush-blocking') {
        expect(Number.isFinite(d.budgetMs)).toBe(true);
        expect(d.budgetMs).toBeGreaterThanOrEqual(0);
        expect(d.budgetMs).toBeLessThanOrEqual(flushTimeoutS * 1000);
        if (variant === 'aware' && deadline !== undefined) {
          expect(d.budgetMs).toBeLessThanOrEqual(deadline - now - DEFAULT_DEADLINE_MARGIN_MS);
          if (!d.final)
            expect(core.flushEstimateMs).toBeLessThanOrEqual(deadline - now - DEFAULT_DEADLINE_MARGIN_MS);
        }
        if (variant === 'aware' && !healthy && !d.final)
          expect(d.budgetMs).toBeLessThanOrEqual(DEFAULT_UNHEALTHY_BUDGET_MS);
      }
    }
    return decisions;
  };

  send({ type: 'extension-started' });
  for (let step = 0; step < 400; step++) {
    const x = r();
    // time passes: mostly milliseconds, sometimes a freeze of minutes or hours
    now += x < 0.05 ? Math.floor(r() * 7_200_000) : Math.floor(r() * 3000);
    const pick = r();
    if (pick < 0.25 && phase !== 'invocation') {
      deadline = now + 100 + Math.floor(r() * 10_000);
      phase = 'invocation';
      send({ type: 'invocation-started', deadlineMs: deadline });
    } else if (pick < 0.45 && phase === 'invocation') {
      phase = 'idle';
      send({ type: 'runtime-done' });
    } else if (pick < 0.65) {
      send({ type: 'timer' });
    } else if (pick < 0.85 && open.size > 0) {
      const ids = [...open];
      const id = ids[Math.floor(r() * ids.length)]!;
      open.delete(id);
      const outcomes = ['success', 'partial', 'failure', 'timeout'] as const;
      send({
        type: 'flush-finished',
        id,
        outcome: outcomes[Math.floor(r() * 4)]!,
        durationMs: Math.floor(r() * 4000),
      });
    } else if (pick < 0.95) {
      healthy = r() < 0.6;
      send({ type: 'backend-health', healthy });
    } else if (pick < 0.96) {
      deadline = now + Math.floor(r() * 3000) - 500;
      send({ type: 'shutdown', deadlineMs: deadline });
      phase = 'shutdown';
    }
  }
  return checked;
}

describe('invariants over random lifecycles', () => {
  for (const variant of ['aware', 'datadog'] as const) {
    it.each(strategies.map((s) => [JSON.stringify(s), s] as const))(`${variant} %s`, (_name, strategy) => {
      let checked = 0;
      for (let seed = 1; seed <= 40; seed++) checked += check(strategy, variant, seed);
      expect(checked).toBeGreaterThan(10_000);
    });
  }
});

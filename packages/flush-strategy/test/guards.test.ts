import { describe, expect, it } from 'vitest';
import { done, finish, health, invoke, Rig, replay, shutdown, start, T0, timer } from './rig.js';

describe('deadline-awareness', () => {
  it('does not start a blocking end flush that recent flushes say cannot finish in time', () => {
    const rig = new Rig({ strategy: { kind: 'end' } });
    const { expected, actual } = replay(rig, [
      [0, start, '- recorded ; timer +900000'],
      [1, invoke(3), '- wait-for-runtime-done'],
      [1.1, done, 'block end-of-invocation 2800 ; timer +900000'],
      // the intake was slow: 2.5 s
      [3.6, finish(2500), '- recorded ; timer +900000'],
      // 900 ms left before the deadline minus the 100 ms margin: do not hold the function
      [10, invoke(3), '- wait-for-runtime-done'],
      [12, done, 'bg end-of-invocation (deadline) ; timer +900000'],
      [14, finish(2000), '- recorded'],
      // plenty of time: block, the wait bounded by what is left
      [20, invoke(10), '- wait-for-runtime-done'],
      [21, done, 'block end-of-invocation 8900 ; timer +900000'],
      [21.5, finish(500), '- recorded ; timer +900000'],
      // past the margin: nothing can be waited for
      [30, invoke(1), '- wait-for-runtime-done'],
      [30.95, done, 'bg end-of-invocation (deadline) ; timer +900000'],
    ]);
    expect(actual).toEqual(expected);
    expect(rig.core.flushEstimateMs).toBe(2500);
  });

  it('Datadog blocks regardless (the sandbox would time out)', () => {
    const rig = new Rig({ strategy: { kind: 'end' }, variant: 'datadog' });
    const { expected, actual } = replay(rig, [
      [0, start, '- recorded ; timer +900000'],
      [1, invoke(3), '- wait-for-runtime-done'],
      [1.1, done, 'block end-of-invocation 30000 ; timer +900000'],
      [3.6, finish(2500), '- recorded ; timer +900000'],
      [10, invoke(3), '- wait-for-runtime-done'],
      [12, done, 'block end-of-invocation 30000 ; timer +900000'],
    ]);
    expect(actual).toEqual(expected);
  });

  it('applies to the periodic flush at the top of an invocation and to the backup timer', () => {
    const rig = new Rig({ strategy: { kind: 'periodically', intervalMs: 1000 } });
    const { expected, actual } = replay(rig, [
      [0, start, '- recorded ; timer +1000'],
      [2, invoke(3), 'block start-of-invocation 2900 ; timer +1000'],
      [3.5, finish(1500), '- recorded ; timer +1000'],
      [10, invoke(1.5), 'bg start-of-invocation (deadline) ; timer +1000'],
      [10.2, finish(200), '- recorded'],
    ]);
    expect(actual).toEqual(expected);
    const def = new Rig({ strategy: { kind: 'default' } });
    const seq = replay(def, [
      [0, start, '- recorded ; timer +60000'],
      [1, invoke(900), '- wait-for-runtime-done'],
      [1.1, done, 'block end-of-invocation 30000 ; timer +60000'],
      [1.2, finish(100), '- recorded ; timer +60000'],
      [2, invoke(60), '- wait-for-runtime-done'],
      [2.1, done, 'block end-of-invocation 30000 ; timer +60000'],
      [30, finish(27900), '- recorded ; timer +60000'],
      // a 27.9 s flush does not fit the 1.9 s left when the timer fires
      [40, invoke(32), '- wait-for-runtime-done'],
      [90, timer, 'bg backup-timer (deadline) ; timer +60000'],
    ]);
    expect(seq.actual).toEqual(seq.expected);
  });

  it('bounds the final flush by the shutdown deadline, and only by it', () => {
    const quick = new Rig({ strategy: { kind: 'end' } });
    quick.step(0, start);
    expect(quick.step(5, shutdown(2))).toBe('block shutdown 1900 final');

    const slow = new Rig({ strategy: { kind: 'end' } });
    const { expected, actual } = replay(slow, [
      [0, start, '- recorded ; timer +900000'],
      [1, invoke(10), '- wait-for-runtime-done'],
      [1.1, done, 'block end-of-invocation 9800 ; timer +900000'],
      [4.1, finish(3000), '- recorded ; timer +900000'],
      // the last chance: it waits what is left even if recent flushes were slower
      [5, shutdown(2), 'block shutdown 1900 final'],
    ]);
    expect(actual).toEqual(expected);

    const late = new Rig({ strategy: { kind: 'end' } });
    late.step(0, start);
    expect(late.step(5, { type: 'shutdown', graceS: 0.05 })).toBe('bg shutdown (deadline) final');
  });

  it('treats a deadline that is not a number as no deadline', () => {
    const rig = new Rig({ strategy: { kind: 'end' } });
    rig.step(0, start);
    rig.at(1);
    rig.core.handle({ type: 'invocation-started', deadlineMs: Number.NaN });
    rig.at(1.1);
    expect(rig.core.handle({ type: 'runtime-done' })[0]).toMatchObject({
      type: 'flush-blocking',
      budgetMs: 30_000,
    });
    rig.at(2);
    expect(rig.core.handle({ type: 'shutdown', deadlineMs: Number.POSITIVE_INFINITY })[0]).toMatchObject({
      type: 'flush-blocking',
      budgetMs: 30_000,
      final: true,
    });
  });

  it('takes the estimate from the last eight flushes only', () => {
    const rig = new Rig({ strategy: { kind: 'end' } });
    rig.step(0, start);
    rig.step(1, invoke(60));
    rig.step(1.1, done);
    rig.step(5.1, finish(4000));
    expect(rig.core.flushEstimateMs).toBe(4000);
    for (let i = 0; i < 8; i++) {
      rig.step(10 + i, invoke(60));
      rig.step(10.1 + i, done);
      rig.step(10.2 + i, finish(100));
    }
    expect(rig.core.flushEstimateMs).toBe(100);
  });

  it('keeps durations on a process that is never frozen', () => {
    const rig = new Rig({ strategy: { kind: 'timer', intervalMs: 3000 } });
    rig.step(0, start);
    expect(rig.step(3, timer)).toBe('bg interval ; timer +3000');
    rig.step(3.5, invoke(60));
    rig.step(4, finish(1000));
    expect(rig.core.flushEstimateMs).toBe(1000);
  });

  it('ignores durations that include a freeze', () => {
    const rig = new Rig({ strategy: { kind: 'continuously', intervalMs: 1000 } });
    rig.step(0, start);
    expect(rig.step(2, invoke(3))).toBe('bg start-of-invocation ; timer +1000');
    rig.step(2.1, done);
    // frozen with the request in flight; it completes after the thaw, an hour of wall time later
    rig.step(3602, invoke(3));
    expect(rig.step(3602.1, finish(3_600_100))).toBe('- recorded');
    expect(rig.core.flushEstimateMs).toBe(0);
  });
});

describe('thaw after a long freeze', () => {
  // One invocation, then an hour frozen: the 60 s backup timer came due 59 minutes ago and never fired.
  const before = [
    [0, start, '- recorded ; timer +60000'],
    [1, invoke(3), '- wait-for-runtime-done'],
    [1.1, done, 'block end-of-invocation 2800 ; timer +60000'],
    [1.2, finish(100), '- recorded ; timer +60000'],
  ] as const;

  it('decides at the thaw with the real time: a background flush, the timer re-armed', () => {
    const rig = new Rig({ strategy: { kind: 'default' } });
    const { expected, actual } = replay(rig, [
      ...before,
      [3601, invoke(3), 'bg overdue-after-thaw ; timer +60000'],
      // the app's own timer fires right after the thaw: it is not due any more
      [3601.001, timer, '- timer-not-due ; timer +59999'],
      [3601.1, done, 'block end-of-invocation 2800 ; timer +60000'],
    ]);
    expect(actual).toEqual(expected);
  });

  it('the same when the late timer reaches the core before the invocation does', () => {
    const rig = new Rig({ strategy: { kind: 'default' } });
    const { expected, actual } = replay(rig, [
      ...before,
      [3601, timer, '- timer-inactive'],
      [3601.001, invoke(3), 'bg overdue-after-thaw ; timer +60000'],
    ]);
    expect(actual).toEqual(expected);
  });

  it('after runtime done on the adaptive path, a late timer flushes in the background, not holding /next', () => {
    const rig = new Rig({ strategy: { kind: 'default' } });
    rig.step(0, start);
    for (let i = 1; i <= 19; i++) {
      rig.step(i, invoke());
      rig.step(i + 0.1, done);
      rig.step(i + 0.15, finish(50));
    }
    rig.step(20, invoke());
    rig.step(20.1, done);
    // frozen after the 20th (no flush at its end): the data waits; the tick due at 79.15 s fires at the thaw
    expect(rig.step(900, timer)).toBe('bg overdue-after-thaw ; timer +60000');
  });

  it('Datadog: the missed tick fires at once inside the next invocation, as a blocking flush', () => {
    const rig = new Rig({ strategy: { kind: 'default' }, variant: 'datadog' });
    const { expected, actual } = replay(rig, [
      [0, start, '- recorded ; timer +60000'],
      [1, invoke(3), '- wait-for-runtime-done'],
      [1.1, done, 'block end-of-invocation 30000 ; timer +60000'],
      [1.2, finish(100), '- recorded ; timer +60000'],
      [3601, invoke(3), '- wait-for-runtime-done ; timer +0'],
      [3601, timer, 'block backup-timer 30000 ; timer +60000'],
    ]);
    expect(actual).toEqual(expected);
  });

  it('steps a timer longer than a Node timer can hold, re-arming when it fires early', () => {
    const rig = new Rig({ strategy: { kind: 'end-periodically', intervalMs: 4_000_000_000 } });
    expect(rig.step(0, start)).toBe('- recorded ; timer +2147483647');
    rig.at(2_147_483.647);
    const decisions = rig.core.handle({ type: 'timer' });
    expect(decisions).toEqual([
      { type: 'nothing', reason: 'timer-not-due' },
      { type: 'arm-timer', at: T0 + 4_000_000_000 },
    ]);
  });

  it('ignores health reports and flush reports after shutdown', () => {
    const rig = new Rig({ strategy: { kind: 'end' } });
    rig.step(0, start);
    rig.step(1, shutdown());
    expect(rig.step(1.1, health(false))).toBe('- shut-down');
    expect(rig.step(1.2, finish(100))).toBe('- shut-down');
    expect(rig.core.inFlight).toBe(0);
  });
});

describe('counters and log lines', () => {
  it('counts decisions and logs a downgrade at most once a minute', () => {
    const lines: string[] = [];
    const logger = { debug: (m: string) => lines.push(m), info() {}, warn() {}, error() {} };
    const rig = new Rig({ strategy: { kind: 'end' }, logger });
    rig.step(0, start);
    rig.step(1, invoke(3));
    rig.step(1.1, done);
    rig.step(3.6, finish(2500));
    for (let i = 0; i < 10; i++) {
      rig.step(10 + i, invoke(1));
      expect(rig.step(10.5 + i, done)).toMatch(/^bg end-of-invocation \(deadline\)/);
    }
    rig.step(100, invoke(1));
    rig.step(100.5, done);
    expect(lines.filter((l) => l.includes('would not finish'))).toHaveLength(2);
    rig.step(101, health(false));
    rig.step(102, invoke(10));
    rig.step(102.1, done);
    expect(rig.core.counters).toEqual({
      blocking: 2,
      background: 11,
      downgradedForDeadline: 11,
      cappedByHealth: 1,
      overdueAfterThaw: 0,
    });
  });
});

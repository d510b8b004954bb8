import { describe, expect, it } from 'vitest';
import type { FlushCoreOptions } from '../src/index.js';
import { done, finish, health, invoke, Rig, replay, type Step, shutdown, start, timer } from './rig.js';

// Recorded sequences: what each strategy decides, event by event. Times are seconds after a whole
// second; timers are relative to the event; budgets are ms. Function timeout 3 s unless given.
interface Sequence {
  readonly name: string;
  readonly options: Omit<FlushCoreOptions, 'clock'>;
  readonly steps: readonly Step[];
}

const sequences: Sequence[] = [
  {
    name: 'end: a blocking flush after every invocation, its wait bounded by the deadline',
    options: { strategy: { kind: 'end' } },
    steps: [
      [0, start, '- recorded ; timer +900000'],
      [1, invoke(), '- wait-for-runtime-done'],
      [1.2, done, 'block end-of-invocation 2700 ; timer +900000'],
      [1.3, finish(100), '- recorded ; timer +900000'],
      [500, invoke(), '- wait-for-runtime-done'],
      [500.05, done, 'block end-of-invocation 2850 ; timer +900000'],
      [500.1, finish(50), '- recorded ; timer +900000'],
      [501, shutdown(), 'block shutdown 1900 final'],
      [501.1, finish(100), '- shut-down'],
      [502, invoke(), '- shut-down'],
    ],
  },
  {
    name: 'end (Datadog): the wait is DD_FLUSH_TIMEOUT, whatever the deadline',
    options: { strategy: { kind: 'end' }, variant: 'datadog' },
    steps: [
      [0, start, '- recorded ; timer +900000'],
      [1, invoke(), '- wait-for-runtime-done'],
      [1.2, done, 'block end-of-invocation 30000 ; timer +900000'],
      [1.3, finish(100), '- recorded ; timer +900000'],
      [2, shutdown(), 'block shutdown 30000 final'],
    ],
  },
  {
    name: 'end,10000: end-of-invocation flushes only once more than 10 whole seconds have passed',
    options: { strategy: { kind: 'end-periodically', intervalMs: 10_000 } },
    steps: [
      [0, start, '- recorded ; timer +10000'],
      [5, invoke(), '- interval-not-passed'],
      [5.1, done, '- no-flush-this-phase'],
      [10, invoke(), '- interval-not-passed'],
      [10.1, done, '- no-flush-this-phase'],
      // the tick due at 10 s is late: on the End path it is a background flush now
      [11, invoke(), 'bg overdue-after-thaw ; timer +10000'],
      [11.1, done, 'block end-of-invocation 2800 ; timer +10000'],
      [11.2, finish(100), '- recorded ; timer +10000'],
      [15, invoke(), '- interval-not-passed'],
      [15.1, done, '- no-flush-this-phase'],
      // the timer only flushes on the End path (during an invocation that will flush at its end)
      [21.2, timer, '- timer-inactive'],
      [30, invoke(60), 'bg overdue-after-thaw ; timer +10000'],
      [31, done, 'block end-of-invocation 30000 ; timer +10000'],
      [31.1, finish(100), '- recorded ; timer +10000'],
    ],
  },
  {
    name: 'end,10000 (Datadog): the missed tick fires at once, a blocking flush during a long invocation',
    options: { strategy: { kind: 'end-periodically', intervalMs: 10_000 }, variant: 'datadog' },
    steps: [
      [0, start, '- recorded ; timer +10000'],
      [11, invoke(60), '- wait-for-runtime-done ; timer +0'],
      [11, timer, 'block backup-timer 30000 ; timer +10000'],
      [11.1, finish(100), '- recorded ; timer +10000'],
      [21.1, timer, 'block backup-timer 30000 ; timer +10000'],
      [21.2, finish(100), '- recorded ; timer +10000'],
      [25, done, 'block end-of-invocation 30000 ; timer +10000'],
    ],
  },
  {
    name: 'periodically,20000: a blocking flush at the start of an invocation, once 20 s have passed',
    options: { strategy: { kind: 'periodically', intervalMs: 20_000 } },
    steps: [
      [0, start, '- recorded ; timer +20000'],
      [10, invoke(), '- interval-not-passed'],
      [10.1, done, '- no-flush-this-phase'],
      [20, invoke(), '- interval-not-passed'],
      [20.1, done, '- no-flush-this-phase'],
      [21, invoke(), 'block start-of-invocation 2900 ; timer +20000'],
      [21.05, done, '- no-flush-this-phase'],
      [21.1, finish(100), '- recorded ; timer +20000'],
      // the timer never flushes outside the End path for this strategy
      [41.1, timer, '- timer-inactive'],
      [41, invoke(), '- interval-not-passed'],
      [41.05, done, '- no-flush-this-phase'],
      [42, invoke(), 'block start-of-invocation 2900 ; timer +20000'],
    ],
  },
  {
    name: 'periodically,20000 (Datadog)',
    options: { strategy: { kind: 'periodically', intervalMs: 20_000 }, variant: 'datadog' },
    steps: [
      [0, start, '- recorded ; timer +20000'],
      [21, invoke(), 'block start-of-invocation 30000 ; timer +20000'],
    ],
  },
  {
    name: 'periodically,500: whole seconds, so at most one flush per second',
    options: { strategy: { kind: 'periodically', intervalMs: 500 } },
    steps: [
      [0, start, '- recorded ; timer +500'],
      [0.5, invoke(), '- interval-not-passed'],
      [0.6, done, '- no-flush-this-phase'],
      [1, invoke(), 'block start-of-invocation 2900 ; timer +500'],
      [1.9, invoke(), '- interval-not-passed'],
      [2, invoke(), 'block start-of-invocation 2900 ; timer +500'],
    ],
  },
  {
    name: 'periodically,0: valid, the timer floored at 1 ms (the upstream extension panics on it)',
    options: { strategy: { kind: 'periodically', intervalMs: 0 } },
    steps: [
      [0, start, '- recorded ; timer +1'],
      [0.9, invoke(), '- interval-not-passed'],
      [1, invoke(), 'block start-of-invocation 2900 ; timer +1'],
    ],
  },
  {
    name: 'continuously,20000: background flushes, skipped while the previous one is out',
    options: { strategy: { kind: 'continuously', intervalMs: 20_000 } },
    steps: [
      [0, start, '- recorded ; timer +20000'],
      [10, invoke(), '- interval-not-passed'],
      [10.1, done, '- no-flush-this-phase'],
      [21, invoke(), 'bg start-of-invocation ; timer +20000'],
      [21.05, done, '- no-flush-this-phase'],
      [45, invoke(), '- flush-in-flight'],
      [45.05, done, '- no-flush-this-phase'],
      [45.1, finish(100), '- recorded'],
      // last_flush moved to 45 although nothing was sent then, as upstream
      [60, invoke(), '- interval-not-passed'],
      [67, invoke(), 'bg start-of-invocation ; timer +20000'],
    ],
  },
  {
    name: 'timer (serverless-init every 3 s): background flushes, a tick skipped while one is out',
    options: { strategy: { kind: 'timer', intervalMs: 3000 } },
    steps: [
      [0, start, '- recorded ; timer +3000'],
      [2.5, timer, '- timer-not-due ; timer +500'],
      [3, timer, 'bg interval ; timer +3000'],
      [6, timer, '- flush-in-flight ; timer +3000'],
      [6.5, finish(3400), '- recorded'],
      [9, timer, 'bg interval ; timer +3000'],
      [9.2, finish(200), '- recorded'],
      [10, invoke(), '- no-flush-this-phase'],
      [10.1, done, '- no-flush-this-phase'],
      // a late tick fires once, the missed ones are skipped
      [30, timer, 'bg interval ; timer +3000'],
      [30.1, finish(100), '- recorded'],
      [31, shutdown(10), 'block shutdown 9900 final'],
      [31.2, finish(200), '- shut-down'],
      [34, timer, '- shut-down'],
    ],
  },
  {
    name: 'timer (managed instances, every 30 s)',
    options: { strategy: { kind: 'timer', intervalMs: 30_000 } },
    steps: [
      [0, start, '- recorded ; timer +30000'],
      [1, invoke(60), '- no-flush-this-phase'],
      [2, invoke(60), '- no-flush-this-phase'],
      [30, timer, 'bg interval ; timer +30000'],
      [30.5, finish(500), '- recorded'],
      [60, timer, 'bg interval ; timer +30000'],
    ],
  },
  {
    name: 'default: the backup timer flushes during a long invocation (and never before the first)',
    options: { strategy: { kind: 'default' } },
    steps: [
      [0, start, '- recorded ; timer +60000'],
      [60, timer, '- timer-inactive'],
      [61, invoke(900), 'bg overdue-after-thaw ; timer +60000'],
      [61.1, finish(100), '- recorded'],
      [121, timer, 'block backup-timer 30000 ; timer +60000'],
      [121.2, finish(200), '- recorded ; timer +60000'],
      [150, done, 'block end-of-invocation 30000 ; timer +60000'],
      [150.1, finish(100), '- recorded ; timer +60000'],
    ],
  },
  {
    name: 'default (Datadog): the first tick after the freeze is a blocking flush inside the invocation',
    options: { strategy: { kind: 'default' }, variant: 'datadog' },
    steps: [
      [0, start, '- recorded ; timer +60000'],
      [60, timer, '- timer-inactive'],
      [61, invoke(900), '- wait-for-runtime-done ; timer +0'],
      [61, timer, 'block backup-timer 30000 ; timer +60000'],
      [61.1, finish(100), '- recorded ; timer +60000'],
      [121.1, timer, 'block backup-timer 30000 ; timer +60000'],
      [121.2, finish(100), '- recorded ; timer +60000'],
      [150, done, 'block end-of-invocation 30000 ; timer +60000'],
    ],
  },
  {
    name: 'before the extension starts, and unknown flush ids',
    options: { strategy: { kind: 'end' } },
    steps: [
      [0, invoke(), '- not-started'],
      [0, timer, '- not-started'],
      [1, start, '- recorded ; timer +900000'],
      [1, start, '- recorded'],
      [2, finish(5, 999), '- recorded'],
      [3, timer, '- timer-not-due ; timer +898000'],
    ],
  },
];

describe('recorded sequences', () => {
  it.each(sequences.map((s) => [s.name, s] as const))('%s', (_name, sequence) => {
    const { expected, actual } = replay(new Rig(sequence.options), sequence.steps);
    expect(actual).toEqual(expected);
  });
});

describe('health', () => {
  it('an unhealthy destination bounds the blocking wait; health back restores it', () => {
    const rig = new Rig({ strategy: { kind: 'end' } });
    const { expected, actual } = replay(rig, [
      [0, start, '- recorded ; timer +900000'],
      [0, health(false), '- recorded'],
      [1, invoke(), '- wait-for-runtime-done'],
      [1.1, done, 'block end-of-invocation 250 ; timer +900000'],
      [1.4, finish(300), '- recorded ; timer +900000'],
      [2, health(false, 400), '- recorded'],
      [3, invoke(), '- wait-for-runtime-done'],
      [3.1, done, 'block end-of-invocation 400 ; timer +900000'],
      [3.5, finish(400), '- recorded ; timer +900000'],
      [4, health(true), '- recorded'],
      [5, invoke(), '- wait-for-runtime-done'],
      [5.1, done, 'block end-of-invocation 2800 ; timer +900000'],
      [5.2, finish(100), '- recorded ; timer +900000'],
      [6, health(false), '- recorded'],
      // the final flush holds no function: it waits what is left before the shutdown deadline
      [7, shutdown(), 'block shutdown 1900 final'],
    ]);
    expect(actual).toEqual(expected);
  });

  it('Datadog waits DD_FLUSH_TIMEOUT on an unhealthy destination', () => {
    const rig = new Rig({ strategy: { kind: 'end' }, variant: 'datadog', flushTimeoutS: 10 });
    const { expected, actual } = replay(rig, [
      [0, start, '- recorded ; timer +900000'],
      [0, health(false), '- recorded'],
      [1, invoke(), '- wait-for-runtime-done'],
      [1.1, done, 'block end-of-invocation 10000 ; timer +900000'],
    ]);
    expect(actual).toEqual(expected);
  });

  it('health reported before the start is kept', () => {
    const rig = new Rig({ strategy: { kind: 'end' }, unhealthyBudgetMs: 150 });
    const { expected, actual } = replay(rig, [
      [0, health(false), '- not-started'],
      [0, start, '- recorded ; timer +900000'],
      [1, invoke(), '- wait-for-runtime-done'],
      [1.1, done, 'block end-of-invocation 150 ; timer +900000'],
    ]);
    expect(actual).toEqual(expected);
  });
});

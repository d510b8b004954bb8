import {
  FlushCore,
  type FlushCoreOptions,
  type FlushDecision,
  type FlushEvent,
  type FlushOutcome,
} from '../src/index.js';

/** A whole second, so that the core's whole-second arithmetic is easy to follow in the tables. */
export const T0 = 1_700_000_000_000;

/** One recorded step: at `t` seconds after T0, this event, and the decisions it must produce. */
export type Step = readonly [t: number, event: RigEvent, expected: string];

/** Events as recorded; `finish` refers to the most recent flush the core asked for (or `of`). */
export type RigEvent =
  | Exclude<FlushEvent, { type: 'invocation-started' } | { type: 'shutdown' } | { type: 'flush-finished' }>
  | { type: 'invocation-started'; timeoutS: number }
  | { type: 'shutdown'; graceS: number }
  | { type: 'finish'; ms: number; outcome?: FlushOutcome; of?: number };

/** Decisions in a compact, reviewable form, with timers relative to the event's time. */
export function summarize(decisions: readonly FlushDecision[], now: number): string {
  return decisions.map((d) => summarizeOne(d, now)).join(' ; ');
}

function summarizeOne(d: FlushDecision, now: number): string {
  switch (d.type) {
    case 'flush-blocking':
      return `block ${d.reason} ${d.budgetMs}${d.final ? ' final' : ''}`;
    case 'flush-background':
      return `bg ${d.reason}${d.downgraded ? ` (${d.downgraded})` : ''}${d.final ? ' final' : ''}`;
    case 'nothing':
      return `- ${d.reason}`;
    case 'arm-timer':
      return `timer +${d.at - now}`;
  }
}

export class Rig {
  now = T0;
  readonly core: FlushCore;
  readonly flushIds: number[] = [];

  constructor(options: Omit<FlushCoreOptions, 'clock'>) {
    this.core = new FlushCore({ ...options, clock: () => this.now });
  }

  at(t: number): this {
    this.now = T0 + Math.round(t * 1000);
    return this;
  }

  send(event: RigEvent): readonly FlushDecision[] {
    const decisions = this.core.handle(this.#resolve(event));
    for (const d of decisions)
      if (d.type === 'flush-blocking' || d.type === 'flush-background') this.flushIds.push(d.id);
    return decisions;
  }

  step(t: number, event: RigEvent): string {
    this.at(t);
    return summarize(this.send(event), this.now);
  }

  #resolve(event: RigEvent): FlushEvent {
    switch (event.type) {
      case 'invocation-started':
        return { type: 'invocation-started', deadlineMs: this.now + event.timeoutS * 1000 };
      case 'shutdown':
        return { type: 'shutdown', deadlineMs: this.now + event.graceS * 1000 };
      case 'finish': {
        const id = event.of ?? this.flushIds.at(-1);
        if (id === undefined) throw new Error('finish before any flush');
        return { type: 'flush-finished', id, outcome: event.outcome ?? 'success', durationMs: event.ms };
      }
      default:
        return event;
    }
  }
}

export const start: RigEvent = { type: 'extension-started' };
export const invoke = (timeoutS = 3): RigEvent => ({ type: 'invocation-started', timeoutS });
export const done: RigEvent = { type: 'runtime-done' };
export const timer: RigEvent = { type: 'timer' };
export const finish = (ms: number, of?: number): RigEvent =>
  of === undefined ? { type: 'finish', ms } : { type: 'finish', ms, of };
export const shutdown = (graceS = 2): RigEvent => ({ type: 'shutdown', graceS });
export const health = (healthy: boolean, unhealthyBudgetMs?: number): RigEvent =>
  unhealthyBudgetMs === undefined
    ? { type: 'backend-health', healthy }
    : { type: 'backend-health', healthy, unhealthyBudgetMs };

/** Replays steps and returns [expected, actual] pairs, so a failure shows every step at once. */
export function replay(rig: Rig, steps: readonly Step[]): { expected: string[]; actual: string[] } {
  const expected: string[] = [];
  const actual: string[] = [];
  for (const [t, event, want] of steps) {
    expected.push(`${t}s ${event.type}: ${want}`);
    actual.push(`${t}s ${event.type}: ${rig.step(t, event)}`);
  }
  return { expected, actual };
}

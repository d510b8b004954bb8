import { type ConcreteStrategy, InvocationTimes } from './invocation-times.js';
import { type Logger, noopLogger } from './logger.js';
import {
  DEFAULT_BACKUP_INTERVAL_MS,
  DEFAULT_FLUSH_TIMEOUT_S,
  END_BACKUP_INTERVAL_MS,
  type FlushStrategy,
} from './strategy.js';

/** How a flush ended, as the app reports it. */
export type FlushOutcome = 'success' | 'partial' | 'failure' | 'timeout';

/** What happened, as the app tells the core. The core reads the time from its clock. */
export type FlushEvent =
  | { readonly type: 'extension-started' }
  /** `/event/next` returned INVOKE (or, on managed instances, `platform.start`). */
  | { readonly type: 'invocation-started'; readonly deadlineMs: number; readonly requestId?: string }
  /** `platform.runtimeDone`: the function has returned its response. */
  | { readonly type: 'runtime-done'; readonly requestId?: string }
  /** The timer the core last asked for has fired (early, late or stale firings are fine). */
  | { readonly type: 'timer' }
  | { readonly type: 'shutdown'; readonly deadlineMs: number }
  | {
      readonly type: 'flush-finished';
      readonly id: number;
      readonly outcome: FlushOutcome;
      readonly durationMs: number;
    }
  /** The forwarder's view of its destinations; `unhealthyBudgetMs` overrides the configured budget. */
  | { readonly type: 'backend-health'; readonly healthy: boolean; readonly unhealthyBudgetMs?: number };

export type FlushReason =
  | 'end-of-invocation'
  | 'start-of-invocation'
  | 'backup-timer'
  | 'interval'
  | 'overdue-after-thaw'
  | 'shutdown';

export type NothingReason =
  | 'not-started'
  | 'shut-down'
  | 'recorded'
  | 'wait-for-runtime-done'
  | 'interval-not-passed'
  | 'flush-in-flight'
  | 'timer-not-due'
  | 'timer-inactive'
  | 'no-flush-this-phase';

/** What the core asks the app to do. */
export type FlushDecision =
  /**
   * Flush now, and do not call `/event/next` (or exit, for a final flush) until this flush and any
   * still in flight have finished, or `budgetMs` has passed; then carry on and let the flush finish
   * in the background. Report the end with `flush-finished` and this `id`.
   */
  | {
      readonly type: 'flush-blocking';
      readonly id: number;
      readonly reason: FlushReason;
      readonly budgetMs: number;
      readonly final: boolean;
    }
  /**
   * Flush now without waiting on it. `downgraded: 'deadline'` says a blocking flush was due but, by
   * the recent flush durations, would not finish before the function's (or the shutdown) deadline.
   */
  | {
      readonly type: 'flush-background';
      readonly id: number;
      readonly reason: FlushReason;
      readonly final: boolean;
      readonly downgraded?: 'deadline';
    }
  | { readonly type: 'nothing'; readonly reason: NothingReason }
  /** (Re)arm the app's single timer at this absolute time (ms, the core's clock); replaces any other. */
  | { readonly type: 'arm-timer'; readonly at: number };

export type FlushVariant =
  /** Datadog's rule plus our guards: deadlines, unhealthy budget, thaw-aware timer. */
  | 'aware'
  /** Datadog's rule and nothing else, for comparison. */
  | 'datadog';

export interface FlushCoreOptions {
  readonly strategy: FlushStrategy;
  /** `DD_FLUSH_TIMEOUT`, seconds. Default 30. */
  readonly flushTimeoutS?: number;
  /** Milliseconds since the epoch. */
  readonly clock: () => number;
  readonly variant?: FlushVariant;
  /** How long a blocking flush waits on an unhealthy destination. Default 250 ms. */
  readonly unhealthyBudgetMs?: number;
  /** Kept free before a function or shutdown deadline. Default 100 ms. */
  readonly deadlineMarginMs?: number;
  readonly logger?: Logger;
}

/** Counts of the core's decisions since it started. */
export interface FlushCounters {
  readonly blocking: number;
  readonly background: number;
  /** Blocking flushes that became background ones because they would not have finished in time. */
  readonly downgradedForDeadline: number;
  /** Blocking flushes whose wait was shortened to the unhealthy budget. */
  readonly cappedByHealth: number;
  /** Flushes decided at a thaw for a timer that came due while the sandbox was frozen. */
  readonly overdueAfterThaw: number;
}

export const DEFAULT_UNHEALTHY_BUDGET_MS = 250;
export const DEFAULT_DEADLINE_MARGIN_MS = 100;
/** Recent flush durations the deadline estimate looks at. */
const DURATION_SAMPLES = 8;
/** Node's timers overflow past 2^31 - 1 ms; a longer wait is armed in steps (the core re-checks). */
const MAX_TIMER_STEP_MS = 2 ** 31 - 1;
/** A timer firing this much after its due time was held up by a freeze, not by a busy event loop. */
const LATE_TIMER_MS = 1_000;
const NOTE_INTERVAL_MS = 60_000;

type Phase = 'init' | 'invocation' | 'post-runtime' | 'shutdown';

interface InFlight {
  readonly blocking: boolean;
  spannedFreeze: boolean;
}

/**
 * The flush decision core. Pure: it owns no timers and does no I/O; the app feeds it events and
 * carries out the decisions. One instance per extension process.
 */
export class FlushCore {
  readonly #strategy: FlushStrategy;
  readonly #flushTimeoutS: number;
  readonly #clock: () => number;
  readonly #variant: FlushVariant;
  readonly #marginMs: number;
  readonly #logger: Logger;
  readonly #times = new InvocationTimes();
  readonly #inFlight = new Map<number, InFlight>();
  readonly #durations: number[] = [];
  #unhealthyBudgetMs: number;
  #healthy = true;
  #phase: Phase | 'not-started' = 'not-started';
  /** Datadog's `last_flush`, whole seconds. */
  #lastFlushS = 0;
  /** The invocation is on the End path: a blocking flush at runtime done. */
  #endBranch = false;
  #deadlineMs: number | undefined;
  #timerDue: number | undefined;
  #nextId = 1;
  #lastNoteAt: number | undefined;
  readonly #counters = {
    blocking: 0,
    background: 0,
    downgradedForDeadline: 0,
    cappedByHealth: 0,
    overdueAfterThaw: 0,
  };
  #lastConcrete: ConcreteStrategy | undefined;

  constructor(options: FlushCoreOptions) {
    this.#strategy = options.strategy;
    this.#flushTimeoutS = options.flushTimeoutS ?? DEFAULT_FLUSH_TIMEOUT_S;
    this.#clock = options.clock;
    this.#variant = options.variant ?? 'aware';
    this.#unhealthyBudgetMs = options.unhealthyBudgetMs ?? DEFAULT_UNHEALTHY_BUDGET_MS;
    this.#marginMs = options.deadlineMarginMs ?? DEFAULT_DEADLINE_MARGIN_MS;
    this.#logger = options.logger ?? noopLogger;
  }

  get strategy(): FlushStrategy {
    return this.#strategy;
  }

  /** The strategy the latest invocation ran under (the default strategy resolved by the adaptive rule). */
  get concreteStrategy(): ConcreteStrategy | undefined {
    return this.#lastConcrete;
  }

  /** What the core has decided so far, for the app to report. */
  get counters(): FlushCounters {
    return { ...this.#counters };
  }

  /** Flushes started and not yet reported finished. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** The estimate a blocking flush is checked against: the longest of the recent flushes. */
  get flushEstimateMs(): number {
    return this.#durations.length === 0 ? 0 : Math.max(...this.#durations);
  }

  handle(event: FlushEvent): readonly FlushDecision[] {
    if (this.#phase === 'shutdown') {
      if (event.type === 'flush-finished') this.#finished(event.id, event.durationMs);
      return [nothing('shut-down')];
    }
    if (this.#phase === 'not-started' && event.type !== 'extension-started') {
      if (event.type === 'backend-health') this.#health(event.healthy, event.unhealthyBudgetMs);
      return [nothing('not-started')];
    }
    switch (event.type) {
      case 'extension-started':
        return this.#started();
      case 'invocation-started':
        return this.#invocationStarted(event.deadlineMs);
      case 'runtime-done':
        return this.#runtimeDone();
      case 'timer':
        return this.#timer();
      case 'shutdown':
        return this.#shutdown(event.deadlineMs);
      case 'flush-finished':
        return this.#flushFinished(event.id, event.durationMs);
      case 'backend-health':
        this.#health(event.healthy, event.unhealthyBudgetMs);
        return [nothing('recorded')];
    }
  }

  #started(): readonly FlushDecision[] {
    if (this.#phase !== 'not-started') return [nothing('recorded')];
    const now = this.#clock();
    this.#phase = 'init';
    this.#lastFlushS = Math.floor(now / 1000);
    return [nothing('recorded'), this.#resetTimer(now)];
  }

  #invocationStarted(deadlineMs: number): readonly FlushDecision[] {
    const now = this.#clock();
    const nowS = Math.floor(now / 1000);
    this.#phase = 'invocation';
    this.#deadlineMs = validDeadline(deadlineMs);
    this.#endBranch = false;
    // Never frozen (managed instances, containers): invocations do not drive flushes.
    if (this.#strategy.kind === 'timer') return [nothing('no-flush-this-phase')];
    // The sandbox may have been frozen since the last runtime done: time measured across it is not flush time.
    for (const f of this.#inFlight.values()) f.spannedFreeze = true;

    this.#times.add(nowS);
    const concrete = this.#concrete(nowS);
    this.#lastConcrete = concrete;
    let action: FlushDecision;
    switch (concrete.kind) {
      case 'end':
        this.#endBranch = true;
        action = nothing('wait-for-runtime-done');
        break;
      case 'end-periodically':
        if (this.#intervalPassed(nowS, concrete.intervalMs)) {
          this.#lastFlushS = nowS;
          this.#endBranch = true;
          action = nothing('wait-for-runtime-done');
        } else action = nothing('interval-not-passed');
        break;
      case 'periodically':
        if (this.#intervalPassed(nowS, concrete.intervalMs)) {
          this.#lastFlushS = nowS;
          action = this.#blocking(now, 'start-of-invocation', false);
        } else action = nothing('interval-not-passed');
        break;
      case 'continuously':
        if (this.#intervalPassed(nowS, concrete.intervalMs)) {
          this.#lastFlushS = nowS;
          action = this.#backgroundPending()
            ? nothing('flush-in-flight')
            : this.#background('start-of-invocation', false);
        } else action = nothing('interval-not-passed');
        break;
    }
    if (action.type !== 'nothing') return [action, this.#resetTimer(now)];

    // A timer that came due while the sandbox was frozen has not fired on time. Datadog's missed
    // tick fires at once, as a blocking flush inside the new invocation; here the core decides now,
    // with the real time, and does not hold the function for data that is already late.
    if (this.#timerDue !== undefined && this.#timerDue <= now && this.#timerActive()) {
      if (this.#variant === 'aware') {
        this.#counters.overdueAfterThaw++;
        return [this.#background('overdue-after-thaw', false), this.#resetTimer(now)];
      }
      return [action, arm(now, now)];
    }
    return [action];
  }

  #runtimeDone(): readonly FlushDecision[] {
    const now = this.#clock();
    if (this.#phase !== 'invocation') return [nothing('recorded')];
    this.#phase = 'post-runtime';
    if (!this.#endBranch) return [nothing('no-flush-this-phase')];
    return [this.#blocking(now, 'end-of-invocation', false), this.#resetTimer(now)];
  }

  #timer(): readonly FlushDecision[] {
    const now = this.#clock();
    if (this.#timerDue === undefined) return [nothing('timer-inactive')];
    if (now < this.#timerDue) return [nothing('timer-not-due'), arm(this.#timerDue, now)];
    // Datadog's timer is not polled during a blocking flush, and is reset when that flush returns.
    if (this.#blockingPending()) return [nothing('flush-in-flight')];
    // Nor in the phases where its loop does not select on it: the tick stays pending until a phase that does.
    if (!this.#timerActive()) return [nothing('timer-inactive')];
    if (this.#strategy.kind === 'timer') {
      // Missed ticks are skipped, and a tick is skipped while the previous flush is still out.
      const action = this.#backgroundPending()
        ? nothing('flush-in-flight')
        : this.#background('interval', false);
      return [action, this.#resetTimer(now)];
    }
    if (this.#variant === 'datadog' || this.#phase === 'invocation')
      return [this.#blocking(now, 'backup-timer', false), this.#resetTimer(now)];
    // After runtime done the app has (or is about to have) called `/event/next`: holding it back
    // buys nothing. A timer this late fired at a thaw, not on time.
    const late = now - this.#timerDue > LATE_TIMER_MS;
    if (late) this.#counters.overdueAfterThaw++;
    return [this.#background(late ? 'overdue-after-thaw' : 'backup-timer', false), this.#resetTimer(now)];
  }

  #shutdown(deadlineMs: number): readonly FlushDecision[] {
    const now = this.#clock();
    this.#phase = 'shutdown';
    this.#deadlineMs = validDeadline(deadlineMs);
    this.#timerDue = undefined;
    return [this.#blocking(now, 'shutdown', true)];
  }

  #flushFinished(id: number, durationMs: number): readonly FlushDecision[] {
    const flight = this.#finished(id, durationMs);
    // Datadog resets its timer once a blocking flush has returned.
    if (flight?.blocking && this.#timerDue !== undefined) {
      return [nothing('recorded'), this.#resetTimer(this.#clock())];
    }
    return [nothing('recorded')];
  }

  #finished(id: number, durationMs: number): InFlight | undefined {
    const flight = this.#inFlight.get(id);
    if (flight === undefined) return undefined;
    this.#inFlight.delete(id);
    if (!flight.spannedFreeze && Number.isFinite(durationMs) && durationMs >= 0) {
      this.#durations.push(durationMs);
      if (this.#durations.length > DURATION_SAMPLES) this.#durations.shift();
    }
    return flight;
  }

  #health(healthy: boolean, budgetMs: number | undefined): void {
    if (healthy !== this.#healthy)
      this.#logger.debug(`flush: destinations ${healthy ? 'healthy' : 'unhealthy'}`);
    this.#healthy = healthy;
    if (budgetMs !== undefined && Number.isFinite(budgetMs) && budgetMs >= 0)
      this.#unhealthyBudgetMs = budgetMs;
  }

  #concrete(nowS: number): ConcreteStrategy {
    const s = this.#strategy;
    if (s.kind === 'default') return this.#times.adapt(nowS, this.#flushTimeoutS);
    if (s.kind === 'timer') return { kind: 'continuously', intervalMs: s.intervalMs };
    return s;
  }

  /** Datadog compares whole seconds, strictly: `now - last_flush > interval / 1000`. */
  #intervalPassed(nowS: number, intervalMs: number): boolean {
    return nowS - this.#lastFlushS > Math.floor(intervalMs / 1000);
  }

  /** Whether Datadog's timer would flush in the current phase. */
  #timerActive(): boolean {
    switch (this.#strategy.kind) {
      case 'timer':
        return true;
      case 'default':
        return this.#phase === 'invocation' || (this.#phase === 'post-runtime' && !this.#endBranch);
      default:
        return this.#phase === 'invocation' && this.#endBranch;
    }
  }

  #timerPeriodMs(): number {
    switch (this.#strategy.kind) {
      case 'default':
        return DEFAULT_BACKUP_INTERVAL_MS;
      case 'end':
        return END_BACKUP_INTERVAL_MS;
      default:
        // A zero interval would make the timer spin (the upstream extension panics on it).
        return Math.max(1, this.#strategy.intervalMs);
    }
  }

  #resetTimer(now: number): FlushDecision {
    this.#timerDue = now + this.#timerPeriodMs();
    return arm(this.#timerDue, now);
  }

  #blocking(now: number, reason: FlushReason, final: boolean): FlushDecision {
    const timeoutMs = this.#flushTimeoutS * 1000;
    if (this.#variant === 'datadog')
      return this.#start(true, (id) => ({ type: 'flush-blocking', id, reason, budgetMs: timeoutMs, final }));
    let budgetMs = timeoutMs;
    if (this.#deadlineMs !== undefined) {
      const remaining = this.#deadlineMs - now - this.#marginMs;
      // The final flush has no later to defer to and holds no function: it waits out whatever
      // time is left, and only that.
      if (final && remaining > 0) {
        return this.#start(true, (id) => ({
          type: 'flush-blocking',
          id,
          reason,
          budgetMs: Math.min(timeoutMs, remaining),
          final,
        }));
      }
      if (remaining <= 0 || this.flushEstimateMs > remaining) {
        this.#counters.downgradedForDeadline++;
        this.#note(
          `flush: a ${reason} flush would not finish in the ${Math.max(0, remaining)} ms left before the ` +
            `deadline (recent flushes took up to ${this.flushEstimateMs} ms): flushing in the background`,
        );
        return this.#start(false, (id) => ({
          type: 'flush-background',
          id,
          reason,
          final,
          downgraded: 'deadline',
        }));
      }
      budgetMs = Math.min(budgetMs, remaining);
    }
    // The final flush is not capped for health either, with or without a known deadline: no function
    // waits on it and nothing comes after it.
    if (!final && !this.#healthy && this.#unhealthyBudgetMs < budgetMs) {
      budgetMs = this.#unhealthyBudgetMs;
      this.#counters.cappedByHealth++;
    }
    return this.#start(true, (id) => ({ type: 'flush-blocking', id, reason, budgetMs, final }));
  }

  #background(reason: FlushReason, final: boolean): FlushDecision {
    return this.#start(false, (id) => ({ type: 'flush-background', id, reason, final }));
  }

  #start(blocking: boolean, make: (id: number) => FlushDecision): FlushDecision {
    const id = this.#nextId++;
    this.#inFlight.set(id, { blocking, spannedFreeze: false });
    if (blocking) this.#counters.blocking++;
    else this.#counters.background++;
    return make(id);
  }

  /** A debug line at most once a minute, so a flush on every invocation does not flood the log. */
  #note(message: string): void {
    const now = this.#clock();
    if (this.#lastNoteAt !== undefined && now - this.#lastNoteAt < NOTE_INTERVAL_MS) return;
    this.#lastNoteAt = now;
    this.#logger.debug(message);
  }

  #blockingPending(): boolean {
    for (const f of this.#inFlight.values()) if (f.blocking) return true;
    return false;
  }

  #backgroundPending(): boolean {
    for (const f of this.#inFlight.values()) if (!f.blocking) return true;
    return false;
  }
}

/** A deadline that is not a number is no deadline: the wait falls back to `DD_FLUSH_TIMEOUT`. */
function validDeadline(deadlineMs: number): number | undefined {
  return Number.isFinite(deadlineMs) ? deadlineMs : undefined;
}

function nothing(reason: NothingReason): FlushDecision {
  return { type: 'nothing', reason };
}

function arm(at: number, now: number): FlushDecision {
  return { type: 'arm-timer', at: Math.min(at, now + MAX_TIMER_STEP_MS) };
}

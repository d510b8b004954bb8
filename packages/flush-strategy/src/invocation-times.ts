import { ADAPT_AVERAGE_GAP_S, ADAPTED_INTERVAL_MS, type FlushStrategy, LOOKBACK_COUNT } from './strategy.js';

/** The strategy in force for one invocation: the default strategy resolved by the adaptive rule. */
export type ConcreteStrategy = Exclude<FlushStrategy, { kind: 'default' } | { kind: 'timer' }>;

/**
 * The last 20 invocation start times, in whole unix seconds as the extension records them, and
 * Datadog's adaptive rule over them.
 */
export class InvocationTimes {
  readonly #times: number[] = [];

  add(nowS: number): void {
    this.#times.push(nowS);
    if (this.#times.length > LOOKBACK_COUNT) this.#times.shift();
  }

  get count(): number {
    return this.#times.length;
  }

  /**
   * Fewer than 20 recorded: End. Otherwise `elapsed = now - oldest`; adapt iff `elapsed / 19 < 120`;
   * adapting with `elapsed < DD_FLUSH_TIMEOUT` is `continuously,20000`, otherwise `periodically,20000`;
   * not adapting is End.
   */
  adapt(nowS: number, flushTimeoutS: number): ConcreteStrategy {
    const oldest = this.#times[0];
    if (this.#times.length < LOOKBACK_COUNT || oldest === undefined) return { kind: 'end' };
    const elapsed = Math.max(0, nowS - oldest);
    if (elapsed / (LOOKBACK_COUNT - 1) >= ADAPT_AVERAGE_GAP_S) return { kind: 'end' };
    if (elapsed < flushTimeoutS) return { kind: 'continuously', intervalMs: ADAPTED_INTERVAL_MS };
    return { kind: 'periodically', intervalMs: ADAPTED_INTERVAL_MS };
  }
}

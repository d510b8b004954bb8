/**
 * The strategies a user can choose, as the grammar of `DD_SERVERLESS_FLUSH_STRATEGY` yields them,
 * plus the two the platform imposes: Lambda managed instances and serverless-init's periodic mode.
 */
export type FlushStrategy =
  /** The adaptive rule: end of invocation until a steady pattern is seen, then every 20 s. */
  | { readonly kind: 'default' }
  /** `end`: a blocking flush after every invocation. */
  | { readonly kind: 'end' }
  /** `end,N`: a blocking end-of-invocation flush, only when N ms have passed since the last one. */
  | { readonly kind: 'end-periodically'; readonly intervalMs: number }
  /** `periodically,N`: a blocking flush at the start of an invocation, once N ms have passed. */
  | { readonly kind: 'periodically'; readonly intervalMs: number }
  /** `continuously,N`: a background flush at the start of an invocation, once N ms have passed. */
  | { readonly kind: 'continuously'; readonly intervalMs: number }
  /** A process that is never frozen (serverless-init, Lambda managed instances): a background flush every N ms. */
  | { readonly kind: 'timer'; readonly intervalMs: number };

/** Datadog's adaptive rule looks back at this many invocation start times. */
export const LOOKBACK_COUNT = 20;
/** The rule adapts when the average gap between those invocations is under this many seconds. */
export const ADAPT_AVERAGE_GAP_S = 120;
/** The interval the adaptive rule switches to. */
export const ADAPTED_INTERVAL_MS = 20_000;
/** The backup timer of the default strategy. */
export const DEFAULT_BACKUP_INTERVAL_MS = 60_000;
/** `end` keeps a timer of the longest Lambda timeout, so it never fires in practice. */
export const END_BACKUP_INTERVAL_MS = 15 * 60_000;
/** Lambda managed instances flush in the background on this interval unless `continuously,N` is set. */
export const MANAGED_INSTANCES_INTERVAL_MS = 30_000;
/** serverless-init flushes traces and metrics every 3 s. */
export const SERVERLESS_INIT_INTERVAL_MS = 3_000;
/** serverless-init bounds each part of its last flush (metrics, traces, logs) by 5 s. */
export const SERVERLESS_INIT_FLUSH_TIMEOUT_S = 5;
/** `DD_FLUSH_TIMEOUT` default, in seconds. */
export const DEFAULT_FLUSH_TIMEOUT_S = 30;

/** Renders a strategy back into the grammar (the timer kind has no spelling of its own). */
export function formatStrategy(strategy: FlushStrategy): string {
  switch (strategy.kind) {
    case 'default':
      return 'default';
    case 'end':
      return 'end';
    case 'end-periodically':
      return `end,${strategy.intervalMs}`;
    case 'periodically':
      return `periodically,${strategy.intervalMs}`;
    case 'continuously':
      return `continuously,${strategy.intervalMs}`;
    case 'timer':
      return `timer,${strategy.intervalMs}`;
  }
}

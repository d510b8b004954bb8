/**
 * @serverless-agent/flush-strategy: `DD_SERVERLESS_FLUSH_STRATEGY` grammar and the adaptive flush
 * decision core, pure and clock-injected.
 *
 * This file is the package's whole public surface.
 */
export const PACKAGE = { name: '@serverless-agent/flush-strategy', version: '0.1.0' } as const;

export {
  type FlushConfig,
  type FromEnvOptions,
  fromEnv,
  type ParseResult,
  parseFlushStrategy,
  parseFlushTimeout,
  parseU64,
} from './config.js';
export {
  DEFAULT_DEADLINE_MARGIN_MS,
  DEFAULT_UNHEALTHY_BUDGET_MS,
  FlushCore,
  type FlushCoreOptions,
  type FlushCounters,
  type FlushDecision,
  type FlushEvent,
  type FlushOutcome,
  type FlushReason,
  type FlushVariant,
  type NothingReason,
} from './core.js';
export { type ConcreteStrategy, InvocationTimes } from './invocation-times.js';
export { type Logger, noopLogger } from './logger.js';
export {
  ADAPT_AVERAGE_GAP_S,
  ADAPTED_INTERVAL_MS,
  DEFAULT_BACKUP_INTERVAL_MS,
  DEFAULT_FLUSH_TIMEOUT_S,
  END_BACKUP_INTERVAL_MS,
  type FlushStrategy,
  formatStrategy,
  LOOKBACK_COUNT,
  MANAGED_INSTANCES_INTERVAL_MS,
  SERVERLESS_INIT_FLUSH_TIMEOUT_S,
  SERVERLESS_INIT_INTERVAL_MS,
} from './strategy.js';

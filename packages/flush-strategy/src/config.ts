import { type Logger, noopLogger } from './logger.js';
import {
  DEFAULT_FLUSH_TIMEOUT_S,
  type FlushStrategy,
  MANAGED_INSTANCES_INTERVAL_MS,
  SERVERLESS_INIT_FLUSH_TIMEOUT_S,
  SERVERLESS_INIT_INTERVAL_MS,
} from './strategy.js';

/** What the environment configures about flushing. */
export interface FlushConfig {
  readonly strategy: FlushStrategy;
  /** `DD_FLUSH_TIMEOUT` in seconds: the per-request timeout, and a threshold of the adaptive rule. */
  readonly flushTimeoutS: number;
  /** `AWS_LAMBDA_INITIALIZATION_TYPE=lambda-managed-instances`: no freeze, invocations overlap. */
  readonly managedInstances: boolean;
}

export interface FromEnvOptions {
  /** `serverless-init` (a container entrypoint) always flushes on its 3 s timer. Default `lambda`. */
  readonly platform?: 'lambda' | 'serverless-init';
}

export type ParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false };

const U64_MAX = (1n << 64n) - 1n;

/**
 * Parses a number the way Rust's `u64::from_str` does, since that is what the extension applies
 * to the interval: an optional `+`, then ASCII digits only (no spaces, no sign `-`, no decimals),
 * at most 2^64 - 1.
 */
export function parseU64(text: string): ParseResult<number> {
  const digits = text.startsWith('+') ? text.slice(1) : text;
  if (!/^[0-9]+$/.test(digits)) return { ok: false };
  if (BigInt(digits) > U64_MAX) return { ok: false };
  return { ok: true, value: Number(digits) };
}

/**
 * `DD_SERVERLESS_FLUSH_STRATEGY`, exactly as the extension reads it: the whole value `end` is End;
 * otherwise the value is split on `,` and the first two fields are read, the first compared
 * case-sensitively and without trimming, the second parsed as a u64 of milliseconds. Any further
 * field is ignored. Anything else is the default strategy.
 */
export function parseFlushStrategy(value: string): ParseResult<FlushStrategy> {
  if (value === 'end') return { ok: true, value: { kind: 'end' } };
  const [name, interval] = value.split(',');
  if (interval === undefined) return { ok: false };
  const n = parseU64(interval);
  if (!n.ok) return { ok: false };
  switch (name) {
    case 'periodically':
      return { ok: true, value: { kind: 'periodically', intervalMs: n.value } };
    case 'continuously':
      return { ok: true, value: { kind: 'continuously', intervalMs: n.value } };
    case 'end':
      return { ok: true, value: { kind: 'end-periodically', intervalMs: n.value } };
    default:
      return { ok: false };
  }
}

/** `DD_FLUSH_TIMEOUT`: whole seconds, a u64. */
export function parseFlushTimeout(value: string): ParseResult<number> {
  return parseU64(value);
}

/**
 * Reads the flush configuration from the environment. A malformed value logs one warning and
 * falls back to the default; this never throws. An empty value counts as unset, as it does for
 * the extension's configuration loader.
 */
export function fromEnv(
  env: Readonly<Record<string, string | undefined>>,
  logger: Logger = noopLogger,
  options: FromEnvOptions = {},
): FlushConfig {
  if (options.platform === 'serverless-init') {
    // serverless-init reads neither variable: a 3 s ticker, and 5 s for each part of the last flush.
    return {
      strategy: { kind: 'timer', intervalMs: SERVERLESS_INIT_INTERVAL_MS },
      flushTimeoutS: SERVERLESS_INIT_FLUSH_TIMEOUT_S,
      managedInstances: false,
    };
  }
  const flushTimeoutS = readFlushTimeout(env['DD_FLUSH_TIMEOUT'], logger);
  const raw = env['DD_SERVERLESS_FLUSH_STRATEGY'];
  let strategy: FlushStrategy = { kind: 'default' };
  if (raw !== undefined && raw !== '') {
    const parsed = parseFlushStrategy(raw);
    if (parsed.ok) strategy = parsed.value;
    // `default` is the documented spelling of the default: no warning for asking for it.
    else if (raw !== 'default')
      logger.warn(
        `DD_SERVERLESS_FLUSH_STRATEGY=${JSON.stringify(raw.slice(0, 100))} is not one of end, end,<ms>, ` +
          'periodically,<ms>, continuously,<ms>: using the default strategy',
      );
  }
  const managedInstances = env['AWS_LAMBDA_INITIALIZATION_TYPE'] === 'lambda-managed-instances';
  if (managedInstances) {
    if (strategy.kind === 'continuously') {
      strategy = { kind: 'timer', intervalMs: strategy.intervalMs };
    } else {
      if (strategy.kind !== 'default')
        logger.warn(
          `DD_SERVERLESS_FLUSH_STRATEGY=${raw} does not apply to Lambda managed instances: ` +
            `flushing continuously every ${MANAGED_INSTANCES_INTERVAL_MS} ms`,
        );
      strategy = { kind: 'timer', intervalMs: MANAGED_INSTANCES_INTERVAL_MS };
    }
  }
  return { strategy, flushTimeoutS, managedInstances };
}

function readFlushTimeout(raw: string | undefined, logger: Logger): number {
  if (raw === undefined || raw === '') return DEFAULT_FLUSH_TIMEOUT_S;
  const parsed = parseFlushTimeout(raw);
  if (parsed.ok) return parsed.value;
  logger.warn(
    `DD_FLUSH_TIMEOUT=${JSON.stringify(raw.slice(0, 100))} is not a whole number of seconds: ` +
      `using ${DEFAULT_FLUSH_TIMEOUT_S}`,
  );
  return DEFAULT_FLUSH_TIMEOUT_S;
}

import type { Logger } from './logger.js';

type Env = Record<string, string | undefined>;

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on', 't', 'y']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off', 'f', 'n']);

/**
 * Datadog's forgiving booleans, the same words the logs package takes (true/false, 1/0, yes/no,
 * on/off, t/f, y/n, any case), so one variable never reads as two values. Empty is unset; anything
 * else warns and counts as unset too (the caller's default, `fallback`, applies), as in the logs
 * package.
 */
export function parseBool(env: Env, name: string, fallback: boolean, logger?: Logger): boolean | undefined {
  const raw = env[name];
  if (raw === undefined) return undefined;
  const v = raw.trim().toLowerCase();
  if (v === '') return undefined;
  if (TRUE_WORDS.has(v)) return true;
  if (FALSE_WORDS.has(v)) return false;
  logger?.warn(`${name}=${JSON.stringify(raw)} is not a boolean: using ${fallback}`);
  return undefined;
}

/**
 * `DD_SERVERLESS_LOGS_ENABLED` / `DD_LOGS_ENABLED`, which decide the subscribed telemetry types:
 * either set gives the OR of both, an unset one counting false (so `DD_LOGS_ENABLED=false` alone
 * disables); neither set, true.
 */
export function logsEnabledFromEnv(env: Env, logger?: Logger): boolean {
  const serverlessLogs = parseBool(env, 'DD_SERVERLESS_LOGS_ENABLED', true, logger);
  const logs = parseBool(env, 'DD_LOGS_ENABLED', true, logger);
  return serverlessLogs === undefined && logs === undefined ? true : !!serverlessLogs || !!logs;
}

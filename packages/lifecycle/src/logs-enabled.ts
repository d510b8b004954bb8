import type { Logger } from './logger.js';

type Env = Record<string, string | undefined>;

/** Datadog's forgiving booleans: true/false/1/0 in any case; anything else warns and keeps the default. */
export function parseBool(env: Env, name: string, fallback: boolean, logger?: Logger): boolean | undefined {
  const raw = env[name];
  if (raw === undefined) return undefined;
  const v = raw.trim().toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  logger?.warn(`${name}=${JSON.stringify(raw)} is not a boolean: using ${fallback}`);
  return fallback;
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

import type { Logger } from './logger.js';
import { type Architecture, architectureOf } from './metrics/enhanced.js';
import { DEFAULT_TELEMETRY_PORT } from './telemetry/listener.js';

export const DEFAULT_HOOKS_PORT_NUMBER = 8124;

export interface LifecycleOptions {
  /** `AWS_LAMBDA_RUNTIME_API`. */
  runtimeApi: string | undefined;
  /** `AWS_LAMBDA_INITIALIZATION_TYPE=lambda-managed-instances`. */
  managedInstances: boolean;
  /** `AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`: the first invocation runs in a restored snapshot. */
  snapStart: boolean;
  /** `DD_ENHANCED_METRICS`, default true. */
  enhancedMetrics: boolean;
  /** `DD_LAMBDA_PROC_ENHANCED_METRICS`, default true. */
  procEnhancedMetrics: boolean;
  /** `DD_SERVERLESS_LOGS_ENABLED` / `DD_LOGS_ENABLED`: decides the subscribed telemetry types. */
  logsEnabled: boolean;
  /** `SERVERLESS_AGENT_TELEMETRY_PORT`, default 8999. */
  telemetryPort: number;
  /** `SERVERLESS_AGENT_HOOKS_PORT`, default 8124. */
  hooksPort: number;
  architecture: Architecture;
}

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

function parsePort(env: Env, name: string, fallback: number, logger?: Logger): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (Number.isInteger(n) && n >= 0 && n <= 65535) return n;
  logger?.warn(`${name}=${JSON.stringify(raw)} is not a port: using ${fallback}`);
  return fallback;
}

export function fromEnv(env: Env = process.env, logger?: Logger): LifecycleOptions {
  const serverlessLogs = parseBool(env, 'DD_SERVERLESS_LOGS_ENABLED', true, logger);
  const logs = parseBool(env, 'DD_LOGS_ENABLED', true, logger);
  // Either set: the OR of both, an unset one counting false (so DD_LOGS_ENABLED=false alone disables).
  const logsEnabled = serverlessLogs === undefined && logs === undefined ? true : !!serverlessLogs || !!logs;
  return {
    runtimeApi: env['AWS_LAMBDA_RUNTIME_API'] || undefined,
    managedInstances: env['AWS_LAMBDA_INITIALIZATION_TYPE'] === 'lambda-managed-instances',
    snapStart: env['AWS_LAMBDA_INITIALIZATION_TYPE'] === 'snap-start',
    enhancedMetrics: parseBool(env, 'DD_ENHANCED_METRICS', true, logger) ?? true,
    procEnhancedMetrics: parseBool(env, 'DD_LAMBDA_PROC_ENHANCED_METRICS', true, logger) ?? true,
    logsEnabled,
    telemetryPort: parsePort(env, 'SERVERLESS_AGENT_TELEMETRY_PORT', DEFAULT_TELEMETRY_PORT, logger),
    hooksPort: parsePort(env, 'SERVERLESS_AGENT_HOOKS_PORT', DEFAULT_HOOKS_PORT_NUMBER, logger),
    architecture: architectureOf(process.arch),
  };
}

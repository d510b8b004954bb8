import type { Logger } from './logger.js';
import { logsEnabledFromEnv, parseBool } from './logs-enabled.js';
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

function parsePort(env: Env, name: string, fallback: number, logger?: Logger): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (Number.isInteger(n) && n >= 0 && n <= 65535) return n;
  logger?.warn(`${name}=${JSON.stringify(raw)} is not a port: using ${fallback}`);
  return fallback;
}

export function fromEnv(env: Env = process.env, logger?: Logger): LifecycleOptions {
  const logsEnabled = logsEnabledFromEnv(env, logger);
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

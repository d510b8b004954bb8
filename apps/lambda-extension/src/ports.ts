// Where the extension listens. Defaults are the ports the Datadog libraries use; the variables let
// several extensions (tests) run side by side.
import type { Logger } from './logger.js';

export interface Ports {
  hooks: number;
  dogstatsd: number;
  traces: number;
  telemetry: number;
}

export const DEFAULT_PORTS: Ports = { hooks: 8124, dogstatsd: 8125, traces: 8126, telemetry: 8999 };

const VARIABLES: Record<keyof Ports, string> = {
  hooks: 'SERVERLESS_AGENT_HOOKS_PORT',
  dogstatsd: 'DD_DOGSTATSD_PORT',
  traces: 'DD_APM_RECEIVER_PORT',
  telemetry: 'SERVERLESS_AGENT_TELEMETRY_PORT',
};

/** A port from the environment; anything but an integer in 0..65535 warns and keeps the default. */
export function portsFromEnv(env: Record<string, string | undefined>, logger: Logger): Ports {
  const ports = { ...DEFAULT_PORTS };
  for (const key of Object.keys(VARIABLES) as (keyof Ports)[]) {
    const name = VARIABLES[key];
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') continue;
    const n = Number(raw.trim());
    if (Number.isInteger(n) && n >= 0 && n <= 65535) ports[key] = n;
    else logger.warn(`${name}=${JSON.stringify(raw)} is not a port: using ${DEFAULT_PORTS[key]}`);
  }
  return ports;
}

/** The port of `AWS_LAMBDA_RUNTIME_API` (`host:port`), whose calls by the runtime the tracer traces. */
export function runtimeApiPort(env: Record<string, string | undefined>): number | undefined {
  const m = /:(\d{1,5})$/.exec(env['AWS_LAMBDA_RUNTIME_API']?.trim() ?? '');
  const n = m ? Number(m[1]) : Number.NaN;
  return n > 0 && n <= 65535 ? n : undefined;
}

/** Ports whose loopback calls are the tracer's own: ours as bound, and the Runtime API's. */
export function tracerInternalPorts(
  env: Record<string, string | undefined>,
  bound: Pick<Ports, 'dogstatsd' | 'traces' | 'hooks'>,
): number[] {
  const runtime = runtimeApiPort(env);
  return [bound.hooks, bound.dogstatsd, bound.traces, ...(runtime === undefined ? [] : [runtime])];
}

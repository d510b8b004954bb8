/**
 * What the entrypoint reads before it spawns the child: cheap, synchronous, built-ins only.
 */
export type Env = Record<string, string | undefined>;

export const DEFAULT_DOGSTATSD_PORT = 8125;
export const DEFAULT_APM_PORT = 8126;

export function isTrue(value: string | undefined): boolean {
  const v = (value ?? '').trim().toLowerCase();
  return v === 'true' || v === '1' || v === 'yes' || v === 'on';
}

export function isFalse(value: string | undefined): boolean {
  const v = (value ?? '').trim().toLowerCase();
  return v === 'false' || v === '0' || v === 'no' || v === 'off';
}

/** A port variable: its value when it is an integer in 0..65535, else the default. */
export function portFrom(value: string | undefined, fallback: number): number {
  if (value === undefined || value.trim() === '') return fallback;
  const n = Number(value.trim());
  return Number.isInteger(n) && n >= 0 && n <= 65535 ? n : fallback;
}

/**
 * Datadog's wrapper sets these in its own environment when they are unset, so the child inherits
 * them too (the tracer then reports to us and keeps remote configuration and telemetry off).
 */
export function applyEnvDefaults(env: Env, mode: 'init' | 'sidecar'): void {
  const defaults: [string, string][] = [
    ['DD_INSTRUMENTATION_TELEMETRY_ENABLED', 'false'],
    ['DD_REMOTE_CONFIGURATION_ENABLED', 'false'],
    ['DD_HOSTNAME', 'none'],
    ['DD_APM_ENABLED', 'true'],
    ['DD_TRACE_ENABLED', 'true'],
  ];
  if (mode === 'sidecar') {
    defaults.push(
      ['DD_LOGS_ENABLED', 'true'],
      ['DD_APM_NON_LOCAL_TRAFFIC', 'true'],
      ['DD_DOGSTATSD_NON_LOCAL_TRAFFIC', 'true'],
    );
  }
  for (const [name, value] of defaults) if (env[name] === undefined) env[name] = value;
}

export interface EarlyConfig {
  dogstatsdPort: number;
  apmPort: number;
  dogstatsdNonLocal: boolean;
  apmNonLocal: boolean;
  /** The child's output is teed to Datadog (DD_LOGS_ENABLED=true): its streams then pass through us. */
  logsEnabled: boolean;
  apmEnabled: boolean;
}

export function earlyConfig(env: Env): EarlyConfig {
  return {
    dogstatsdPort: portFrom(env.DD_DOGSTATSD_PORT, DEFAULT_DOGSTATSD_PORT),
    apmPort: portFrom(env.DD_APM_RECEIVER_PORT, DEFAULT_APM_PORT),
    dogstatsdNonLocal: isTrue(env.DD_DOGSTATSD_NON_LOCAL_TRAFFIC),
    apmNonLocal: isTrue(env.DD_APM_NON_LOCAL_TRAFFIC),
    logsEnabled: isTrue(env.DD_LOGS_ENABLED),
    apmEnabled: !isFalse(env.DD_APM_ENABLED),
  };
}

/**
 * The child's environment: ours (with the defaults above), plus the ports we listen on when they
 * are not the defaults, plus the auto-instrumentation of a tracer copied into
 * `/dd_tracer/<language>/` (the first folder found counts), as Datadog's wrapper does.
 */
export function childEnv(
  env: Env,
  /** The ports actually bound (a configured 0 means a free port, which the child must learn). */
  bound: { dogstatsd?: number | undefined; apm?: number | undefined },
  exists: (path: string) => boolean,
): Env {
  const out: Env = { ...env };
  if (bound.apm !== undefined && bound.apm !== DEFAULT_APM_PORT && out.DD_TRACE_AGENT_PORT === undefined) {
    out.DD_TRACE_AGENT_PORT = String(bound.apm);
  }
  // Our variable is the clients' too (hot-shots, dd-trace): it must name the port we listen on.
  if (bound.dogstatsd !== undefined && bound.dogstatsd !== DEFAULT_DOGSTATSD_PORT) {
    out.DD_DOGSTATSD_PORT = String(bound.dogstatsd);
  }
  const append = (name: string, value: string, sep: string) => {
    out[name] = out[name] ? `${out[name]}${sep}${value}` : value;
  };
  const setIfUnset = (name: string, value: string) => {
    if (out[name] === undefined || out[name] === '') out[name] = value;
  };
  if (exists('/dd_tracer/node/')) {
    append('NODE_PATH', '/dd_tracer/node/:/dd_tracer/node/node_modules', ':');
    append('NODE_OPTIONS', '--require dd-trace/init', ' ');
  } else if (exists('/dd_tracer/java/')) {
    append('JAVA_TOOL_OPTIONS', '-javaagent:/dd_tracer/java/dd-java-agent.jar', ' ');
  } else if (exists('/dd_tracer/dotnet/')) {
    setIfUnset('CORECLR_ENABLE_PROFILING', '1');
    setIfUnset('CORECLR_PROFILER', '{846F5F1C-F9AE-4B07-969E-05C26BC060D8}');
    setIfUnset('CORECLR_PROFILER_PATH', '/dd_tracer/dotnet/Datadog.Trace.ClrProfiler.Native.so');
    setIfUnset('DD_DOTNET_TRACER_HOME', '/dd_tracer/dotnet/');
  } else if (exists('/dd_tracer/python/')) {
    append('PYTHONPATH', '/dd_tracer/python/', ':');
  }
  return out;
}

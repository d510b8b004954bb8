import { describe, expect, it } from 'vitest';
import { applyEnvDefaults, childEnv, earlyConfig, portFrom } from '../src/config.js';

describe('configuration read before the child starts', () => {
  it('applies Datadog defaults only where unset, and the sidecar ones in sidecar mode', () => {
    const env: Record<string, string | undefined> = { DD_HOSTNAME: 'mine' };
    applyEnvDefaults(env, 'init');
    expect(env).toMatchObject({
      DD_HOSTNAME: 'mine',
      DD_APM_ENABLED: 'true',
      DD_REMOTE_CONFIGURATION_ENABLED: 'false',
    });
    expect(env.DD_LOGS_ENABLED).toBeUndefined();
    const side: Record<string, string | undefined> = { DD_LOGS_ENABLED: 'false' };
    applyEnvDefaults(side, 'sidecar');
    expect(side).toMatchObject({
      DD_LOGS_ENABLED: 'false',
      DD_APM_NON_LOCAL_TRAFFIC: 'true',
      DD_DOGSTATSD_NON_LOCAL_TRAFFIC: 'true',
    });
    expect(earlyConfig(side)).toMatchObject({
      apmNonLocal: true,
      dogstatsdNonLocal: true,
      logsEnabled: false,
    });
  });

  it('reads ports, keeping the default for nonsense', () => {
    expect(portFrom('9125', 8125)).toBe(9125);
    expect(portFrom('0', 8125)).toBe(0);
    expect(portFrom('abc', 8125)).toBe(8125);
    expect(portFrom('70000', 8125)).toBe(8125);
    expect(earlyConfig({ DD_DOGSTATSD_PORT: '9125', DD_APM_RECEIVER_PORT: '9126' })).toMatchObject({
      dogstatsdPort: 9125,
      apmPort: 9126,
    });
  });

  it('tells the child our ports when they are not the defaults, without overriding DD_TRACE_AGENT_PORT', () => {
    const none = () => false;
    expect(childEnv({}, { dogstatsd: 8125, apm: 8126 }, none)).toEqual({});
    expect(childEnv({ DD_DOGSTATSD_PORT: '0' }, { dogstatsd: 40001, apm: 40002 }, none)).toEqual({
      DD_DOGSTATSD_PORT: '40001',
      DD_TRACE_AGENT_PORT: '40002',
    });
    expect(childEnv({ DD_TRACE_AGENT_PORT: '1' }, { apm: 40002 }, none).DD_TRACE_AGENT_PORT).toBe('1');
  });

  it('auto-instruments a tracer found under /dd_tracer, the first language found', () => {
    const only = (dir: string) => (p: string) => p === dir;
    expect(childEnv({ NODE_OPTIONS: '--enable-source-maps' }, {}, only('/dd_tracer/node/'))).toMatchObject({
      NODE_PATH: '/dd_tracer/node/:/dd_tracer/node/node_modules',
      NODE_OPTIONS: '--enable-source-maps --require dd-trace/init',
    });
    expect(childEnv({}, {}, only('/dd_tracer/java/')).JAVA_TOOL_OPTIONS).toBe(
      '-javaagent:/dd_tracer/java/dd-java-agent.jar',
    );
    expect(childEnv({ CORECLR_PROFILER: 'mine' }, {}, only('/dd_tracer/dotnet/'))).toMatchObject({
      CORECLR_ENABLE_PROFILING: '1',
      CORECLR_PROFILER: 'mine',
      DD_DOTNET_TRACER_HOME: '/dd_tracer/dotnet/',
    });
    expect(childEnv({ PYTHONPATH: '/app' }, {}, only('/dd_tracer/python/')).PYTHONPATH).toBe(
      '/app:/dd_tracer/python/',
    );
  });
});

import { describe, expect, it } from 'vitest';
import { fromEnv } from '../src/index.js';

describe('fromEnv', () => {
  it('has the real defaults', () => {
    expect(fromEnv({})).toMatchObject({
      runtimeApi: undefined,
      managedInstances: false,
      snapStart: false,
      enhancedMetrics: true,
      procEnhancedMetrics: true,
      logsEnabled: true,
      telemetryPort: 8999,
      hooksPort: 8124,
    });
  });

  it('reads the Datadog and AWS variables', () => {
    expect(
      fromEnv({
        AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9001',
        AWS_LAMBDA_INITIALIZATION_TYPE: 'lambda-managed-instances',
        DD_ENHANCED_METRICS: 'FALSE',
        DD_LAMBDA_PROC_ENHANCED_METRICS: '0',
        SERVERLESS_AGENT_TELEMETRY_PORT: '9999',
        SERVERLESS_AGENT_HOOKS_PORT: '0',
      }),
    ).toMatchObject({
      runtimeApi: '127.0.0.1:9001',
      managedInstances: true,
      enhancedMetrics: false,
      procEnhancedMetrics: false,
      telemetryPort: 9999,
      hooksPort: 0,
    });
  });

  it('knows SnapStart from the initialization type', () => {
    expect(fromEnv({ AWS_LAMBDA_INITIALIZATION_TYPE: 'snap-start' })).toMatchObject({
      snapStart: true,
      managedInstances: false,
    });
  });

  it('ORs the two logs switches, an unset one counting false', () => {
    expect(fromEnv({ DD_LOGS_ENABLED: 'false' }).logsEnabled).toBe(false);
    expect(fromEnv({ DD_SERVERLESS_LOGS_ENABLED: 'false' }).logsEnabled).toBe(false);
    expect(fromEnv({ DD_SERVERLESS_LOGS_ENABLED: 'false', DD_LOGS_ENABLED: 'true' }).logsEnabled).toBe(true);
    expect(fromEnv({ DD_LOGS_ENABLED: '1' }).logsEnabled).toBe(true);
  });

  it('warns and keeps the default on a bad value', () => {
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (m: string) => warnings.push(m), error() {} };
    const o = fromEnv({ DD_ENHANCED_METRICS: 'maybe', SERVERLESS_AGENT_HOOKS_PORT: '70000' }, logger);
    expect(o.enhancedMetrics).toBe(true);
    expect(o.hooksPort).toBe(8124);
    expect(warnings).toHaveLength(2);
  });
});

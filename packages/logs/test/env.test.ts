import { describe, expect, it } from 'vitest';
import { fromEnv, type Logger } from '../src/index.js';

function recorder(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (l: string) => (m: string) => lines.push(`${l} ${m}`);
  return { lines, debug: push('debug'), info: push('info'), warn: push('warn'), error: push('error') };
}

describe('fromEnv', () => {
  it.each([
    [{}, true],
    [{ DD_SERVERLESS_LOGS_ENABLED: 'true' }, true],
    [{ DD_SERVERLESS_LOGS_ENABLED: 'false' }, false],
    [{ DD_LOGS_ENABLED: 'false' }, false],
    [{ DD_LOGS_ENABLED: 'true' }, true],
    [{ DD_LOGS_ENABLED: 'false', DD_SERVERLESS_LOGS_ENABLED: 'true' }, true],
    [{ DD_LOGS_ENABLED: 'true', DD_SERVERLESS_LOGS_ENABLED: 'false' }, true],
    [{ DD_LOGS_ENABLED: '0', DD_SERVERLESS_LOGS_ENABLED: 'FALSE' }, false],
    [{ DD_LOGS_ENABLED: '1' }, true],
  ])('Lambda: %j → enabled=%s (either set: OR of both, unset counts false)', (env, enabled) => {
    expect(fromEnv(env).enabled).toBe(enabled);
  });

  it('serverless-init: logs only when DD_LOGS_ENABLED is true', () => {
    expect(fromEnv({}, undefined, { target: 'serverless-init' }).enabled).toBe(false);
    expect(fromEnv({ DD_LOGS_ENABLED: 'True' }, undefined, { target: 'serverless-init' }).enabled).toBe(true);
    expect(
      fromEnv({ DD_SERVERLESS_LOGS_ENABLED: 'true' }, undefined, { target: 'serverless-init' }).enabled,
    ).toBe(false);
  });

  it('warns on a value that is not a boolean and uses the default', () => {
    const log = recorder();
    expect(fromEnv({ DD_SERVERLESS_LOGS_ENABLED: 'maybe' }, log).enabled).toBe(true);
    expect(log.lines).toEqual([
      'warn logs: DD_SERVERLESS_LOGS_ENABLED="maybe" is not a boolean; using the default',
    ]);
  });

  it('reads service, source, paths, tailing mode and the own-logs switch', () => {
    const log = recorder();
    const cfg = fromEnv(
      {
        DD_SERVICE: ' Checkout-API ',
        DD_SOURCE: 'Python',
        DD_SERVERLESS_LOG_PATH: '/shared/logs/*.log',
        DD_LOGS_CONFIG_RUN_PATH: '/tmp/run',
        DD_LOGS_CONFIG_TAILING_MODE: 'end',
        DD_SERVERLESS_AGENT_SHIP_OWN_LOGS: 'yes',
        DD_LOGS_CONFIG_PROCESSING_RULES: '[{"type":"exclude_at_match","name":"x","pattern":"^x"}]',
      },
      log,
    );
    expect(cfg).toMatchObject({
      service: 'checkout-api',
      source: 'python',
      logPath: '/shared/logs/*.log',
      runPath: '/tmp/run',
      startPosition: 'end',
      shipOwnLogs: true,
    });
    expect(cfg.rules.map((r) => r.name)).toEqual(['x']);
    expect(log.lines).toEqual([]);
    const bad = recorder();
    expect(fromEnv({ DD_LOGS_CONFIG_TAILING_MODE: 'middle' }, bad).startPosition).toBe('beginning');
    expect(bad.lines).toHaveLength(1);
  });

  it('defaults: no service (""), no rules, beginning, own lines not shipped', () => {
    expect(fromEnv({})).toEqual({
      enabled: true,
      rules: [],
      service: '',
      startPosition: 'beginning',
      openFilesLimit: 500,
      shipOwnLogs: false,
    });
    expect(fromEnv({ DD_LOGS_CONFIG_OPEN_FILES_LIMIT: '3' }).openFilesLimit).toBe(3);
    expect(fromEnv({ DD_LOGS_CONFIG_OPEN_FILES_LIMIT: 'lots' }).openFilesLimit).toBe(500);
  });
});

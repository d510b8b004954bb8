import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  createLogger,
  DEFAULT_PORTS,
  HONOURED,
  idleReason,
  type Logger,
  logsEnabled,
  mergeEnv,
  NOT_SUPPORTED_YET,
  parseLogLevel,
  portsFromEnv,
  runtimeApiPort,
  tracerInternalPorts,
  unsupportedSet,
  warnUnsupported,
  yamlToEnv,
} from '../src/index.js';
import { APP_DIR, scratch } from './helpers.js';

function recorder(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (l: string) => (m: string) => lines.push(`${l} ${m}`);
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

let s: ReturnType<typeof scratch> | undefined;
afterEach(() => s?.cleanup());

describe('the logger', () => {
  it('writes DD_EXTENSION | LEVEL | message lines at and above its level', () => {
    const out: string[] = [];
    const log = createLogger('warn', (l) => out.push(l));
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('multi\nline');
    expect(out).toEqual(['DD_EXTENSION | WARN | w\n', 'DD_EXTENSION | ERROR | multi line\n']);
  });

  it('reads DD_LOG_LEVEL in any case, with the Agent spellings, and flags the rest', () => {
    expect(parseLogLevel('DEBUG')).toEqual({ level: 'debug' });
    expect(parseLogLevel('Warning')).toEqual({ level: 'warn' });
    expect(parseLogLevel(undefined)).toEqual({ level: 'info' });
    expect(parseLogLevel('loud')).toEqual({ level: 'info', invalid: 'loud' });
  });
});

describe('ports', () => {
  it('defaults to 8124/8125/8126/8999 and takes the four variables', () => {
    const log = recorder();
    expect(portsFromEnv({}, log)).toEqual(DEFAULT_PORTS);
    expect(DEFAULT_PORTS).toEqual({ hooks: 8124, dogstatsd: 8125, traces: 8126, telemetry: 8999 });
    expect(
      portsFromEnv(
        {
          SERVERLESS_AGENT_HOOKS_PORT: '9124',
          DD_DOGSTATSD_PORT: '9125',
          DD_APM_RECEIVER_PORT: ' 9126 ',
          SERVERLESS_AGENT_TELEMETRY_PORT: '9999',
        },
        log,
      ),
    ).toEqual({ hooks: 9124, dogstatsd: 9125, traces: 9126, telemetry: 9999 });
    expect(log.lines).toEqual([]);
  });

  it("passes the bound ports and the Runtime API's port to the trace filter", () => {
    expect(runtimeApiPort({ AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9001' })).toBe(9001);
    expect(runtimeApiPort({ AWS_LAMBDA_RUNTIME_API: 'localhost:39869' })).toBe(39869);
    expect(runtimeApiPort({ AWS_LAMBDA_RUNTIME_API: 'localhost' })).toBeUndefined();
    expect(runtimeApiPort({ AWS_LAMBDA_RUNTIME_API: '127.0.0.1:0' })).toBeUndefined();
    expect(runtimeApiPort({})).toBeUndefined();
    expect(
      tracerInternalPorts(
        { AWS_LAMBDA_RUNTIME_API: '127.0.0.1:39869' },
        { hooks: 40001, dogstatsd: 40002, traces: 40003 },
      ),
    ).toEqual([40001, 40002, 40003, 39869]);
    expect(tracerInternalPorts({}, { hooks: 8124, dogstatsd: 8125, traces: 8126 })).toEqual([
      8124, 8125, 8126,
    ]);
  });

  it('warns about an invalid port and keeps the default', () => {
    const log = recorder();
    expect(portsFromEnv({ DD_DOGSTATSD_PORT: 'udp', DD_APM_RECEIVER_PORT: '70000' }, log)).toEqual(
      DEFAULT_PORTS,
    );
    expect(log.lines).toEqual([
      'warn DD_DOGSTATSD_PORT="udp" is not a port: using 8125',
      'warn DD_APM_RECEIVER_PORT="70000" is not a port: using 8126',
    ]);
  });
});

describe('configuration sources', () => {
  it('DD_ wins over DATADOG_, which wins over datadog.yaml in LAMBDA_TASK_ROOT', () => {
    s = scratch();
    writeFileSync(
      join(s.dir, 'datadog.yaml'),
      [
        'site: datadoghq.eu',
        'env: from-yaml',
        'service: from-yaml',
        'tags:',
        '  - team:a',
        '  - tier:1',
        'logs_config:',
        '  processing_rules:',
        '    - type: exclude_at_match',
        '      name: drop_health',
        '      pattern: health',
        'apm_config:',
        '  replace_tags: []',
        '  additional_endpoints:',
        '    "https://trace.agent.datadoghq.eu": [key1]',
        'serverless_flush_strategy: end',
      ].join('\n'),
    );
    const env = mergeEnv(
      { LAMBDA_TASK_ROOT: s.dir, DATADOG_ENV: 'from-datadog', DATADOG_SERVICE: 'x', DD_SERVICE: 'from-dd' },
      recorder(),
      parse,
    );
    expect(env.DD_SITE).toBe('datadoghq.eu');
    expect(env.DD_ENV).toBe('from-datadog');
    expect(env.DD_SERVICE).toBe('from-dd');
    expect(env.DD_TAGS).toBe('team:a tier:1');
    expect(JSON.parse(env.DD_LOGS_CONFIG_PROCESSING_RULES!)).toEqual([
      { type: 'exclude_at_match', name: 'drop_health', pattern: 'health' },
    ]);
    expect(JSON.parse(env.DD_APM_ADDITIONAL_ENDPOINTS!)).toEqual({
      'https://trace.agent.datadoghq.eu': ['key1'],
    });
    expect(env.DD_SERVERLESS_FLUSH_STRATEGY).toBe('end');
    expect(env.LAMBDA_TASK_ROOT).toBe(s.dir);
  });

  it('ignores an invalid datadog.yaml with a warning', () => {
    s = scratch();
    mkdirSync(s.dir, { recursive: true });
    writeFileSync(join(s.dir, 'datadog.yaml'), 'site: [unclosed\n');
    const log = recorder();
    const env = mergeEnv({ LAMBDA_TASK_ROOT: s.dir, DD_SITE: 'us5.datadoghq.com' }, log, parse);
    expect(env.DD_SITE).toBe('us5.datadoghq.com');
    expect(
      log.lines.some((l) => l.startsWith('warn ') && l.includes('datadog.yaml is not valid, ignored')),
    ).toBe(true);
  });

  it('maps nested keys to the DD_ names', () => {
    expect(
      yamlToEnv(parse('dogstatsd_port: 9000\nlogs_enabled: false\napm_config:\n  dd_url: https://x\n')),
    ).toEqual({
      DD_DOGSTATSD_PORT: '9000',
      DD_LOGS_ENABLED: 'false',
      DD_APM_CONFIG_DD_URL: 'https://x',
      DD_APM_DD_URL: 'https://x',
    });
  });
});

describe('switches', () => {
  it('logs are on unless one of the two variables is set and neither is true', () => {
    expect(logsEnabled({})).toBe(true);
    expect(logsEnabled({ DD_LOGS_ENABLED: 'false' })).toBe(false);
    expect(logsEnabled({ DD_SERVERLESS_LOGS_ENABLED: 'false', DD_LOGS_ENABLED: 'true' })).toBe(true);
    expect(logsEnabled({ DD_SERVERLESS_LOGS_ENABLED: 'TRUE' })).toBe(true);
    expect(logsEnabled({ DD_SERVERLESS_LOGS_ENABLED: 'no' })).toBe(false);
    expect(logsEnabled({ DD_SERVERLESS_LOGS_ENABLED: 'false', DD_LOGS_ENABLED: 'yes' })).toBe(true);
  });

  it('goes idle without an API key, and says why without the key', () => {
    expect(idleReason({ DD_API_KEY: ' abc\n' })).toBeUndefined();
    expect(idleReason({})).toMatch(/^no API key/);
    expect(idleReason({ DD_API_KEY: '  ' })).toMatch(/^no API key/);
    // A key in a secret is resolved by the forwarder, later: not a reason to idle now.
    expect(
      idleReason({ DD_API_KEY_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:1:secret:k' }),
    ).toBeUndefined();
  });

  it('classifies every variable of the reference exactly once', () => {
    const honoured = Object.values(HONOURED).flat();
    const all = [...honoured, ...NOT_SUPPORTED_YET];
    expect(new Set(all).size).toBe(all.length);
    const readme = readFileSync(join(APP_DIR, 'README.md'), 'utf8');
    for (const name of all) expect(readme, name).toContain(`\`${name}\``);
  });

  it('lists the set variables that are not supported yet, in one warning', () => {
    const log = recorder();
    const env = {
      DD_OTLP_CONFIG_METRICS_ENABLED: 'true',
      DD_SERVERLESS_APPSEC_ENABLED: 'true',
      DD_LOG_LEVEL: 'debug',
    };
    expect(unsupportedSet(env)).toEqual(['DD_SERVERLESS_APPSEC_ENABLED', 'DD_OTLP_CONFIG_METRICS_ENABLED']);
    warnUnsupported(env, log);
    expect(log.lines).toEqual([
      'warn not supported yet, ignored: DD_SERVERLESS_APPSEC_ENABLED, DD_OTLP_CONFIG_METRICS_ENABLED',
    ]);
  });
});

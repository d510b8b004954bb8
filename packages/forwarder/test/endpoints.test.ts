import { describe, expect, it } from 'vitest';
import { additionalUrl } from '../src/endpoints.js';
import { ENDPOINT_KINDS, type EndpointKind, fromEnv, intakeUrl } from '../src/index.js';
import { captureLogger } from './helpers/logger.js';

const SITES = [
  'datadoghq.com',
  'us3.datadoghq.com',
  'us5.datadoghq.com',
  'datadoghq.eu',
  'ap1.datadoghq.com',
  'ap2.datadoghq.com',
  'ddog-gov.com',
  'us2.ddog-gov.com',
  'uk1.datadoghq.com',
];

// wire-protocols.md §F, the Lambda extension's hosts and paths.
const EXPECTED: Record<EndpointKind, (site: string) => string> = {
  series: (s) => `https://api.${s}/api/v2/series`,
  sketches: (s) => `https://api.${s}/api/beta/sketches`,
  check_run: (s) => `https://api.${s}/api/v1/check_run`,
  events: (s) => `https://api.${s}/intake/`,
  logs: (s) => `https://http-intake.logs.${s}/api/v2/logs`,
  traces: (s) => `https://trace.agent.${s}/api/v0.2/traces`,
  stats: (s) => `https://trace.agent.${s}/api/v0.2/stats`,
  pipeline_stats: (s) => `https://trace.agent.${s}/api/v0.1/pipeline_stats`,
  profiling: (s) => `https://intake.profile.${s}/api/v2/profile`,
  llmobs: (s) => `https://llmobs-intake.${s}/api/v2/llmobs`,
  llmobs_eval_v1: (s) => `https://api.${s}/api/intake/llm-obs/v1/eval-metric`,
  llmobs_eval_v2: (s) => `https://api.${s}/api/intake/llm-obs/v2/eval-metric`,
  debugger: (s) => `https://debugger-intake.${s}/api/v2/debugger`,
  debugger_logs: (s) => `https://http-intake.logs.${s}/api/v2/logs`,
  apm_telemetry: (s) => `https://instrumentation-telemetry-intake.${s}/api/v2/apmtelemetry`,
};

const resolve = (env: Record<string, string>, logger = captureLogger()) => fromEnv(env, logger).endpoints;

describe('endpoint resolution', () => {
  it('derives every kind from DD_SITE for every site', () => {
    for (const site of SITES) {
      const endpoints = resolve({ DD_SITE: site });
      for (const kind of ENDPOINT_KINDS) expect(intakeUrl(kind, endpoints)).toBe(EXPECTED[kind](site));
    }
  });

  it('defaults to datadoghq.com, and refuses a malformed site with a warning', () => {
    expect(intakeUrl('series', resolve({}))).toBe('https://api.datadoghq.com/api/v2/series');
    const logger = captureLogger();
    expect(intakeUrl('logs', resolve({ DD_SITE: 'bad site/' }, logger))).toBe(
      'https://http-intake.logs.datadoghq.com/api/v2/logs',
    );
    expect(logger.lines[0]!.level).toBe('warn');
  });

  it('DD_DD_URL (over DD_URL) replaces the metrics prefix, trailing slash trimmed, paths refused', () => {
    const both = resolve({ DD_DD_URL: 'https://metrics.example:8443/', DD_URL: 'https://other.example' });
    expect(intakeUrl('series', both)).toBe('https://metrics.example:8443/api/v2/series');
    expect(intakeUrl('check_run', both)).toBe('https://metrics.example:8443/api/v1/check_run');
    expect(intakeUrl('logs', both)).toBe('https://http-intake.logs.datadoghq.com/api/v2/logs');
    expect(intakeUrl('sketches', resolve({ DD_URL: 'http://127.0.0.1:9000' }))).toBe(
      'http://127.0.0.1:9000/api/beta/sketches',
    );
    const logger = captureLogger();
    expect(intakeUrl('series', resolve({ DD_DD_URL: 'https://x.example/some/path' }, logger))).toBe(
      'https://api.datadoghq.com/api/v2/series',
    );
    expect(logger.text()).toMatch(/DD_DD_URL must look like/);
  });

  it('DD_APM_DD_URL replaces the trace prefix for traces and stats', () => {
    const e = resolve({ DD_APM_DD_URL: 'https://trace.example:8126/', DD_SITE: 'datadoghq.eu' });
    expect(intakeUrl('traces', e)).toBe('https://trace.example:8126/api/v0.2/traces');
    expect(intakeUrl('stats', e)).toBe('https://trace.example:8126/api/v0.2/stats');
    expect(intakeUrl('pipeline_stats', e)).toBe('https://trace.agent.datadoghq.eu/api/v0.1/pipeline_stats');
  });

  it('DD_APM_DD_URL given as the full trace URL: stats hang off the same prefix', () => {
    for (const url of [
      'https://trace.example/api/v0.2/traces',
      'https://trace.example/api/v0.2/traces/',
      'https://trace.example',
    ]) {
      const e = resolve({ DD_APM_DD_URL: url });
      expect(intakeUrl('traces', e)).toBe('https://trace.example/api/v0.2/traces');
      expect(intakeUrl('stats', e)).toBe('https://trace.example/api/v0.2/stats');
    }
    // A path prefix (a relay) is kept in front of both routes.
    const relay = resolve({ DD_APM_DD_URL: 'http://relay.internal:8080/datadog/api/v0.2/traces' });
    expect(intakeUrl('traces', relay)).toBe('http://relay.internal:8080/datadog/api/v0.2/traces');
    expect(intakeUrl('stats', relay)).toBe('http://relay.internal:8080/datadog/api/v0.2/stats');
    // The same for the APM additional endpoints.
    const o = fromEnv(
      { DD_APM_ADDITIONAL_ENDPOINTS: '{"https://trace.agent.datadoghq.eu/api/v0.2/traces": ["k"]}' },
      captureLogger(),
    );
    const [extra] = o.additionalEndpoints.apm;
    expect(additionalUrl('traces', extra!)).toBe('https://trace.agent.datadoghq.eu/api/v0.2/traces');
    expect(additionalUrl('stats', extra!)).toBe('https://trace.agent.datadoghq.eu/api/v0.2/stats');
  });

  it('DD_LOGS_CONFIG_LOGS_DD_URL takes a URL or host:port, https unless DD_LOGS_CONFIG_LOGS_NO_SSL', () => {
    expect(intakeUrl('logs', resolve({ DD_LOGS_CONFIG_LOGS_DD_URL: 'logs.example:10516' }))).toBe(
      'https://logs.example:10516/api/v2/logs',
    );
    expect(
      intakeUrl(
        'logs',
        resolve({ DD_LOGS_CONFIG_LOGS_DD_URL: 'logs.example:8080', DD_LOGS_CONFIG_LOGS_NO_SSL: 'true' }),
      ),
    ).toBe('http://logs.example:8080/api/v2/logs');
    expect(intakeUrl('logs', resolve({ DD_LOGS_CONFIG_LOGS_DD_URL: 'http://opw.internal:8282/' }))).toBe(
      'http://opw.internal:8282/api/v2/logs',
    );
  });

  it('parses the additional endpoints of metrics, traces and logs', () => {
    const logger = captureLogger();
    const o = fromEnv(
      {
        DD_ADDITIONAL_ENDPOINTS:
          '{"https://app.datadoghq.eu": ["k1", "k2"], "https://app.us5.datadoghq.com/": ["k3"]}',
        DD_APM_ADDITIONAL_ENDPOINTS: '{"https://trace.agent.datadoghq.eu": ["k4"]}',
        DD_LOGS_CONFIG_ADDITIONAL_ENDPOINTS:
          '[{"api_key":"k5","Host":"agent-http-intake.logs.datadoghq.eu","Port":443,"is_reliable":true},' +
          '{"api_key":"k6","Host":"logs.example","is_reliable":false}]',
      },
      logger,
    );
    expect(o.additionalEndpoints.metrics).toEqual([
      { url: 'https://app.datadoghq.eu', apiKey: 'k1', reliable: true },
      { url: 'https://app.datadoghq.eu', apiKey: 'k2', reliable: true },
      { url: 'https://app.us5.datadoghq.com', apiKey: 'k3', reliable: true },
    ]);
    expect(o.additionalEndpoints.apm).toEqual([
      { url: 'https://trace.agent.datadoghq.eu', apiKey: 'k4', reliable: true },
    ]);
    expect(o.additionalEndpoints.logs).toEqual([
      { url: 'https://agent-http-intake.logs.datadoghq.eu:443', apiKey: 'k5', reliable: true },
      { url: 'https://logs.example:443', apiKey: 'k6', reliable: false },
    ]);
    expect(logger.lines.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('logs additional endpoints are https://Host:Port/api/v2/logs even with DD_LOGS_CONFIG_LOGS_NO_SSL', () => {
    const logger = captureLogger();
    const o = fromEnv(
      {
        DD_LOGS_CONFIG_LOGS_NO_SSL: 'true',
        DD_LOGS_CONFIG_LOGS_DD_URL: 'logs.example:8080',
        DD_LOGS_CONFIG_ADDITIONAL_ENDPOINTS:
          '[{"api_key":"k1","Host":"agent-http-intake.logs.datadoghq.eu","Port":443,"is_reliable":true},' +
          '{"api_key":"k2","Host":"logs.example","Port":"10516"},{"api_key":"k3","Host":"nop.example"},' +
          '{"api_key":"k4","Host":"https://x.example"},{"api_key":"k5","Host":"y.example","Port":70000}]',
      },
      logger,
    );
    // NO_SSL still applies to the scheme-less main URL.
    expect(intakeUrl('logs', o.endpoints)).toBe('http://logs.example:8080/api/v2/logs');
    expect(o.additionalEndpoints.logs.map((e) => additionalUrl('logs', e))).toEqual([
      'https://agent-http-intake.logs.datadoghq.eu:443/api/v2/logs',
      'https://logs.example:10516/api/v2/logs',
      'https://nop.example:443/api/v2/logs',
    ]);
    expect(logger.lines.filter((l) => l.level === 'warn')).toHaveLength(2);
  });

  it('ignores malformed additional endpoints with a warning, never a throw', () => {
    const logger = captureLogger();
    const o = fromEnv(
      {
        DD_ADDITIONAL_ENDPOINTS: '{not json',
        DD_APM_ADDITIONAL_ENDPOINTS: '["https://x"]',
        DD_LOGS_CONFIG_ADDITIONAL_ENDPOINTS: '{"Host":"x"}',
      },
      logger,
    );
    expect(o.additionalEndpoints).toEqual({ metrics: [], apm: [], logs: [] });
    expect(logger.lines.filter((l) => l.level === 'warn')).toHaveLength(3);
  });
});

describe('other variables', () => {
  it('reads DATADOG_-prefixed variables where the DD_ one is not set', () => {
    const o = fromEnv(
      { DATADOG_SITE: 'datadoghq.eu', DATADOG_API_KEY: 'from-datadog-prefix', DD_API_KEY: 'dd' },
      captureLogger(),
    );
    expect(o.endpoints.site).toBe('datadoghq.eu');
    expect(o.apiKey.source).toEqual({ type: 'plain', apiKey: 'dd' });
  });

  it('reads compression kinds and levels, and the logs switch', () => {
    const logger = captureLogger();
    const c = fromEnv(
      {
        DD_COMPRESSION_LEVEL: '5',
        DD_APM_CONFIG_COMPRESSION_LEVEL: '1',
        DD_SERIALIZER_COMPRESSOR_KIND: 'zlib',
        DD_LOGS_CONFIG_USE_COMPRESSION: 'false',
      },
      logger,
    ).compression;
    expect(c).toMatchObject({
      metrics: 'deflate',
      logs: 'none',
      traces: 'zstd',
      metricsLevel: 5,
      logsLevel: 5,
      apmLevel: 1,
    });
    expect(fromEnv({ DD_LOGS_CONFIG_COMPRESSION_KIND: 'gzip' }, logger).compression.logs).toBe('gzip');
  });

  it('reads the timeouts, the retry buffer bound and the retry knobs', () => {
    const o = fromEnv(
      {
        DD_FLUSH_TIMEOUT: '5',
        DD_FORWARDER_RETRY_QUEUE_PAYLOADS_MAX_SIZE: '1048576',
        DD_FORWARDER_MAX_ATTEMPTS: '5',
        DD_FORWARDER_BACKOFF_BASE: '0.05',
        DD_FORWARDER_BACKOFF_MAX: '1',
        DD_FORWARDER_UNHEALTHY_AFTER: '4',
        DD_FORWARDER_IDLE_CONNECTION_TIMEOUT: '2',
      },
      captureLogger(),
    );
    expect(o).toMatchObject({
      requestTimeoutMs: 5_000,
      retryBufferBytes: 1_048_576,
      maxAttempts: 5,
      backoff: { baseMs: 50, maxMs: 1_000 },
      unhealthyAfter: 4,
      idleSocketMs: 2_000,
    });
  });

  it('falls back to defaults with a warning on malformed values', () => {
    const logger = captureLogger();
    const o = fromEnv(
      {
        DD_FLUSH_TIMEOUT: 'soon',
        DD_FORWARDER_MAX_ATTEMPTS: '0',
        DD_SKIP_SSL_VALIDATION: 'maybe',
        DD_COMPRESSION_LEVEL: '99',
        DD_SERIALIZER_COMPRESSOR_KIND: 'brotli',
      },
      logger,
    );
    expect(o).toMatchObject({ requestTimeoutMs: 30_000, maxAttempts: 3, tls: { rejectUnauthorized: true } });
    expect(o.compression).toMatchObject({ metrics: 'zstd', metricsLevel: 3 });
    expect(logger.lines.filter((l) => l.level === 'warn')).toHaveLength(5);
  });
});

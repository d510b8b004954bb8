import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import type { ApiKeyOptions, ApiKeySource } from './api-key.js';
import { credentialSourceFromEnv } from './aws/credentials.js';
import { type CodecKind, type CompressionOptions, DEFAULT_COMPRESSION_LEVEL } from './compression.js';
import {
  type AdditionalEndpoint,
  type AdditionalEndpoints,
  DEFAULT_SITE,
  type EndpointConfig,
  isValidMetricsUrl,
  isValidSite,
  normaliseLogsUrl,
} from './endpoints.js';
import { DEFAULT_OPTIONS, type ForwarderOptions } from './forwarder.js';
import type { Logger } from './types.js';

type Env = Record<string, string | undefined>;

function value(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function bool(env: Env, name: string, fallback: boolean, logger: Logger): boolean {
  const v = value(env, name);
  if (v === undefined) return fallback;
  const lower = v.toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(lower)) return true;
  if (['false', '0', 'no', 'off'].includes(lower)) return false;
  logger.warn(`${name}=${JSON.stringify(v)} is not a boolean; using ${fallback}`);
  return fallback;
}

function number(
  env: Env,
  name: string,
  fallback: number,
  logger: Logger,
  check: (n: number) => boolean = (n) => n >= 0,
): number {
  const v = value(env, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || !check(n)) {
    logger.warn(`${name}=${JSON.stringify(v)} is not a valid number; using ${fallback}`);
    return fallback;
  }
  return n;
}

function codec(env: Env, name: string, fallback: CodecKind, logger: Logger): CodecKind {
  const v = value(env, name)?.toLowerCase();
  if (v === undefined) return fallback;
  if (v === 'zstd' || v === 'gzip' || v === 'none') return v;
  if (v === 'zlib' || v === 'deflate') return 'deflate';
  logger.warn(`${name}=${JSON.stringify(v)} is not one of zstd, gzip, zlib, none; using ${fallback}`);
  return fallback;
}

/** `{"https://url": ["key1", "key2"]}`: one destination per key. */
export function parseAdditionalEndpoints(raw: string, name: string, logger: Logger): AdditionalEndpoint[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    logger.warn(`${name} is not valid JSON; ignored`);
    return [];
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    logger.warn(`${name} must be a JSON object {"<url>": ["<api key>", ...]}; ignored`);
    return [];
  }
  const out: AdditionalEndpoint[] = [];
  for (const [url, keys] of Object.entries(parsed)) {
    const clean = url.trim().replace(/\/+$/, '');
    if (!/^https?:\/\/[^\s/]+/.test(clean)) {
      logger.warn(`${name}: ${JSON.stringify(url)} is not an http(s) URL; ignored`);
      continue;
    }
    const list = Array.isArray(keys) ? keys : [keys];
    for (const k of list) {
      if (typeof k === 'string' && k.trim() !== '')
        out.push({ url: clean, apiKey: k.trim(), reliable: true });
      else logger.warn(`${name}: an API key for ${clean} is not a non-empty string; ignored`);
    }
  }
  return out;
}

/**
 * `[{"api_key": "...", "Host": "...", "Port": 443, "is_reliable": true}]` → `https://Host:Port/api/v2/logs`
 * (lambda-extension-reference.md §1d): always HTTPS, whatever `DD_LOGS_CONFIG_LOGS_NO_SSL` says (that
 * variable is about the main logs URL). A missing `Port` is 443, the HTTPS port the intakes listen on.
 */
export function parseLogsAdditionalEndpoints(raw: string, logger: Logger): AdditionalEndpoint[] {
  const name = 'DD_LOGS_CONFIG_ADDITIONAL_ENDPOINTS';
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    logger.warn(`${name} is not valid JSON; ignored`);
    return [];
  }
  if (!Array.isArray(parsed)) {
    logger.warn(`${name} must be a JSON array [{"api_key","Host","Port","is_reliable"}]; ignored`);
    return [];
  }
  const out: AdditionalEndpoint[] = [];
  for (const e of parsed as Record<string, unknown>[]) {
    const host = e?.Host ?? e?.host;
    const key = e?.api_key ?? e?.APIKey;
    if (typeof host !== 'string' || host.trim() === '' || typeof key !== 'string' || key.trim() === '') {
      logger.warn(`${name}: an entry without Host or api_key; ignored`);
      continue;
    }
    if (!/^[a-zA-Z0-9._-]+$/.test(host.trim())) {
      logger.warn(
        `${name}: Host ${JSON.stringify(host)} is not a host name (no scheme, port or path); ignored`,
      );
      continue;
    }
    const rawPort = e.Port ?? e.port;
    const port = rawPort === undefined || rawPort === '' ? 443 : Number(rawPort);
    if (!Number.isInteger(port) || port < 1 || port > 65_535) {
      logger.warn(`${name}: Port ${JSON.stringify(rawPort)} for ${host} is not a TCP port; ignored`);
      continue;
    }
    out.push({
      url: `https://${host.trim()}:${port}`,
      apiKey: key.trim(),
      reliable: e.is_reliable === undefined ? true : e.is_reliable === true || e.is_reliable === 'true',
    });
  }
  return out;
}

function apiKeySource(env: Env, logger: Logger): ApiKeySource {
  // The Lambda extension's precedence: KMS, then Secrets Manager, then SSM, then the plain key.
  const kms = value(env, 'DD_KMS_API_KEY');
  const arn = value(env, 'DD_API_KEY_SECRET_ARN');
  const ssm = value(env, 'DD_API_KEY_SSM_ARN') ?? value(env, 'DD_API_KEY_SSM_NAME');
  const plain = value(env, 'DD_API_KEY');
  if (value(env, 'DD_ORG_UUID'))
    logger.warn('DD_ORG_UUID (delegated authentication) is not supported; using the other API key sources');
  const chosen: ApiKeySource = kms
    ? { type: 'kms', ciphertext: kms }
    : arn
      ? { type: 'secrets-manager', secretArn: arn }
      : ssm
        ? { type: 'ssm', parameter: ssm }
        : plain
          ? { type: 'plain', apiKey: plain }
          : { type: 'none' };
  const others = [kms, arn, ssm, plain].filter((v) => v !== undefined).length;
  if (others > 1) logger.info(`several API key sources are set; using ${chosen.type}`);
  return chosen;
}

interface ProxyDecision {
  proxy: string | undefined;
}

/** The Lambda extension's proxy rules (lambda-extension-reference.md §1, §1g, §9). */
function proxyFromEnv(env: Env, site: string, logger: Logger): ProxyDecision {
  const proxy = value(env, 'DD_PROXY_HTTPS') ?? value(env, 'HTTPS_PROXY');
  const noProxyRaw = value(env, 'NO_PROXY');
  const ddNoProxy = (value(env, 'DD_PROXY_NO_PROXY') ?? '').split(/[\s,]+/).filter(Boolean);
  if (value(env, 'DD_PROXY_HTTP'))
    logger.warn(
      'DD_PROXY_HTTP is not supported: Datadog traffic is HTTPS and only DD_PROXY_HTTPS / HTTPS_PROXY apply',
    );
  if (value(env, 'https_proxy') && !proxy)
    logger.warn('https_proxy (lower case) is not read; set HTTPS_PROXY or DD_PROXY_HTTPS');
  if (value(env, 'no_proxy') && !noProxyRaw)
    logger.warn('no_proxy (lower case) is not read; set NO_PROXY or DD_PROXY_NO_PROXY');
  const protocol = value(env, 'DD_HTTP_PROTOCOL');
  if (protocol && protocol.toLowerCase() !== 'http1')
    logger.warn(`DD_HTTP_PROTOCOL=${protocol} is not supported; the forwarder speaks HTTP/1.1`);
  if (!proxy) return { proxy: undefined };

  // A NO_PROXY naming the site turns the proxy off for every Datadog destination; nothing finer.
  const bypass = (noProxyRaw?.includes(site) ?? false) || ddNoProxy.some((entry) => entry.includes(site));
  if (bypass) {
    logger.info(`the proxy is disabled: NO_PROXY / DD_PROXY_NO_PROXY names the site ${site}`);
    return { proxy: undefined };
  }
  if (noProxyRaw || ddNoProxy.length > 0)
    logger.warn(
      `NO_PROXY / DD_PROXY_NO_PROXY is honoured only when it names the site (${site}); ` +
        'per-host entries are not supported, so every Datadog destination goes through the proxy',
    );
  let parsed: URL;
  try {
    parsed = new URL(proxy.includes('://') ? proxy : `http://${proxy}`);
  } catch {
    logger.warn('the HTTPS proxy URL is not a valid URL; sending without a proxy');
    return { proxy: undefined };
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    logger.warn(
      `proxy scheme ${parsed.protocol} is not supported (http: or https: only); sending without a proxy`,
    );
    return { proxy: undefined };
  }
  return { proxy: parsed.toString() };
}

function tlsFromEnv(env: Env, logger: Logger): ForwarderOptions['tls'] {
  const skip = bool(env, 'DD_SKIP_SSL_VALIDATION', false, logger);
  if (skip) logger.warn('DD_SKIP_SSL_VALIDATION is set: certificates of the Datadog intakes are not checked');
  const certFile = value(env, 'DD_TLS_CERT_FILE');
  if (!certFile) return { rejectUnauthorized: !skip };
  const read = (file: string, name: string): string | undefined => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      logger.warn(`${name}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? err}); ignored`);
      return undefined;
    }
  };
  const extra = read(certFile, 'DD_TLS_CERT_FILE');
  if (!extra) return { rejectUnauthorized: !skip };
  // An explicit CA list replaces Node's whole store, so it carries the defaults and NODE_EXTRA_CA_CERTS too.
  const nodeExtraFile = value(env, 'NODE_EXTRA_CA_CERTS');
  const nodeExtra = nodeExtraFile ? read(nodeExtraFile, 'NODE_EXTRA_CA_CERTS') : undefined;
  return {
    rejectUnauthorized: !skip,
    ca: [...rootCertificates, ...(nodeExtra ? [nodeExtra] : []), extra],
  };
}

/** As the Lambda extension reads them: `DATADOG_X` stands for `DD_X` when `DD_X` is not set. */
function withDatadogPrefix(env: Env): Env {
  const out: Env = { ...env };
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith('DATADOG_')) continue;
    const dd = `DD_${k.slice('DATADOG_'.length)}`;
    if (out[dd] === undefined) out[dd] = v;
  }
  return out;
}

/** Every option the forwarder takes, from the standard `DD_*` (and AWS) variables. Never throws. */
export function fromEnv(input: Env, logger: Logger): ForwarderOptions {
  const env = withDatadogPrefix(input);
  let site = value(env, 'DD_SITE') ?? DEFAULT_SITE;
  if (!isValidSite(site)) {
    logger.warn(`DD_SITE=${JSON.stringify(site)} is not a valid site; using ${DEFAULT_SITE}`);
    site = DEFAULT_SITE;
  }
  const endpoints: EndpointConfig = { site };
  const ddUrlName = value(env, 'DD_DD_URL') ? 'DD_DD_URL' : 'DD_URL';
  const ddUrl = value(env, ddUrlName)?.replace(/\/+$/, '');
  if (ddUrl) {
    if (isValidMetricsUrl(ddUrl)) endpoints.metricsUrl = ddUrl;
    else logger.warn(`${ddUrlName} must look like https://host[:port] without a path; ignored`);
  }
  const apmUrl = value(env, 'DD_APM_DD_URL')?.replace(/\/+$/, '');
  if (apmUrl) endpoints.apmUrl = apmUrl.includes('://') ? apmUrl : `https://${apmUrl}`;
  const logsNoSsl = bool(env, 'DD_LOGS_CONFIG_LOGS_NO_SSL', false, logger);
  const logsUrl = value(env, 'DD_LOGS_CONFIG_LOGS_DD_URL');
  if (logsUrl) endpoints.logsUrl = normaliseLogsUrl(logsUrl, logsNoSsl);
  if (bool(env, 'DD_OBSERVABILITY_PIPELINES_WORKER_LOGS_ENABLED', false, logger)) {
    const opw = value(env, 'DD_OBSERVABILITY_PIPELINES_WORKER_LOGS_URL');
    if (!opw)
      logger.warn(
        'DD_OBSERVABILITY_PIPELINES_WORKER_LOGS_ENABLED is set without DD_OBSERVABILITY_PIPELINES_WORKER_LOGS_URL; ' +
          'logs go to the Datadog logs intake',
      );
    else if (!/^https?:\/\/[^\s/]+/i.test(normaliseLogsUrl(opw, logsNoSsl)))
      logger.warn(
        'DD_OBSERVABILITY_PIPELINES_WORKER_LOGS_URL is not an http(s) URL; logs go to the Datadog logs intake',
      );
    else endpoints.opwLogsUrl = normaliseLogsUrl(opw, logsNoSsl);
  }

  const additional: AdditionalEndpoints = { metrics: [], apm: [], logs: [] };
  const metricsExtra = value(env, 'DD_ADDITIONAL_ENDPOINTS');
  if (metricsExtra)
    additional.metrics = parseAdditionalEndpoints(metricsExtra, 'DD_ADDITIONAL_ENDPOINTS', logger);
  const apmExtra = value(env, 'DD_APM_ADDITIONAL_ENDPOINTS');
  if (apmExtra) additional.apm = parseAdditionalEndpoints(apmExtra, 'DD_APM_ADDITIONAL_ENDPOINTS', logger);
  const logsExtra = value(env, 'DD_LOGS_CONFIG_ADDITIONAL_ENDPOINTS');
  if (logsExtra) additional.logs = parseLogsAdditionalEndpoints(logsExtra, logger);

  // 0–9 as the spec gives DD_COMPRESSION_LEVEL; the per-kind variables are levels of the same codecs.
  const level = (name: string, fallback: number) =>
    number(env, name, fallback, logger, (n) => Number.isInteger(n) && n >= 0 && n <= 9);
  const globalLevel = level('DD_COMPRESSION_LEVEL', DEFAULT_COMPRESSION_LEVEL);
  const logsCompressed = bool(env, 'DD_LOGS_CONFIG_USE_COMPRESSION', true, logger);
  const compression: CompressionOptions = {
    metrics: codec(env, 'DD_SERIALIZER_COMPRESSOR_KIND', 'zstd', logger),
    logs: logsCompressed ? codec(env, 'DD_LOGS_CONFIG_COMPRESSION_KIND', 'zstd', logger) : 'none',
    traces: codec(env, 'DD_APM_CONFIG_COMPRESSION_KIND', 'zstd', logger),
    metricsLevel: level('DD_METRICS_CONFIG_COMPRESSION_LEVEL', globalLevel),
    logsLevel: level('DD_LOGS_CONFIG_COMPRESSION_LEVEL', globalLevel),
    apmLevel: level('DD_APM_CONFIG_COMPRESSION_LEVEL', globalLevel),
    zstdWasm: bool(env, 'DD_FORWARDER_ZSTD_WASM', false, logger),
  };

  const region = value(env, 'AWS_REGION') ?? value(env, 'AWS_DEFAULT_REGION') ?? 'us-east-1';
  const reloadSeconds = number(env, 'DD_API_KEY_SECRET_RELOAD_INTERVAL', 0, logger);
  // DD_LAMBDA_FIPS_MODE is informational (lambda-extension-reference.md §1a, §9): it says what the runtime
  // layer does; a mismatch with this process is worth a warning, and it changes no endpoint.
  const fipsCrypto = crypto.getFips() === 1;
  const fipsMode = bool(env, 'DD_LAMBDA_FIPS_MODE', region.startsWith('us-gov-'), logger);
  if (fipsMode !== fipsCrypto)
    logger.warn(
      fipsMode
        ? 'FIPS mode is expected (DD_LAMBDA_FIPS_MODE, or a us-gov-* region) but this process does not run ' +
            'FIPS crypto; use a FIPS-enabled Node or set DD_LAMBDA_FIPS_MODE=false for consistent FIPS behaviour'
        : 'this process runs FIPS crypto but DD_LAMBDA_FIPS_MODE is false; the runtime layer will not be in ' +
            'FIPS mode: set DD_LAMBDA_FIPS_MODE=true for consistent FIPS behaviour',
    );
  const apiKey: ApiKeyOptions = {
    source: apiKeySource(env, logger),
    reloadIntervalMs: reloadSeconds * 1000,
    region,
    functionName: value(env, 'AWS_LAMBDA_FUNCTION_NAME') ?? '',
    aws: {
      ...(value(env, 'AWS_ENDPOINT_URL') ? { all: value(env, 'AWS_ENDPOINT_URL') } : {}),
      ...(value(env, 'AWS_ENDPOINT_URL_SECRETS_MANAGER')
        ? { secretsmanager: value(env, 'AWS_ENDPOINT_URL_SECRETS_MANAGER') }
        : {}),
      ...(value(env, 'AWS_ENDPOINT_URL_KMS') ? { kms: value(env, 'AWS_ENDPOINT_URL_KMS') } : {}),
      ...(value(env, 'AWS_ENDPOINT_URL_SSM') ? { ssm: value(env, 'AWS_ENDPOINT_URL_SSM') } : {}),
      fips: fipsCrypto,
    },
    credentials: credentialSourceFromEnv(env),
    timeoutMs: 10_000,
  };

  const { proxy } = proxyFromEnv(env, site, logger);
  const seconds = (name: string, fallback: number) => number(env, name, fallback / 1000, logger) * 1000;
  const flushTimeoutMs = seconds('DD_FLUSH_TIMEOUT', DEFAULT_OPTIONS.requestTimeoutMs);

  return {
    ...DEFAULT_OPTIONS,
    endpoints,
    additionalEndpoints: additional,
    apiKey,
    compression,
    ...(proxy ? { proxy } : {}),
    tls: tlsFromEnv(env, logger),
    requestTimeoutMs: flushTimeoutMs > 0 ? flushTimeoutMs : DEFAULT_OPTIONS.requestTimeoutMs,
    retryBufferBytes: number(
      env,
      'DD_FORWARDER_RETRY_QUEUE_PAYLOADS_MAX_SIZE',
      DEFAULT_OPTIONS.retryBufferBytes,
      logger,
    ),
    maxAttempts: number(
      env,
      'DD_FORWARDER_MAX_ATTEMPTS',
      DEFAULT_OPTIONS.maxAttempts,
      logger,
      (n) => Number.isInteger(n) && n >= 1,
    ),
    backoff: {
      baseMs: seconds('DD_FORWARDER_BACKOFF_BASE', DEFAULT_OPTIONS.backoff.baseMs),
      maxMs: seconds('DD_FORWARDER_BACKOFF_MAX', DEFAULT_OPTIONS.backoff.maxMs),
    },
    unhealthyAfter: number(
      env,
      'DD_FORWARDER_UNHEALTHY_AFTER',
      DEFAULT_OPTIONS.unhealthyAfter,
      logger,
      (n) => Number.isInteger(n) && n >= 1,
    ),
    idleSocketMs: seconds('DD_FORWARDER_IDLE_CONNECTION_TIMEOUT', DEFAULT_OPTIONS.idleSocketMs),
    logger,
  };
}

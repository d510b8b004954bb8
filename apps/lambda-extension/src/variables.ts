// Every variable of the upstream extension's configuration reference, and whether this version
// honours it. A variable that is set but not honoured gets one warning line at start, so nobody
// believes a setting took effect when it did not.
import type { Env } from './env.js';
import type { Logger } from './logger.js';

/**
 * Honoured by this version, and by whom (each package's `fromEnv` reads its own; the README's table
 * gives their meaning).
 */
export const HONOURED: Readonly<Record<string, readonly string[]>> = {
  app: [
    'DD_LOG_LEVEL',
    'DD_DOGSTATSD_PORT',
    'DD_APM_RECEIVER_PORT',
    'SERVERLESS_AGENT_HOOKS_PORT',
    'SERVERLESS_AGENT_TELEMETRY_PORT',
  ],
  forwarder: [
    'DD_API_KEY',
    'DD_API_KEY_SECRET_ARN',
    'DD_KMS_API_KEY',
    'DD_API_KEY_SSM_ARN',
    'DD_API_KEY_SECRET_RELOAD_INTERVAL',
    'DD_SITE',
    'DD_DD_URL',
    'DD_URL',
    'DD_ADDITIONAL_ENDPOINTS',
    'DD_FLUSH_TIMEOUT',
    'DD_COMPRESSION_LEVEL',
    'DD_LAMBDA_FIPS_MODE',
    'DD_LOGS_CONFIG_USE_COMPRESSION',
    'DD_LOGS_CONFIG_COMPRESSION_LEVEL',
    'DD_LOGS_CONFIG_LOGS_DD_URL',
    'DD_LOGS_CONFIG_ADDITIONAL_ENDPOINTS',
    'DD_APM_DD_URL',
    'DD_APM_ADDITIONAL_ENDPOINTS',
    'DD_APM_CONFIG_COMPRESSION_LEVEL',
    'DD_METRICS_CONFIG_COMPRESSION_LEVEL',
    'DD_PROXY_HTTPS',
    'DD_PROXY_NO_PROXY',
    'DD_HTTP_PROTOCOL',
    'DD_TLS_CERT_FILE',
    'DD_SKIP_SSL_VALIDATION',
    'DD_ORG_UUID',
  ],
  'trace-intake': [
    'DD_ENV',
    'DD_VERSION',
    'DD_SERVICE',
    'DD_TAGS',
    'DD_SERVICE_MAPPING',
    'DD_CAPTURE_LAMBDA_PAYLOAD',
    'DD_CAPTURE_LAMBDA_PAYLOAD_MAX_DEPTH',
    'DD_LAMBDA_EXTENSION_COMPUTE_STATS',
    'DD_APM_REPLACE_TAGS',
    'DD_APM_CONFIG_OBFUSCATION_HTTP_REMOVE_QUERY_STRING',
    'DD_APM_CONFIG_OBFUSCATION_HTTP_REMOVE_PATHS_WITH_DIGITS',
    'DD_APM_FILTER_TAGS_REQUIRE',
    'DD_APM_FILTER_TAGS_REJECT',
    'DD_APM_FILTER_TAGS_REGEX_REQUIRE',
    'DD_APM_FILTER_TAGS_REGEX_REJECT',
    'DD_TRACE_AWS_SERVICE_REPRESENTATION_ENABLED',
    'DD_TRACE_PROPAGATION_STYLE',
    'DD_TRACE_PROPAGATION_STYLE_EXTRACT',
    'DD_TRACE_PROPAGATION_EXTRACT_FIRST',
  ],
  logs: ['DD_SERVERLESS_LOGS_ENABLED', 'DD_LOGS_ENABLED', 'DD_LOGS_CONFIG_PROCESSING_RULES'],
  lifecycle: ['DD_ENHANCED_METRICS', 'DD_LAMBDA_PROC_ENHANCED_METRICS'],
  'flush-strategy': ['DD_SERVERLESS_FLUSH_STRATEGY'],
  dogstatsd: [
    'DD_LAMBDA_CUSTOMER_METRICS_EXCLUDE_TAGS',
    'DD_STATSD_METRIC_NAMESPACE',
    'DD_DOGSTATSD_SO_RCVBUF',
    'DD_DOGSTATSD_BUFFER_SIZE',
  ],
};

/** In the upstream reference, not honoured yet. */
export const NOT_SUPPORTED_YET = [
  'DD_SPAN_DEDUP_TIMEOUT',
  'DD_SERVERLESS_APPSEC_ENABLED',
  'DD_APPSEC_RULES',
  'DD_APPSEC_WAF_TIMEOUT',
  'DD_API_SECURITY_ENABLED',
  'DD_API_SECURITY_SAMPLE_DELAY',
  'DD_LAMBDA_DURABLE_FUNCTION_LOG_BUFFER_SIZE',
  'DD_APM_TRACING_ENABLED',
  'DD_EXPERIMENTAL_ENABLE_PROXY',
  'DD_DEBUG_WAIT_FOR_ATTACH',
  'DD_OBSERVABILITY_PIPELINES_WORKER_LOGS_ENABLED',
  'DD_OBSERVABILITY_PIPELINES_WORKER_LOGS_URL',
  'DD_APM_FEATURES',
  'DD_TRACE_PROPAGATION_HTTP_BAGGAGE_ENABLED',
  'DD_DOGSTATSD_QUEUE_SIZE',
  'DD_OTLP_CONFIG_RECEIVER_PROTOCOLS_HTTP_ENDPOINT',
  'DD_OTLP_CONFIG_RECEIVER_PROTOCOLS_GRPC_ENDPOINT',
  'DD_OTLP_CONFIG_RECEIVER_PROTOCOLS_GRPC_MAX_RECV_MSG_SIZE_MIB',
  'DD_OTLP_CONFIG_TRACES_ENABLED',
  'DD_OTLP_CONFIG_TRACES_SPAN_NAME_AS_RESOURCE_NAME',
  'DD_OTLP_CONFIG_TRACES_SPAN_NAME_REMAPPINGS',
  'DD_OTLP_CONFIG_IGNORE_MISSING_DATADOG_FIELDS',
  'DD_OTLP_CONFIG_TRACES_PROBABILISTIC_SAMPLER_SAMPLING_PERCENTAGE',
  'DD_OTLP_CONFIG_LOGS_ENABLED',
] as const;

const PREFIX_NOT_SUPPORTED = ['DD_OTLP_CONFIG_METRICS_'];

/** The variables in `env` that are set but not honoured yet, in reference order. */
export function unsupportedSet(env: Env): string[] {
  const set = NOT_SUPPORTED_YET.filter((k) => env[k] !== undefined && env[k] !== '');
  const byPrefix = Object.keys(env)
    .filter((k) => PREFIX_NOT_SUPPORTED.some((p) => k.startsWith(p)) && env[k] !== '')
    .sort();
  return [...set, ...byPrefix];
}

export function warnUnsupported(env: Env, logger: Logger): string[] {
  const names = unsupportedSet(env);
  if (names.length > 0) logger.warn(`not supported yet, ignored: ${names.join(', ')}`);
  return names;
}

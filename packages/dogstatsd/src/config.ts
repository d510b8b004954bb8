import {
  type AggregatorOptions,
  DEFAULT_HISTOGRAM_AGGREGATES,
  DEFAULT_HISTOGRAM_PERCENTILES,
  type HistogramAggregate,
} from './aggregator.js';
import { type Logger, noopLogger } from './logger.js';
import { DEFAULT_BUFFER_SIZE, DEFAULT_DOGSTATSD_PORT, DEFAULT_RECV_BUFFER_SIZE } from './server.js';
import { parseTagList } from './tags.js';

/** Everything the DogStatsD variables configure: the listener and the aggregator's tag rules. */
export interface DogStatsDConfig {
  port: number;
  host: string;
  bufferSize: number;
  recvBufferSize: number;
  /** Parser worker threads (DD_DOGSTATSD_WORKERS_COUNT); 0 parses on the socket's thread. */
  workers: number;
  aggregator: Pick<
    AggregatorOptions,
    | 'globalTags'
    | 'customMetricsExcludeTagKeys'
    | 'namespace'
    | 'histogramAggregates'
    | 'histogramPercentiles'
  >;
}

type Env = Record<string, string | undefined>;

function parseBool(v: string | undefined): boolean | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  const s = v.trim().toLowerCase();
  if (s === 'true' || s === '1') return true;
  if (s === 'false' || s === '0') return false;
  return undefined;
}

function list(v: string | undefined): string[] {
  return (v ?? '').split(/[\s,]+/).filter((s) => s !== '');
}

/**
 * Reads the Datadog variables. A malformed value logs a warning and keeps the default, never
 * throws (the extension's forgiving configuration).
 */
export function fromEnv(env: Env = process.env, logger: Logger = noopLogger): DogStatsDConfig {
  const intVar = (name: string, def: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return def;
    const n = Number(raw.trim());
    if (!Number.isInteger(n) || n < min || n > max) {
      logger.warn(`dogstatsd: ignoring invalid ${name}=${JSON.stringify(raw)}, using ${def}`);
      return def;
    }
    return n;
  };
  const port = intVar('DD_DOGSTATSD_PORT', DEFAULT_DOGSTATSD_PORT, 0, 65535);
  const bufferSize = intVar('DD_DOGSTATSD_BUFFER_SIZE', DEFAULT_BUFFER_SIZE, 1, 65535);
  const recvBufferSize = intVar('DD_DOGSTATSD_SO_RCVBUF', DEFAULT_RECV_BUFFER_SIZE, 1, 2 ** 31 - 1);
  const workers = intVar('DD_DOGSTATSD_WORKERS_COUNT', 0, 0, 1024);
  const nonLocalRaw = env['DD_DOGSTATSD_NON_LOCAL_TRAFFIC'];
  const nonLocal = parseBool(nonLocalRaw);
  if (nonLocalRaw !== undefined && nonLocalRaw.trim() !== '' && nonLocal === undefined) {
    logger.warn(`dogstatsd: ignoring invalid DD_DOGSTATSD_NON_LOCAL_TRAFFIC=${JSON.stringify(nonLocalRaw)}`);
  }

  const globalTags = parseTagList(env['DD_TAGS']);
  const unified: [string, string | undefined][] = [
    ['env', env['DD_ENV']],
    ['service', env['DD_SERVICE']?.toLowerCase()],
    ['version', env['DD_VERSION']],
  ];
  for (const [key, value] of unified) {
    if (value !== undefined && value.trim() !== '') globalTags.push(`${key}:${value.trim()}`);
  }

  let namespace = (env['DD_STATSD_METRIC_NAMESPACE'] ?? '').trim();
  if (namespace !== '' && !/^[A-Za-z][A-Za-z0-9_.]*$/.test(namespace)) {
    logger.warn(`dogstatsd: ignoring invalid DD_STATSD_METRIC_NAMESPACE=${JSON.stringify(namespace)}`);
    namespace = '';
  }

  const known = new Set(['max', 'min', 'median', 'avg', 'sum', 'count']);
  let histogramAggregates: HistogramAggregate[] = [...DEFAULT_HISTOGRAM_AGGREGATES];
  if (env['DD_HISTOGRAM_AGGREGATES'] !== undefined) {
    const items = list(env['DD_HISTOGRAM_AGGREGATES']);
    const bad = items.filter((a) => !known.has(a));
    if (bad.length > 0) logger.warn(`dogstatsd: ignoring unknown histogram aggregates ${bad.join(', ')}`);
    histogramAggregates = items.filter((a) => known.has(a)) as HistogramAggregate[];
  }
  let histogramPercentiles: number[] = [...DEFAULT_HISTOGRAM_PERCENTILES];
  if (env['DD_HISTOGRAM_PERCENTILES'] !== undefined) {
    const items = list(env['DD_HISTOGRAM_PERCENTILES']);
    histogramPercentiles = [];
    for (const item of items) {
      const p = Number(item);
      if (Number.isFinite(p) && p > 0 && p < 1) histogramPercentiles.push(p);
      else logger.warn(`dogstatsd: ignoring invalid histogram percentile ${JSON.stringify(item)}`);
    }
  }

  return {
    port,
    host: nonLocal === true ? '0.0.0.0' : '127.0.0.1',
    bufferSize,
    recvBufferSize,
    workers,
    aggregator: {
      globalTags,
      customMetricsExcludeTagKeys: list(env['DD_LAMBDA_CUSTOMER_METRICS_EXCLUDE_TAGS']),
      namespace,
      histogramAggregates,
      histogramPercentiles,
    },
  };
}

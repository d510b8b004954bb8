import { describe, expect, it } from 'vitest';
import { fromEnv, type Logger } from '../src/index.js';

function capture(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, logger: { debug() {}, info() {}, error() {}, warn: (m) => warnings.push(m) } };
}

describe('fromEnv', () => {
  it('has the agent defaults', () => {
    expect(fromEnv({})).toEqual({
      port: 8125,
      host: '127.0.0.1',
      bufferSize: 8192,
      recvBufferSize: 8 * 1024 * 1024,
      workers: 0,
      aggregator: {
        globalTags: [],
        customMetricsExcludeTagKeys: [],
        namespace: '',
        histogramAggregates: ['max', 'median', 'avg', 'count'],
        histogramPercentiles: [0.95],
      },
    });
  });

  it('reads the DogStatsD variables', () => {
    const c = fromEnv({
      DD_DOGSTATSD_PORT: '18125',
      DD_DOGSTATSD_NON_LOCAL_TRAFFIC: 'TRUE',
      DD_DOGSTATSD_BUFFER_SIZE: '16384',
      DD_DOGSTATSD_SO_RCVBUF: '1048576',
      DD_DOGSTATSD_WORKERS_COUNT: '1',
      DD_TAGS: 'team:a,tier:1 owner:me  bad novalue: :nokey',
      DD_ENV: 'prod',
      DD_SERVICE: 'Checkout',
      DD_VERSION: '1.2.3',
      DD_STATSD_METRIC_NAMESPACE: 'shop',
      DD_HISTOGRAM_AGGREGATES: 'max min sum',
      DD_HISTOGRAM_PERCENTILES: '0.5, 0.99',
      DD_LAMBDA_CUSTOMER_METRICS_EXCLUDE_TAGS: 'memorysize,functionname',
    });
    expect(c).toEqual({
      port: 18125,
      host: '0.0.0.0',
      bufferSize: 16384,
      recvBufferSize: 1048576,
      workers: 1,
      aggregator: {
        globalTags: ['team:a', 'tier:1', 'owner:me', 'env:prod', 'service:checkout', 'version:1.2.3'],
        customMetricsExcludeTagKeys: ['memorysize', 'functionname'],
        namespace: 'shop',
        histogramAggregates: ['max', 'min', 'sum'],
        histogramPercentiles: [0.5, 0.99],
      },
    });
  });

  it('warns and keeps the default on malformed values, never throws', () => {
    const { logger, warnings } = capture();
    const c = fromEnv(
      {
        DD_DOGSTATSD_PORT: 'eighty',
        DD_DOGSTATSD_BUFFER_SIZE: '-1',
        DD_DOGSTATSD_NON_LOCAL_TRAFFIC: 'maybe',
        DD_STATSD_METRIC_NAMESPACE: 'bad name!',
        DD_HISTOGRAM_AGGREGATES: 'max p42',
        DD_HISTOGRAM_PERCENTILES: '95',
        DD_DOGSTATSD_WORKERS_COUNT: 'two',
      },
      logger,
    );
    expect(c).toMatchObject({ port: 8125, bufferSize: 8192, host: '127.0.0.1', workers: 0 });
    expect(c.aggregator).toMatchObject({
      namespace: '',
      histogramAggregates: ['max'],
      histogramPercentiles: [],
    });
    expect(warnings).toHaveLength(7);
  });
});

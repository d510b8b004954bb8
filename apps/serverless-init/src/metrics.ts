import { Aggregator, flushPayloads, fromEnv, type OutgoingPayload } from '@serverless-agent/dogstatsd';
import type { Env } from './config.js';
import type { EnhancedSample } from './enhanced-metrics.js';
import type { Logger } from './logger.js';
import type { Tags } from './platform.js';

export interface MetricsPipeline {
  /** One datagram from the DogStatsD socket. */
  ingest: (msg: Buffer) => void;
  submit(sample: EnhancedSample): void;
  /** Closed buckets, or every bucket when final. */
  flush(final: boolean): Promise<OutgoingPayload[]>;
}

/** DogStatsD's aggregator behind the early socket, every metric tagged with the metric tag set. */
export function startMetrics(env: Env, tags: Tags, logger: Logger): MetricsPipeline {
  const config = fromEnv(env, logger);
  const aggregator = new Aggregator({
    ...config.aggregator,
    // The platform tags (without the high-cardinality keys) on every metric.
    globalTags: [
      ...new Set([
        ...(config.aggregator.globalTags ?? []),
        ...Object.entries(tags).map(([k, v]) => `${k}:${v}`),
      ]),
    ],
    hostname: '',
    logger,
  });
  const max = config.bufferSize;
  return {
    ingest: (msg) => aggregator.ingest(msg, Math.min(msg.length, max)),
    submit: (sample) => {
      aggregator.submit(sample);
    },
    flush: (final) => flushPayloads(aggregator, { all: final }),
  };
}

/**
 * @serverless-agent/dogstatsd: DogStatsD UDP server, parser, agent-exact aggregator (DDSketch
 * distributions) and metric payload builders.
 *
 * This file is the package's whole public surface.
 */
export const PACKAGE = { name: '@serverless-agent/dogstatsd', version: '0.1.0' } as const;

export {
  Aggregator,
  type AggregatorOptions,
  type AggregatorStats,
  BUCKET_SECONDS,
  DEFAULT_HISTOGRAM_AGGREGATES,
  DEFAULT_HISTOGRAM_PERCENTILES,
  DEFAULT_MAX_CONTEXTS,
  type FlushedMetrics,
  type FlushOptions,
  type FlushVisitor,
  type HistogramAggregate,
  LIBRARY_INVOCATIONS_METRIC,
  type MetricOrigin,
  type Sample,
  type Serie,
  type SketchEntry,
  type SubmitType,
} from './aggregator.js';
export { type DogStatsDConfig, fromEnv } from './config.js';
export { type FlushPayloadsOptions, flushPayloads, warmUpPayloads } from './flush.js';
export { kernelUdpDrops, type ProcReader } from './kernel-drops.js';
export { type Logger, noopLogger } from './logger.js';
export {
  MetricLine,
  type ParseSink,
  parseDatagram,
  parseEvent,
  parseMetric,
  parseServiceCheck,
} from './parse.js';
export {
  buildEventPayloads,
  buildSeriesPayloads,
  buildServiceCheckPayloads,
  buildSketchPayloads,
  CHECK_RUN_LIMITS,
  EVENT_LIMITS,
  encodeSketch,
  type PayloadLimits,
  SERIES_LIMITS,
  SeriesPayloadBuilder,
  SKETCH_LIMITS,
  SketchPayloadBuilder,
} from './payloads.js';
export {
  DEFAULT_BUFFER_SIZE,
  DEFAULT_DOGSTATSD_PORT,
  DEFAULT_RECV_BUFFER_SIZE,
  DogStatsDServer,
  type ServerOptions,
} from './server.js';
export {
  AgentSketch,
  SKETCH_BIN_LIMIT,
  SKETCH_GAMMA,
  SKETCH_GAMMA_LN,
  SKETCH_KEY_BIAS,
  SKETCH_NORM_MIN,
  type SketchBins,
  sketchKey,
  sketchKeyLowerBound,
} from './sketch.js';
export { normalizeTags, parseTagList, type TagSet } from './tags.js';
export {
  type DogStatsDEvent,
  type EndpointKind,
  type EventAlertType,
  type EventPriority,
  MetricType,
  type OutgoingPayload,
  type ServiceCheck,
  type ServiceCheckStatus,
} from './types.js';

/**
 * @serverless-agent/logs: Function, platform and extension log records to Datadog log events, processing rules and batching.
 *
 * This file is the package's whole public surface.
 */
export const PACKAGE = { name: '@serverless-agent/logs', version: '0.1.0' } as const;

export { type BatchLimits, buildBatches, encodeBatch, LOGS_HEADERS } from './batch.js';
export {
  type BufferOptions,
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_BUFFERED_EVENTS,
  LogBuffer,
  PACKED_BATCH_BYTES,
} from './buffer.js';
export { ChildOutputLogs, type LineSink } from './child-output.js';
export { type EncodedEvent, type EncoderOptions, EventEncoder, type EventLayout } from './encoder.js';
export { type FromEnvOptions, fromEnv, type LogsConfig } from './env.js';
export { FileTailer, type FileTailerOptions, REGISTRY_FILE, type StartPosition } from './file-tailer.js';
export { type Interpretation, interpretJsonText, interpretObject, interpretText } from './formats.js';
export { expandGlob } from './glob.js';
export { LambdaLogs, type LambdaLogsOptions, type LogStats, OWN_LOG_PREFIX } from './lambda.js';
export { MAX_BATCH_BYTES, MAX_BATCH_EVENTS, MAX_EVENT_BYTES, TRUNCATED_MARKER } from './limits.js';
export { findOutOfMemory, OOM_PATTERNS, type OutOfMemoryReport } from './oom.js';
export { LogPipeline, type LogPipelineOptions, type PipelineStats } from './pipeline.js';
export { type PlatformLine, renderPlatformEvent } from './platform.js';
export {
  applyRules,
  compileRule,
  compileRules,
  type ProcessingRule,
  type ProcessingRuleSpec,
  parseProcessingRules,
  RuleError,
  type RuleType,
} from './rules.js';
export { statusFromLevel } from './status.js';
export { type TagsInput, tagString } from './tags.js';
export type {
  BatchCodec,
  EndpointKind,
  Logger,
  LogRecord,
  LogStatus,
  OutgoingPayload,
  TelemetryEvent,
} from './types.js';
export { noopLogger } from './types.js';

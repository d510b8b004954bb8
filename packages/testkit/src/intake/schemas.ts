// Field-number tables of the Datadog intake messages, transcribed from the wire-protocol
// reference (agent_payload.proto for metrics, the trace protos for AgentPayload, DDSketch.proto
// for APM stats summaries). Names follow the .proto field names.
import type { MessageSchema } from './protobuf.js';

// ---- metrics: datadog.agentpayload -------------------------------------------------------

export const Origin: MessageSchema = {
  name: 'Origin',
  fields: {
    // 1, 2, 3 are reserved; newer Agents write 3 (metric_type) anyway, kept as unknown.
    4: { name: 'origin_product', type: 'uint32' },
    5: { name: 'origin_category', type: 'uint32' },
    6: { name: 'origin_service', type: 'uint32' },
  },
};

export const Metadata: MessageSchema = {
  name: 'Metadata',
  fields: { 1: { name: 'origin', message: () => Origin } },
};

export const Resource: MessageSchema = {
  name: 'Resource',
  fields: { 1: { name: 'type', type: 'string' }, 2: { name: 'name', type: 'string' } },
};

export const MetricPoint: MessageSchema = {
  name: 'MetricPoint',
  fields: { 1: { name: 'value', type: 'double' }, 2: { name: 'timestamp', type: 'int64:number' } },
};

export const MetricSeries: MessageSchema = {
  name: 'MetricSeries',
  fields: {
    1: { name: 'resources', message: () => Resource, repeated: true },
    2: { name: 'metric', type: 'string' },
    3: { name: 'tags', type: 'string', repeated: true },
    4: { name: 'points', message: () => MetricPoint, repeated: true },
    5: { name: 'type', type: 'enum' },
    6: { name: 'unit', type: 'string' },
    7: { name: 'source_type_name', type: 'string' },
    8: { name: 'interval', type: 'int64:number' },
    9: { name: 'metadata', message: () => Metadata },
  },
};

export const MetricPayload: MessageSchema = {
  name: 'MetricPayload',
  fields: { 1: { name: 'series', message: () => MetricSeries, repeated: true } },
};

export const Dogsketch: MessageSchema = {
  name: 'Dogsketch',
  fields: {
    1: { name: 'ts', type: 'int64:number' },
    2: { name: 'cnt', type: 'int64:number' },
    3: { name: 'min', type: 'double' },
    4: { name: 'max', type: 'double' },
    5: { name: 'avg', type: 'double' },
    6: { name: 'sum', type: 'double' },
    7: { name: 'k', type: 'sint32', repeated: true },
    8: { name: 'n', type: 'uint32', repeated: true },
  },
};

export const LegacyDistribution: MessageSchema = {
  name: 'Distribution',
  fields: {
    1: { name: 'ts', type: 'int64:number' },
    2: { name: 'cnt', type: 'int64:number' },
    3: { name: 'min', type: 'double' },
    4: { name: 'max', type: 'double' },
    5: { name: 'avg', type: 'double' },
    6: { name: 'sum', type: 'double' },
    7: { name: 'v', type: 'double', repeated: true },
    8: { name: 'g', type: 'uint32', repeated: true },
    9: { name: 'delta', type: 'uint32', repeated: true },
    10: { name: 'buf', type: 'double', repeated: true },
  },
};

export const Sketch: MessageSchema = {
  name: 'Sketch',
  fields: {
    1: { name: 'metric', type: 'string' },
    2: { name: 'host', type: 'string' },
    3: { name: 'distributions', message: () => LegacyDistribution, repeated: true },
    4: { name: 'tags', type: 'string', repeated: true },
    7: { name: 'dogsketches', message: () => Dogsketch, repeated: true },
    8: { name: 'metadata', message: () => Metadata },
  },
};

export const CommonMetadata: MessageSchema = {
  name: 'CommonMetadata',
  fields: {
    1: { name: 'agent_version', type: 'string' },
    2: { name: 'timezone', type: 'string' },
    3: { name: 'current_epoch', type: 'double' },
    4: { name: 'internal_ip', type: 'string' },
    5: { name: 'public_ip', type: 'string' },
    6: { name: 'api_key', type: 'string' },
  },
};

export const SketchPayload: MessageSchema = {
  name: 'SketchPayload',
  fields: {
    1: { name: 'sketches', message: () => Sketch, repeated: true },
    2: { name: 'metadata', message: () => CommonMetadata },
  },
};

// ---- traces: datadog.trace ---------------------------------------------------------------

export const AttributeArrayValue: MessageSchema = {
  name: 'AttributeArrayValue',
  fields: {
    1: { name: 'type', type: 'enum' },
    2: { name: 'string_value', type: 'string' },
    3: { name: 'bool_value', type: 'bool' },
    4: { name: 'int_value', type: 'int64' },
    5: { name: 'double_value', type: 'double' },
  },
};

export const AttributeArray: MessageSchema = {
  name: 'AttributeArray',
  fields: { 1: { name: 'values', message: () => AttributeArrayValue, repeated: true } },
};

export const AttributeAnyValue: MessageSchema = {
  name: 'AttributeAnyValue',
  fields: {
    1: { name: 'type', type: 'enum' },
    2: { name: 'string_value', type: 'string' },
    3: { name: 'bool_value', type: 'bool' },
    4: { name: 'int_value', type: 'int64' },
    5: { name: 'double_value', type: 'double' },
    6: { name: 'array_value', message: () => AttributeArray },
  },
};

export const SpanLink: MessageSchema = {
  name: 'SpanLink',
  fields: {
    1: { name: 'traceID', type: 'uint64' },
    2: { name: 'traceID_high', type: 'uint64' },
    3: { name: 'spanID', type: 'uint64' },
    4: { name: 'attributes', map: ['string', 'string'] },
    5: { name: 'tracestate', type: 'string' },
    6: { name: 'flags', type: 'uint32' },
  },
};

export const SpanEvent: MessageSchema = {
  name: 'SpanEvent',
  fields: {
    1: { name: 'time_unix_nano', type: 'fixed64' },
    2: { name: 'name', type: 'string' },
    3: { name: 'attributes', map: ['string', () => AttributeAnyValue] },
  },
};

export const Span: MessageSchema = {
  name: 'Span',
  fields: {
    1: { name: 'service', type: 'string' },
    2: { name: 'name', type: 'string' },
    3: { name: 'resource', type: 'string' },
    4: { name: 'traceID', type: 'uint64' },
    5: { name: 'spanID', type: 'uint64' },
    6: { name: 'parentID', type: 'uint64' },
    7: { name: 'start', type: 'int64' },
    8: { name: 'duration', type: 'int64' },
    9: { name: 'error', type: 'int32' },
    10: { name: 'meta', map: ['string', 'string'] },
    11: { name: 'metrics', map: ['string', 'double'] },
    12: { name: 'type', type: 'string' },
    13: { name: 'meta_struct', map: ['string', 'bytes'] },
    14: { name: 'spanLinks', message: () => SpanLink, repeated: true },
    15: { name: 'spanEvents', message: () => SpanEvent, repeated: true },
  },
};

export const TraceChunk: MessageSchema = {
  name: 'TraceChunk',
  fields: {
    1: { name: 'priority', type: 'int32' },
    2: { name: 'origin', type: 'string' },
    3: { name: 'spans', message: () => Span, repeated: true },
    4: { name: 'tags', map: ['string', 'string'] },
    5: { name: 'droppedTrace', type: 'bool' },
  },
};

export const ContainerDebug: MessageSchema = {
  name: 'ContainerDebug',
  fields: {
    1: { name: 'error', type: 'string' },
    2: { name: 'latencyMs', type: 'int64:number' },
    3: { name: 'wasBuffered', type: 'bool' },
    4: { name: 'bufferMs', type: 'int64:number' },
    5: { name: 'bufferEvictionReason', type: 'string' },
  },
};

export const TracerPayload: MessageSchema = {
  name: 'TracerPayload',
  fields: {
    1: { name: 'containerID', type: 'string' },
    2: { name: 'languageName', type: 'string' },
    3: { name: 'languageVersion', type: 'string' },
    4: { name: 'tracerVersion', type: 'string' },
    5: { name: 'runtimeID', type: 'string' },
    6: { name: 'chunks', message: () => TraceChunk, repeated: true },
    7: { name: 'tags', map: ['string', 'string'] },
    8: { name: 'env', type: 'string' },
    9: { name: 'hostname', type: 'string' },
    10: { name: 'appVersion', type: 'string' },
    11: { name: 'containerDebug', message: () => ContainerDebug },
  },
};

export const AgentPayload: MessageSchema = {
  name: 'AgentPayload',
  fields: {
    1: { name: 'hostName', type: 'string' },
    2: { name: 'env', type: 'string' },
    5: { name: 'tracerPayloads', message: () => TracerPayload, repeated: true },
    6: { name: 'tags', map: ['string', 'string'] },
    7: { name: 'agentVersion', type: 'string' },
    8: { name: 'targetTPS', type: 'double' },
    9: { name: 'errorTPS', type: 'double' },
    10: { name: 'rareSamplerEnabled', type: 'bool' },
    // 11 (idxTracerPayloads) is the newer indexed format; left as an unknown field here.
  },
};

// ---- APM stats summaries: DDSketch.proto -------------------------------------------------

export const IndexMapping: MessageSchema = {
  name: 'IndexMapping',
  fields: {
    1: { name: 'gamma', type: 'double' },
    2: { name: 'indexOffset', type: 'double' },
    3: { name: 'interpolation', type: 'enum' },
  },
};

export const Store: MessageSchema = {
  name: 'Store',
  fields: {
    1: { name: 'binCounts', map: ['sint32', 'double'] },
    2: { name: 'contiguousBinCounts', type: 'double', repeated: true },
    3: { name: 'contiguousBinIndexOffset', type: 'sint32' },
  },
};

export const DDSketch: MessageSchema = {
  name: 'DDSketch',
  fields: {
    1: { name: 'mapping', message: () => IndexMapping },
    2: { name: 'positiveValues', message: () => Store },
    3: { name: 'negativeValues', message: () => Store },
    4: { name: 'zeroCount', type: 'double' },
  },
};

// Per-endpoint decoding and validation of decompressed bodies, following the wire-protocol
// reference. A decoder throws PayloadError for what the real intake refuses.
import { Unpackr } from 'msgpackr';
import { agentSketchProblem, agentSketchQuantile } from './agent-sketch.js';
import { type Decoded, decodeMessage, ProtobufError } from './protobuf.js';
import { AgentPayload, DDSketch, MetricPayload, SketchPayload } from './schemas.js';
import type {
  CheckRunRecord,
  DDSketchSummary,
  DistributionRecord,
  EventRecord,
  LogRecord,
  MetricPointRecord,
  MetricResource,
  MetricTypeName,
  SpanRecord,
  StatsRecord,
} from './types.js';

export class PayloadError extends Error {
  override name = 'PayloadError';
  constructor(
    message: string,
    readonly status: number = 400,
  ) {
    super(message);
  }
}

export interface DecodeContext {
  requestId: number;
  contentType: string;
  /** Seconds since the epoch, for the metrics time-window check. */
  nowSeconds: number;
  maxLogsPerPayload: number;
  maxLogEntryBytes: number;
}

export interface DecodeResult {
  decoded: unknown;
  items: number;
  metrics?: MetricPointRecord[];
  distributions?: DistributionRecord[];
  checks?: CheckRunRecord[];
  events?: EventRecord[];
  logs?: LogRecord[];
  spans?: SpanRecord[];
  stats?: StatsRecord[];
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function mediaType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

function parseJson(body: Uint8Array): unknown {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new PayloadError('body is not valid UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new PayloadError(`malformed JSON: ${(err as Error).message}`);
  }
}

function protobuf(body: Uint8Array, schema: typeof MetricPayload): Decoded {
  try {
    return decodeMessage(body, schema);
  } catch (err) {
    if (err instanceof ProtobufError)
      throw new PayloadError(`malformed protobuf ${schema.name}: ${err.message}`);
    throw err;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringArray = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((t) => typeof t === 'string');

const METRIC_TYPES: readonly MetricTypeName[] = ['unspecified', 'count', 'rate', 'gauge'];

// ---- /api/v2/series ----------------------------------------------------------------------

export function decodeSeries(body: Uint8Array, ctx: DecodeContext): DecodeResult {
  const media = mediaType(ctx.contentType);
  if (media === 'application/x-protobuf') {
    const msg = protobuf(body, MetricPayload);
    const metrics: MetricPointRecord[] = [];
    for (const s of msg['series'] as Decoded[]) {
      if (s['metric'] === '') throw new PayloadError('series without a metric name');
      const resources = (s['resources'] as Decoded[]).map(
        (r) => ({ type: r['type'], name: r['name'] }) as MetricResource,
      );
      const origin = (s['metadata'] as Decoded | undefined)?.['origin'] as
        | Record<string, unknown>
        | undefined;
      for (const p of s['points'] as Decoded[]) {
        metrics.push(
          point(ctx, {
            metric: s['metric'] as string,
            typeCode: s['type'] as number,
            timestamp: p['timestamp'] as number,
            value: p['value'] as number,
            tags: s['tags'] as string[],
            resources,
            interval: s['interval'] as number,
            unit: s['unit'] as string,
            sourceTypeName: s['source_type_name'] as string,
            origin,
            format: 'protobuf',
          }),
        );
      }
    }
    return { decoded: msg, items: metrics.length, metrics };
  }
  if (media !== 'application/json' && media !== '') {
    throw new PayloadError(`unsupported Content-Type ${ctx.contentType} for series`, 415);
  }
  const json = parseJson(body);
  if (!isObject(json) || !Array.isArray(json['series']))
    throw new PayloadError('body must be {"series":[...]}');
  const metrics: MetricPointRecord[] = [];
  json['series'].forEach((s: unknown, i: number) => {
    if (!isObject(s)) throw new PayloadError(`series[${i}] is not an object`);
    const name = s['metric'];
    if (typeof name !== 'string' || name === '')
      throw new PayloadError(`series[${i}].metric must be a non-empty string`);
    const type = s['type'] ?? 0;
    if (typeof type !== 'number' || !Number.isInteger(type) || type < 0 || type > 3)
      throw new PayloadError(`series[${i}].type must be 0..3 (unspecified, count, rate, gauge)`);
    if (!Array.isArray(s['points'])) throw new PayloadError(`series[${i}].points must be an array`);
    const tags = s['tags'] ?? [];
    if (!isStringArray(tags)) throw new PayloadError(`series[${i}].tags must be an array of strings`);
    const resources = (s['resources'] ?? []) as unknown;
    if (!Array.isArray(resources) || !resources.every((r) => isObject(r) && typeof r['type'] === 'string'))
      throw new PayloadError(`series[${i}].resources must be [{type, name}]`);
    const interval = s['interval'] ?? 0;
    if (typeof interval !== 'number') throw new PayloadError(`series[${i}].interval must be a number`);
    const metadata = s['metadata'];
    const origin = isObject(metadata) && isObject(metadata['origin']) ? metadata['origin'] : undefined;
    s['points'].forEach((p: unknown, j: number) => {
      if (!isObject(p) || typeof p['timestamp'] !== 'number' || typeof p['value'] !== 'number')
        throw new PayloadError(`series[${i}].points[${j}] must be {timestamp: number, value: number}`);
      metrics.push(
        point(ctx, {
          metric: name,
          typeCode: type,
          timestamp: p['timestamp'],
          value: p['value'],
          tags,
          resources: resources as MetricResource[],
          interval,
          unit: typeof s['unit'] === 'string' ? s['unit'] : '',
          sourceTypeName: typeof s['source_type_name'] === 'string' ? s['source_type_name'] : '',
          origin,
          format: 'json',
        }),
      );
    });
  });
  return { decoded: json, items: metrics.length, metrics };
}

function point(
  ctx: DecodeContext,
  p: Omit<MetricPointRecord, 'type' | 'host' | 'outOfRange' | 'requestId'>,
): MetricPointRecord {
  return {
    ...p,
    type: METRIC_TYPES[p.typeCode] ?? 'unspecified',
    host: p.resources.find((r) => r.type === 'host')?.name,
    outOfRange: p.timestamp > ctx.nowSeconds + 600 || p.timestamp < ctx.nowSeconds - 3600,
    requestId: ctx.requestId,
  };
}

// ---- /api/v1/series (legacy JSON) --------------------------------------------------------

export function decodeSeriesV1(body: Uint8Array, ctx: DecodeContext): DecodeResult {
  const json = parseJson(body);
  if (!isObject(json) || !Array.isArray(json['series']))
    throw new PayloadError('body must be {"series":[...]}');
  const metrics: MetricPointRecord[] = [];
  const typeCodes: Record<string, number> = { count: 1, rate: 2, gauge: 3 };
  json['series'].forEach((s: unknown, i: number) => {
    if (!isObject(s) || typeof s['metric'] !== 'string' || !Array.isArray(s['points']))
      throw new PayloadError(`series[${i}] must have metric and points`);
    const tags = s['tags'] ?? [];
    if (!isStringArray(tags)) throw new PayloadError(`series[${i}].tags must be an array of strings`);
    const host = typeof s['host'] === 'string' ? s['host'] : undefined;
    for (const p of s['points'] as unknown[]) {
      if (!Array.isArray(p) || typeof p[0] !== 'number' || typeof p[1] !== 'number')
        throw new PayloadError(`series[${i}].points must be [[timestamp, value], ...]`);
      metrics.push(
        point(ctx, {
          metric: s['metric'],
          typeCode: typeCodes[String(s['type'] ?? 'gauge')] ?? 0,
          timestamp: p[0],
          value: p[1],
          tags,
          resources: host ? [{ type: 'host', name: host }] : [],
          interval: typeof s['interval'] === 'number' ? s['interval'] : 0,
          unit: '',
          sourceTypeName: typeof s['source_type_name'] === 'string' ? s['source_type_name'] : '',
          origin: undefined,
          format: 'json',
        }),
      );
    }
  });
  return { decoded: json, items: metrics.length, metrics };
}

// ---- /api/beta/sketches ------------------------------------------------------------------

export function decodeSketches(body: Uint8Array, ctx: DecodeContext): DecodeResult {
  const media = mediaType(ctx.contentType);
  if (media !== 'application/x-protobuf')
    throw new PayloadError(
      `sketches take only application/x-protobuf, got ${ctx.contentType || 'none'}`,
      415,
    );
  const msg = protobuf(body, SketchPayload);
  const distributions: DistributionRecord[] = [];
  for (const s of msg['sketches'] as Decoded[]) {
    if (s['metric'] === '') throw new PayloadError('sketch without a metric name');
    for (const d of s['dogsketches'] as Decoded[]) {
      const k = d['k'] as number[];
      const n = d['n'] as number[];
      if (k.length !== n.length)
        throw new PayloadError(`${s['metric']}: dogsketch has ${k.length} keys but ${n.length} counts`);
      distributions.push(distribution(s, d, ctx.requestId));
    }
  }
  return { decoded: msg, items: distributions.length, distributions };
}

function distribution(s: Decoded, d: Decoded, requestId: number): DistributionRecord {
  const k = d['k'] as number[];
  const n = d['n'] as number[];
  const summary = { cnt: d['cnt'] as number, min: d['min'] as number, max: d['max'] as number };
  const q = (x: number) => agentSketchQuantile({ k, n }, summary, x);
  const problems: string[] = [];
  const problem = agentSketchProblem({ k, n }, summary.cnt);
  if (problem) problems.push(problem);
  if (summary.cnt > 0 && summary.min > summary.max) problems.push('min is greater than max');
  return {
    metric: s['metric'] as string,
    host: s['host'] as string,
    tags: s['tags'] as string[],
    ts: d['ts'] as number,
    count: summary.cnt,
    sum: d['sum'] as number,
    min: summary.min,
    max: summary.max,
    avg: d['avg'] as number,
    k,
    n,
    quantile: q,
    p50: q(0.5),
    p75: q(0.75),
    p90: q(0.9),
    p95: q(0.95),
    p99: q(0.99),
    problems,
    requestId,
  };
}

// ---- /api/v1/check_run -------------------------------------------------------------------

export function decodeCheckRun(body: Uint8Array, ctx: DecodeContext): DecodeResult {
  const json = parseJson(body);
  if (!Array.isArray(json)) throw new PayloadError('check_run body must be a JSON array');
  const checks = json.map((c: unknown, i: number): CheckRunRecord => {
    if (!isObject(c) || typeof c['check'] !== 'string' || c['check'] === '')
      throw new PayloadError(`check_run[${i}].check must be a non-empty string`);
    const status = c['status'];
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 0 || status > 3)
      throw new PayloadError(`check_run[${i}].status must be 0..3`);
    const tags = c['tags'] ?? [];
    if (!isStringArray(tags)) throw new PayloadError(`check_run[${i}].tags must be an array of strings`);
    return {
      check: c['check'],
      host_name: typeof c['host_name'] === 'string' ? c['host_name'] : '',
      timestamp: typeof c['timestamp'] === 'number' ? c['timestamp'] : 0,
      status,
      message: typeof c['message'] === 'string' ? c['message'] : '',
      tags,
      requestId: ctx.requestId,
    };
  });
  return { decoded: json, items: checks.length, checks };
}

// ---- /api/v1/events and /intake/ ---------------------------------------------------------

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

export function decodeApiEvent(body: Uint8Array, ctx: DecodeContext): DecodeResult {
  const json = parseJson(body);
  if (!isObject(json)) throw new PayloadError('event body must be a JSON object');
  if (typeof json['title'] !== 'string' || json['title'] === '')
    throw new PayloadError('event title is required');
  if (typeof json['text'] !== 'string') throw new PayloadError('event text is required');
  const tags = json['tags'] ?? [];
  if (!isStringArray(tags)) throw new PayloadError('event tags must be an array of strings');
  const event: EventRecord = {
    title: json['title'],
    text: json['text'],
    timestamp: num(json['date_happened']),
    priority: str(json['priority']),
    host: str(json['host']),
    tags,
    alertType: str(json['alert_type']),
    aggregationKey: str(json['aggregation_key']),
    sourceTypeName: str(json['source_type_name']),
    format: 'api',
    requestId: ctx.requestId,
  };
  return { decoded: json, items: 1, events: [event] };
}

export function decodeIntakeEvents(body: Uint8Array, ctx: DecodeContext): DecodeResult {
  const json = parseJson(body);
  if (!isObject(json) || !isObject(json['events'])) throw new PayloadError('body must be {"events":{...}}');
  const events: EventRecord[] = [];
  for (const [source, list] of Object.entries(json['events'])) {
    if (!Array.isArray(list)) throw new PayloadError(`events.${source} must be an array`);
    list.forEach((e: unknown, i: number) => {
      if (!isObject(e) || typeof e['msg_title'] !== 'string')
        throw new PayloadError(`events.${source}[${i}].msg_title must be a string`);
      const tags = e['tags'] ?? [];
      if (!isStringArray(tags))
        throw new PayloadError(`events.${source}[${i}].tags must be an array of strings`);
      events.push({
        title: e['msg_title'],
        text: str(e['msg_text']) ?? '',
        timestamp: num(e['timestamp']),
        priority: str(e['priority']),
        host: str(e['host']),
        tags,
        alertType: str(e['alert_type']),
        aggregationKey: str(e['aggregation_key']),
        sourceTypeName: str(e['source_type_name']) ?? source,
        format: 'intake',
        requestId: ctx.requestId,
      });
    });
  }
  return { decoded: json, items: events.length, events };
}

// ---- /api/v2/logs ------------------------------------------------------------------------

export function decodeLogs(body: Uint8Array, ctx: DecodeContext): DecodeResult {
  const media = mediaType(ctx.contentType);
  let entries: unknown[];
  if (media === 'text/plain') {
    let text: string;
    try {
      text = utf8.decode(body);
    } catch {
      throw new PayloadError('body is not valid UTF-8');
    }
    entries = text
      .split('\n')
      .filter((l) => l.length > 0)
      .map((message) => ({ message }));
  } else if (media === 'application/json' || media === '') {
    const json = parseJson(body);
    if (Array.isArray(json)) entries = json;
    else if (isObject(json)) entries = [json];
    else throw new PayloadError('logs body must be a JSON array of objects (or one object)');
  } else {
    throw new PayloadError(`unsupported Content-Type ${ctx.contentType} for logs`, 415);
  }
  if (entries.length > ctx.maxLogsPerPayload)
    throw new PayloadError(`${entries.length} logs in one array; the limit is ${ctx.maxLogsPerPayload}`, 400);
  const logs = entries.map((e, i): LogRecord => {
    if (!isObject(e)) throw new PayloadError(`logs[${i}] is not an object`);
    const size = Buffer.byteLength(JSON.stringify(e));
    const record = { ...e } as LogRecord;
    Object.defineProperty(record, '$requestId', { value: ctx.requestId, enumerable: false });
    Object.defineProperty(record, '$truncated', { value: size > ctx.maxLogEntryBytes, enumerable: false });
    return record;
  });
  return { decoded: entries, items: logs.length, logs };
}

// ---- /api/v0.2/traces --------------------------------------------------------------------

export function decodeTraces(body: Uint8Array, ctx: DecodeContext): DecodeResult {
  const media = mediaType(ctx.contentType);
  if (media !== 'application/x-protobuf')
    throw new PayloadError(`traces take only application/x-protobuf, got ${ctx.contentType || 'none'}`, 415);
  const msg = protobuf(body, AgentPayload);
  const spans: SpanRecord[] = [];
  const agent = {
    hostName: msg['hostName'] as string,
    env: msg['env'] as string,
    agentVersion: msg['agentVersion'] as string,
    targetTPS: msg['targetTPS'] as number,
    errorTPS: msg['errorTPS'] as number,
  };
  for (const tp of msg['tracerPayloads'] as Decoded[]) {
    const tracer = {
      containerID: tp['containerID'] as string,
      languageName: tp['languageName'] as string,
      languageVersion: tp['languageVersion'] as string,
      tracerVersion: tp['tracerVersion'] as string,
      runtimeID: tp['runtimeID'] as string,
      env: tp['env'] as string,
      hostname: tp['hostname'] as string,
      appVersion: tp['appVersion'] as string,
      tags: tp['tags'] as Record<string, string>,
    };
    for (const c of tp['chunks'] as Decoded[]) {
      const chunk = {
        priority: c['priority'] as number,
        origin: c['origin'] as string,
        tags: c['tags'] as Record<string, string>,
        droppedTrace: c['droppedTrace'] as boolean,
      };
      for (const s of c['spans'] as Decoded[]) {
        // A literal of fixed shape: spreading the decoded objects is several times slower.
        spans.push({
          service: s['service'] as string,
          name: s['name'] as string,
          resource: s['resource'] as string,
          traceID: s['traceID'] as bigint,
          spanID: s['spanID'] as bigint,
          parentID: s['parentID'] as bigint,
          start: s['start'] as bigint,
          duration: s['duration'] as bigint,
          error: s['error'] as number,
          meta: s['meta'] as Record<string, string>,
          metrics: s['metrics'] as Record<string, number>,
          type: s['type'] as string,
          meta_struct: s['meta_struct'] as Record<string, Uint8Array>,
          spanLinks: s['spanLinks'] as SpanRecord['spanLinks'],
          spanEvents: s['spanEvents'] as Record<string, unknown>[],
          chunk,
          tracer,
          agent,
          requestId: ctx.requestId,
        });
      }
    }
  }
  return { decoded: msg, items: spans.length, spans };
}

// ---- /api/v0.2/stats ---------------------------------------------------------------------

const statsUnpackr = new Unpackr({
  mapsAsObjects: true,
  useRecords: false,
  // 'auto' (number when safe, bigint beyond 2^53) is supported at run time but missing from the typings.
  int64AsType: 'auto' as 'bigint',
});

export function decodeStats(body: Uint8Array, ctx: DecodeContext): DecodeResult {
  const media = mediaType(ctx.contentType);
  if (media !== 'application/msgpack')
    throw new PayloadError(`stats take only application/msgpack, got ${ctx.contentType || 'none'}`, 415);
  let payload: unknown;
  try {
    payload = statsUnpackr.unpack(body);
  } catch (err) {
    throw new PayloadError(`malformed msgpack: ${(err as Error).message}`);
  }
  if (!isObject(payload) || !Array.isArray(payload['Stats']))
    throw new PayloadError('stats body must be a StatsPayload map with a Stats array');
  const agent = {
    AgentHostname: str(payload['AgentHostname']) ?? '',
    AgentEnv: str(payload['AgentEnv']) ?? '',
    AgentVersion: str(payload['AgentVersion']) ?? '',
    ClientComputed: payload['ClientComputed'] === true,
  };
  const stats: StatsRecord[] = [];
  payload['Stats'].forEach((client: unknown, i: number) => {
    if (!isObject(client)) throw new PayloadError(`Stats[${i}] is not a ClientStatsPayload map`);
    const buckets = client['Stats'] ?? [];
    if (!Array.isArray(buckets)) throw new PayloadError(`Stats[${i}].Stats must be an array of buckets`);
    const { Stats: _buckets, ...clientInfo } = client;
    buckets.forEach((b: unknown, j: number) => {
      if (!isObject(b)) throw new PayloadError(`Stats[${i}].Stats[${j}] is not a ClientStatsBucket map`);
      const groups = b['Stats'] ?? [];
      if (!Array.isArray(groups)) throw new PayloadError(`Stats[${i}].Stats[${j}].Stats must be an array`);
      const bucket = {
        Start: b['Start'] as number | bigint,
        Duration: b['Duration'] as number | bigint,
        AgentTimeShift: b['AgentTimeShift'] as number | bigint | undefined,
      };
      for (const g of groups) {
        if (!isObject(g)) throw new PayloadError(`Stats[${i}].Stats[${j}] has a group that is not a map`);
        stats.push({
          group: g,
          okSketch: summarySketch(g['OkSummary'], 'OkSummary'),
          errorSketch: summarySketch(g['ErrorSummary'], 'ErrorSummary'),
          bucket,
          client: clientInfo,
          agent,
          requestId: ctx.requestId,
        });
      }
    });
  });
  return { decoded: payload, items: stats.length, stats };
}

function summarySketch(v: unknown, name: string): DDSketchSummary | undefined {
  if (v === undefined || v === null) return undefined;
  if (!(v instanceof Uint8Array)) throw new PayloadError(`${name} must be msgpack bin (a DDSketch proto)`);
  if (v.length === 0) return undefined;
  let msg: Decoded;
  try {
    msg = decodeMessage(v, DDSketch);
  } catch (err) {
    throw new PayloadError(`${name} is not a DDSketch proto: ${(err as Error).message}`);
  }
  const store = (s: unknown): Map<number, number> => {
    const out = new Map<number, number>();
    if (!isObject(s)) return out;
    for (const [k, c] of Object.entries(s['binCounts'] as Record<string, number>)) out.set(Number(k), c);
    const offset = s['contiguousBinIndexOffset'] as number;
    (s['contiguousBinCounts'] as number[]).forEach((c, i) => {
      if (c !== 0) out.set(offset + i, (out.get(offset + i) ?? 0) + c);
    });
    return out;
  };
  const positive = store(msg['positiveValues']);
  const negative = store(msg['negativeValues']);
  const mapping = (msg['mapping'] as Decoded | undefined) ?? {};
  const zeroCount = msg['zeroCount'] as number;
  let count = zeroCount;
  for (const c of positive.values()) count += c;
  for (const c of negative.values()) count += c;
  return {
    gamma: (mapping['gamma'] as number) ?? 0,
    indexOffset: (mapping['indexOffset'] as number) ?? 0,
    zeroCount,
    count,
    positive,
    negative,
  };
}

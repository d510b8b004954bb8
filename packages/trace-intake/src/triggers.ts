// Trigger detection for Lambda events: the trace context each trigger carries and the inferred spans
// that stand for the AWS service that invoked the function (API Gateway, SQS, SNS, ...).
import {
  type Carrier,
  contextFromXrayHeader,
  extractContext,
  type PropagationOptions,
  type SpanContext,
} from './propagation.js';

export type TriggerKind =
  | 'api-gateway-rest'
  | 'api-gateway-http'
  | 'api-gateway-websocket'
  | 'lambda-url'
  | 'alb'
  | 'sqs'
  | 'sns'
  | 'eventbridge'
  | 'kinesis'
  | 'dynamodb'
  | 's3';

/** An inferred span not yet finished: the invocation tracer gives it ids and an end time. */
export interface InferredSpanSpec {
  name: string;
  service: string;
  resource: string;
  type: string;
  /** Start in ns since the epoch. */
  startNs: number;
  /** Async triggers end when the function starts; sync ones when it returns. */
  synchronicity: 'sync' | 'async';
  meta: Record<string, string>;
}

export interface TriggerInfo {
  kind: TriggerKind;
  /** `function_trigger.*` and http tags for the `aws.lambda` span. */
  tags: Record<string, string>;
  /** Outermost first; the last one parents the `aws.lambda` span. ALB has none. */
  inferredSpans: InferredSpanSpec[];
  /** Context found in the trigger's own carrier (headers, `_datadog`, X-Ray header). */
  context?: SpanContext;
}

export interface TriggerOptions {
  propagation: PropagationOptions;
  /** DD_SERVICE_MAPPING. */
  serviceMapping: Record<string, string>;
  /** DD_TRACE_AWS_SERVICE_REPRESENTATION_ENABLED. */
  awsServiceRepresentation: boolean;
  region?: string;
  accountId?: string;
  functionArn?: string;
  /** DD_SERVICE or the function name: what inferred spans name as their peer. */
  invocationService?: string;
  /** Fallback start for events that carry no time. */
  nowNs?: number;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const s = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
const o = (v: unknown): Obj => (isObj(v) ? v : {});
const msToNs = (ms: number) => Math.round(ms * 1e6);

/** A start time the event gives in `nsPerUnit` units (ms, s), or now when it is missing or not positive. */
function startNs(value: unknown, nsPerUnit: number, opts: TriggerOptions, fallback?: number): number {
  const v = Number(value);
  return Number.isFinite(v) && v > 0 ? Math.round(v * nsPerUnit) : (fallback ?? opts.nowNs ?? 0);
}

const MS = 1e6;
const SECONDS = 1e9;

function inferredSpan(
  name: string,
  service: string,
  resource: string,
  start: number,
  synchronicity: 'sync' | 'async',
  meta: Record<string, string>,
  type = 'web',
): InferredSpanSpec {
  return { name, service, resource, type, startNs: start, synchronicity, meta };
}

function serviceName(
  opts: TriggerOptions,
  specific: string | undefined,
  generic: string,
  fallback: string,
): string {
  const m = opts.serviceMapping;
  if (specific !== undefined && m[specific]) return m[specific]!;
  if (m[generic]) return m[generic]!;
  if (!opts.awsServiceRepresentation) return fallbackGeneric[generic] ?? fallback;
  return fallback;
}

const fallbackGeneric: Record<string, string> = {
  lambda_sqs: 'sqs',
  lambda_sns: 'sns',
  lambda_kinesis: 'kinesis',
  lambda_dynamodb: 'dynamodb',
  lambda_s3: 's3',
  lambda_eventbridge: 'eventbridge',
};

function baseMeta(
  opts: TriggerOptions,
  operation: string,
  resource: string,
  sync: 'sync' | 'async',
): Record<string, string> {
  const meta: Record<string, string> = {
    operation_name: operation,
    resource_names: resource,
    'span.kind': 'server',
    '_inferred_span.tag_source': 'self',
    '_inferred_span.synchronicity': sync,
  };
  if (opts.invocationService) meta['peer.service'] = opts.invocationService;
  return meta;
}

// Numeric, UUID and ULID-like path segments are parameterised so resources stay low-cardinality.
function parameterizePath(path: string): string {
  return path
    .split('/')
    .map((seg) => {
      if (/^\d+$/.test(seg)) return '{id}';
      if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(seg)) return '{id}';
      if (/^[0-9A-HJKMNP-TV-Z]{26}$/.test(seg)) return '{id}';
      return seg;
    })
    .join('/');
}

function parseIsoNs(v: unknown): number | undefined {
  const t = typeof v === 'string' ? Date.parse(v) : Number.NaN;
  return Number.isFinite(t) ? msToNs(t) : undefined;
}

function jsonObj(text: unknown): Obj | undefined {
  if (typeof text !== 'string' || text.length === 0 || text.length > 1 << 20) return undefined;
  try {
    const v = JSON.parse(text);
    return isObj(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function b64Json(text: unknown): Obj | undefined {
  if (typeof text !== 'string') return undefined;
  return jsonObj(Buffer.from(text, 'base64').toString('utf8'));
}

function ctxFrom(carrier: Obj | undefined, opts: TriggerOptions, source = 'event'): SpanContext | undefined {
  const ctx = extractContext(carrier as Carrier | undefined, opts.propagation);
  if (ctx) ctx.source = source;
  return ctx;
}

// ------------------------------------------------------------------------------------ HTTP triggers

function httpTags(
  method: string | undefined,
  url: string | undefined,
  path: string | undefined,
  route?: string,
) {
  const tags: Record<string, string> = {};
  if (url) tags['http.url'] = url;
  if (path) tags['http.url_details.path'] = path;
  if (method) tags['http.method'] = method;
  if (route) tags['http.route'] = route;
  return tags;
}

function apiGatewayTags(opts: TriggerOptions, apiId: string, stage: string): Record<string, string> {
  return {
    'function_trigger.event_source': 'api-gateway',
    'function_trigger.event_source_arn': `arn:aws:apigateway:${opts.region ?? ''}::/restapis/${apiId}/stages/${stage}`,
  };
}

/** The span of an async AWS service (`sqs`, `sns`...): `aws.<svc>`, named after the queue, topic... */
function asyncSpan(
  opts: TriggerOptions,
  svc: string,
  instance: string,
  resource: string,
  start: number,
  meta: Record<string, string>,
): InferredSpanSpec {
  return inferredSpan(
    `aws.${svc}`,
    serviceName(opts, instance, `lambda_${svc}`, instance || svc),
    resource,
    start,
    'async',
    meta,
  );
}

/** What tells REST (v1) and HTTP (v2) API events apart; the rest of their spans is the same. */
interface HttpApiEvent {
  kind: 'api-gateway-rest' | 'api-gateway-http';
  spanName: string;
  operation: string;
  method: string;
  route: string;
  path: string;
  startMs: unknown;
  /** `restapis` or `apis`, in the resource key's ARN. */
  arnKind: string;
  /** v2's `requestContext.http`: the client's address and user agent. */
  client?: Obj;
}

function httpApi(ev: Obj, rc: Obj, opts: TriggerOptions, e: HttpApiEvent): TriggerInfo {
  const apiId = s(rc['apiId']) ?? '';
  const stage = s(rc['stage']) ?? '';
  const domain = s(rc['domainName']) ?? '';
  const { method, route, path } = e;
  const resource = `${method} ${route || parameterizePath(path)}`;
  const url = domain ? `https://${domain}${path}` : undefined;
  const meta = baseMeta(opts, e.operation, resource, 'sync');
  Object.assign(meta, httpTags(method, url, path));
  Object.assign(meta, { endpoint: path, apiid: apiId, apiname: apiId, stage, domain_name: domain });
  if (e.client && s(e.client['sourceIp'])) meta['network.client.ip'] = s(e.client['sourceIp'])!;
  if (e.client && s(e.client['userAgent'])) meta['http.useragent'] = s(e.client['userAgent'])!;
  if (s(rc['requestId'])) meta['request_id'] = s(rc['requestId'])!;
  if (opts.region) meta['dd_resource_key'] = `arn:aws:apigateway:${opts.region}::/${e.arnKind}/${apiId}`;
  return {
    kind: e.kind,
    tags: { ...apiGatewayTags(opts, apiId, stage), ...httpTags(method, url, path, route || undefined) },
    inferredSpans: [
      inferredSpan(
        e.spanName,
        serviceName(opts, apiId, 'lambda_api_gateway', domain || apiId),
        resource,
        startNs(e.startMs, MS, opts),
        'sync',
        meta,
      ),
    ],
    context: ctxFrom(o(ev['headers']), opts),
  };
}

function apiGatewayRest(ev: Obj, opts: TriggerOptions): TriggerInfo {
  const rc = o(ev['requestContext']);
  return httpApi(ev, rc, opts, {
    kind: 'api-gateway-rest',
    spanName: 'aws.apigateway',
    operation: 'aws.apigateway.rest',
    method: s(ev['httpMethod']) ?? s(rc['httpMethod']) ?? '',
    route: s(ev['resource']) ?? s(rc['resourcePath']) ?? '',
    path: s(ev['path']) ?? s(rc['path']) ?? '',
    startMs: rc['requestTimeEpoch'],
    arnKind: 'restapis',
  });
}

function apiGatewayHttp(ev: Obj, opts: TriggerOptions): TriggerInfo {
  const rc = o(ev['requestContext']);
  const http = o(rc['http']);
  const routeKey = s(ev['routeKey']) ?? s(rc['routeKey']) ?? '';
  return httpApi(ev, rc, opts, {
    kind: 'api-gateway-http',
    spanName: 'aws.httpapi',
    operation: 'aws.httpapi',
    method: s(http['method']) ?? '',
    // routeKey is "GET /items/{id}" or "$default"
    route: routeKey.includes(' ') ? routeKey.slice(routeKey.indexOf(' ') + 1) : '',
    path: s(http['path']) ?? s(ev['rawPath']) ?? '',
    startMs: rc['timeEpoch'],
    arnKind: 'apis',
    client: http,
  });
}

function apiGatewayWebsocket(ev: Obj, opts: TriggerOptions): TriggerInfo {
  const rc = o(ev['requestContext']);
  const apiId = s(rc['apiId']) ?? '';
  const stage = s(rc['stage']) ?? '';
  const domain = s(rc['domainName']) ?? '';
  const routeKey = s(rc['routeKey']) ?? '';
  const meta = baseMeta(opts, 'aws.apigateway.websocket', routeKey, 'sync');
  Object.assign(meta, {
    endpoint: routeKey,
    apiid: apiId,
    apiname: apiId,
    stage,
    domain_name: domain,
    connection_id: s(rc['connectionId']) ?? '',
    event_type: s(rc['eventType']) ?? '',
    message_direction: s(rc['messageDirection']) ?? '',
  });
  if (domain) meta['http.url'] = `https://${domain}${routeKey}`;
  if (s(rc['requestId'])) meta['request_id'] = s(rc['requestId'])!;
  if (opts.region) meta['dd_resource_key'] = `arn:aws:apigateway:${opts.region}::/restapis/${apiId}`;
  return {
    kind: 'api-gateway-websocket',
    tags: apiGatewayTags(opts, apiId, stage),
    inferredSpans: [
      inferredSpan(
        'aws.apigateway',
        serviceName(opts, apiId, 'lambda_api_gateway', domain || apiId),
        routeKey,
        startNs(rc['requestTimeEpoch'], MS, opts),
        'sync',
        meta,
      ),
    ],
    context: ctxFrom(o(ev['headers']), opts),
  };
}

function functionUrl(ev: Obj, opts: TriggerOptions): TriggerInfo {
  const rc = o(ev['requestContext']);
  const http = o(rc['http']);
  const domain = s(rc['domainName']) ?? '';
  const method = s(http['method']) ?? '';
  const path = s(http['path']) ?? s(ev['rawPath']) ?? '';
  const resource = `${method} ${parameterizePath(path)}`;
  const url = `https://${domain}${path}`;
  const meta = baseMeta(opts, 'aws.lambda.url', resource, 'sync');
  Object.assign(meta, httpTags(method, url, path));
  Object.assign(meta, { endpoint: path, domain_name: domain });
  if (s(rc['requestId'])) meta['request_id'] = s(rc['requestId'])!;
  if (s(http['sourceIp'])) meta['network.client.ip'] = s(http['sourceIp'])!;
  if (s(http['userAgent'])) meta['http.useragent'] = s(http['userAgent'])!;
  if (opts.functionArn) meta['dd_resource_key'] = opts.functionArn;
  const tags: Record<string, string> = {
    'function_trigger.event_source': 'lambda-function-url',
    ...httpTags(method, url, path),
  };
  if (opts.functionArn) tags['function_trigger.event_source_arn'] = opts.functionArn;
  return {
    kind: 'lambda-url',
    tags,
    inferredSpans: [
      inferredSpan(
        'aws.lambda.url',
        serviceName(opts, s(rc['apiId']), 'lambda_url', domain),
        resource,
        startNs(rc['timeEpoch'], MS, opts),
        'sync',
        meta,
        'http',
      ),
    ],
    context: ctxFrom(o(ev['headers']), opts),
  };
}

function alb(ev: Obj, opts: TriggerOptions): TriggerInfo {
  const elb = o(o(ev['requestContext'])['elb']);
  const method = s(ev['httpMethod']);
  const path = s(ev['path']);
  const headers = isObj(ev['headers']) ? ev['headers'] : o(ev['multiValueHeaders']);
  const tags: Record<string, string> = {
    'function_trigger.event_source': 'application-load-balancer',
    'function_trigger.event_source_arn': s(elb['targetGroupArn']) ?? '',
    ...httpTags(method, undefined, path),
  };
  return { kind: 'alb', tags, inferredSpans: [], context: ctxFrom(headers, opts) };
}

// ----------------------------------------------------------------------------------- async triggers

function snsAttributesCarrier(attrs: unknown): Obj | undefined {
  const dd = o(attrs)['_datadog'];
  if (!isObj(dd)) return undefined;
  const type = s(dd['Type']);
  const value = dd['Value'];
  return type === 'Binary' ? b64Json(value) : jsonObj(value);
}

function snsSpan(sns: Obj, eventSubscriptionArn: string | undefined, opts: TriggerOptions): InferredSpanSpec {
  const topicArn = s(sns['TopicArn']) ?? '';
  const topic = topicArn.split(':').pop() ?? '';
  const meta = baseMeta(opts, 'aws.sns', topic, 'async');
  Object.assign(meta, {
    topicname: topic,
    topic_arn: topicArn,
    message_id: s(sns['MessageId']) ?? '',
    type: s(sns['Type']) ?? '',
  });
  if (s(sns['Subject'])) meta['subject'] = s(sns['Subject'])!;
  if (eventSubscriptionArn) meta['event_subscription_arn'] = eventSubscriptionArn;
  meta['dd_resource_key'] = topicArn;
  return asyncSpan(opts, 'sns', topic, topic, parseIsoNs(sns['Timestamp']) ?? opts.nowNs ?? 0, meta);
}

/** The context an SNS message carries in its `_datadog` message attribute. */
const snsContext = (msg: Obj, opts: TriggerOptions) =>
  ctxFrom(snsAttributesCarrier(msg['MessageAttributes']), opts);

function eventBridgeSpan(ev: Obj, opts: TriggerOptions): InferredSpanSpec {
  const source = s(ev['source']) ?? '';
  const detail = o(ev['detail']);
  const dd = o(detail['_datadog']);
  const bus = s(dd['x-datadog-resource-name']);
  const resource = bus ?? source;
  const meta = baseMeta(opts, 'aws.eventbridge', resource, 'async');
  Object.assign(meta, { detail_type: s(ev['detail-type']) ?? '' });
  if (s(ev['id'])) meta['event_id'] = s(ev['id'])!;
  return asyncSpan(
    opts,
    'eventbridge',
    resource,
    resource,
    startNs(dd['x-datadog-start-time'], MS, opts, parseIsoNs(ev['time'])),
    meta,
  );
}

/** The context an EventBridge event carries in `detail._datadog`. */
const eventBridgeContext = (ev: Obj, opts: TriggerOptions) => ctxFrom(o(o(ev['detail'])['_datadog']), opts);

function isEventBridge(ev: Obj): boolean {
  return typeof ev['detail-type'] === 'string' && typeof ev['source'] === 'string' && 'detail' in ev;
}

/**
 * The message an SQS body or an SNS message wraps: an SNS notification (only inside SQS) or an
 * EventBridge event. Its span comes first in the chain; its carrier counts when the outer had none.
 */
function wrapped(
  inner: Obj | undefined,
  snsAllowed: boolean,
  opts: TriggerOptions,
): { span: InferredSpanSpec; context: SpanContext | undefined } | undefined {
  if (!inner) return undefined;
  if (snsAllowed && s(inner['Type']) === 'Notification' && s(inner['TopicArn']))
    return { span: snsSpan(inner, undefined, opts), context: snsContext(inner, opts) };
  if (isEventBridge(inner))
    return { span: eventBridgeSpan(inner, opts), context: eventBridgeContext(inner, opts) };
  return undefined;
}

function sqs(ev: Obj, opts: TriggerOptions): TriggerInfo {
  const rec = o((ev['Records'] as unknown[])[0]);
  const arn = s(rec['eventSourceARN']) ?? '';
  const queue = arn.split(':').pop() ?? '';
  const attrs = o(rec['attributes']);
  const meta = baseMeta(opts, 'aws.sqs', queue, 'async');
  Object.assign(meta, {
    queuename: queue,
    event_source_arn: arn,
    receipt_handle: s(rec['receiptHandle']) ?? '',
    sender_id: s(attrs['SenderId']) ?? '',
  });
  if (s(attrs['ApproximateReceiveCount'])) meta['retry_count'] = s(attrs['ApproximateReceiveCount'])!;
  if (s(rec['messageId'])) meta['message_id'] = s(rec['messageId'])!;
  meta['dd_resource_key'] = arn;
  const spans = [asyncSpan(opts, 'sqs', queue, queue, startNs(attrs['SentTimestamp'], MS, opts), meta)];
  // The carrier: `_datadog` message attribute, else the wrapped SNS / EventBridge message's, else X-Ray.
  const ma = o(o(rec['messageAttributes'])['_datadog']);
  let context: SpanContext | undefined;
  if (s(ma['stringValue'])) context = ctxFrom(jsonObj(ma['stringValue']), opts);
  else if (s(ma['binaryValue'])) context = ctxFrom(b64Json(ma['binaryValue']), opts);
  const inner = wrapped(jsonObj(rec['body']), true, opts);
  if (inner) {
    spans.unshift(inner.span);
    context ??= inner.context;
  }
  if (!context) {
    const xray = contextFromXrayHeader(s(attrs['AWSTraceHeader']));
    if (xray) context = xray;
  }
  return {
    kind: 'sqs',
    tags: { 'function_trigger.event_source': 'sqs', 'function_trigger.event_source_arn': arn },
    inferredSpans: spans,
    context,
  };
}

function sns(ev: Obj, opts: TriggerOptions): TriggerInfo {
  const rec = o((ev['Records'] as unknown[])[0]);
  const msg = o(rec['Sns']);
  const spans = [snsSpan(msg, s(rec['EventSubscriptionArn']), opts)];
  let context = snsContext(msg, opts);
  // EventBridge → SNS → Lambda: the message is the EventBridge event
  const inner = wrapped(jsonObj(msg['Message']), false, opts);
  if (inner) {
    spans.unshift(inner.span);
    context ??= inner.context;
  }
  return {
    kind: 'sns',
    tags: {
      'function_trigger.event_source': 'sns',
      'function_trigger.event_source_arn': s(msg['TopicArn']) ?? '',
    },
    inferredSpans: spans,
    context,
  };
}

function eventBridge(ev: Obj, opts: TriggerOptions): TriggerInfo {
  const tags: Record<string, string> = { 'function_trigger.event_source': 'eventbridge' };
  const res = ev['resources'];
  if (Array.isArray(res) && typeof res[0] === 'string') tags['function_trigger.event_source_arn'] = res[0];
  else if (s(ev['source'])) tags['function_trigger.event_source_arn'] = s(ev['source'])!;
  return {
    kind: 'eventbridge',
    tags,
    inferredSpans: [eventBridgeSpan(ev, opts)],
    context: eventBridgeContext(ev, opts),
  };
}

function kinesis(ev: Obj, opts: TriggerOptions): TriggerInfo {
  const rec = o((ev['Records'] as unknown[])[0]);
  const k = o(rec['kinesis']);
  const arn = s(rec['eventSourceARN']) ?? '';
  const stream = arn.split('/').pop() ?? '';
  const eventId = s(rec['eventID']) ?? '';
  const meta = baseMeta(opts, 'aws.kinesis', stream, 'async');
  Object.assign(meta, {
    stream_name: stream,
    shard_id: eventId.split(':')[0] ?? '',
    event_source_arn: arn,
    event_id: eventId,
    event_name: s(rec['eventName']) ?? '',
    event_version: s(rec['eventVersion']) ?? '',
    partition_key: s(k['partitionKey']) ?? '',
  });
  meta['dd_resource_key'] = arn;
  const data = b64Json(k['data']);
  return {
    kind: 'kinesis',
    tags: { 'function_trigger.event_source': 'kinesis', 'function_trigger.event_source_arn': arn },
    inferredSpans: [
      asyncSpan(
        opts,
        'kinesis',
        stream,
        stream,
        startNs(k['approximateArrivalTimestamp'], SECONDS, opts),
        meta,
      ),
    ],
    context: ctxFrom(data ? o(data['_datadog']) : undefined, opts),
  };
}

function dynamodb(ev: Obj, opts: TriggerOptions): TriggerInfo {
  const rec = o((ev['Records'] as unknown[])[0]);
  const d = o(rec['dynamodb']);
  const arn = s(rec['eventSourceARN']) ?? '';
  const table = /table\/([^/]+)/.exec(arn)?.[1] ?? '';
  const eventName = s(rec['eventName']) ?? '';
  const resource = `${eventName} ${table}`;
  const meta = baseMeta(opts, 'aws.dynamodb', resource, 'async');
  Object.assign(meta, {
    tablename: table,
    event_source_arn: arn,
    event_id: s(rec['eventID']) ?? '',
    event_name: eventName,
    event_version: s(rec['eventVersion']) ?? '',
    stream_view_type: s(d['StreamViewType']) ?? '',
    size_bytes: s(d['SizeBytes']) ?? '',
  });
  meta['dd_resource_key'] = arn.replace(/\/stream\/.*$/, '');
  return {
    kind: 'dynamodb',
    tags: { 'function_trigger.event_source': 'dynamodb', 'function_trigger.event_source_arn': arn },
    inferredSpans: [
      asyncSpan(
        opts,
        'dynamodb',
        table,
        resource,
        startNs(d['ApproximateCreationDateTime'], SECONDS, opts),
        meta,
      ),
    ],
  };
}

function s3(ev: Obj, opts: TriggerOptions): TriggerInfo {
  const rec = o((ev['Records'] as unknown[])[0]);
  const s3o = o(rec['s3']);
  const bucket = o(s3o['bucket']);
  const object = o(s3o['object']);
  const name = s(bucket['name']) ?? '';
  const bucketArn = s(bucket['arn']) ?? `arn:aws:s3:::${name}`;
  const eventName = s(rec['eventName']) ?? '';
  const resource = `${eventName} ${name}`;
  const meta = baseMeta(opts, 'aws.s3', resource, 'async');
  Object.assign(meta, {
    bucketname: name,
    bucket_arn: bucketArn,
    object_key: s(object['key']) ?? '',
    object_size: s(object['size']) ?? '',
    object_etag: s(object['eTag']) ?? '',
    event_name: eventName,
  });
  meta['dd_resource_key'] = bucketArn;
  return {
    kind: 's3',
    tags: { 'function_trigger.event_source': 's3', 'function_trigger.event_source_arn': bucketArn },
    inferredSpans: [
      asyncSpan(opts, 's3', name, resource, parseIsoNs(rec['eventTime']) ?? opts.nowNs ?? 0, meta),
    ],
  };
}

/** Recognises the trigger of an invocation event, in the order the extension checks them. */
export function detectTrigger(event: unknown, opts: TriggerOptions): TriggerInfo | undefined {
  if (!isObj(event)) return undefined;
  const rc = event['requestContext'];
  if (isObj(rc)) {
    if (isObj(rc['elb'])) return alb(event, opts);
    const domain = s(rc['domainName']) ?? '';
    if (event['version'] === '2.0' && isObj(rc['http'])) {
      return domain.includes('.lambda-url.') ? functionUrl(event, opts) : apiGatewayHttp(event, opts);
    }
    if (s(rc['messageDirection']) && s(rc['connectionId'])) return apiGatewayWebsocket(event, opts);
    if (s(rc['stage']) && (s(event['httpMethod']) || s(rc['httpMethod']))) return apiGatewayRest(event, opts);
    if (isObj(rc['http']) && domain.includes('.lambda-url.')) return functionUrl(event, opts);
  }
  const records = event['Records'];
  if (Array.isArray(records) && isObj(records[0])) {
    const r = records[0];
    const src = s(r['eventSource']) ?? s(r['EventSource']);
    switch (src) {
      case 'aws:sqs':
        return sqs(event, opts);
      case 'aws:sns':
        return sns(event, opts);
      case 'aws:kinesis':
        return kinesis(event, opts);
      case 'aws:dynamodb':
        return dynamodb(event, opts);
      case 'aws:s3':
        return s3(event, opts);
      default:
        break;
    }
  }
  if (isEventBridge(event)) return eventBridge(event, opts);
  return undefined;
}

export interface ExtractedContext {
  context?: SpanContext;
  trigger?: TriggerInfo;
}

/**
 * The context extractor the start-invocation hook calls: the trigger's carrier first, then
 * `event.request.headers`, `event.headers`, then the hook request's own headers.
 */
export function extractInvocationContext(
  event: unknown,
  requestHeaders: Record<string, string | string[] | undefined>,
  opts: TriggerOptions,
): ExtractedContext {
  const trigger = detectTrigger(event, opts);
  let context = trigger?.context;
  if (!context && isObj(event)) {
    context = ctxFrom(o(o(event['request'])['headers']), opts) ?? ctxFrom(o(event['headers']), opts);
  }
  if (!context) context = ctxFrom(requestHeaders as Obj, opts, 'headers');
  const out: ExtractedContext = {};
  if (context) out.context = context;
  if (trigger) out.trigger = trigger;
  return out;
}

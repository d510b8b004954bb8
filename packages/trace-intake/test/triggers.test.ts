// Every trigger with a realistic event: the context the start-invocation hook answers with, and the
// inferred spans, their ids and who parents whom, as the end-invocation hook emits them.
import { describe, expect, it } from 'vitest';
import { detectTrigger, InvocationTracer, type Span } from '../src/index.js';
import * as ev from './helpers/events.js';

function tracer(extra: Partial<ConstructorParameters<typeof InvocationTracer>[0]> = {}) {
  const emitted: Span[][] = [];
  let id = 1000n;
  const t = new InvocationTracer({
    functionName: 'my-function',
    functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:my-function',
    region: 'us-east-1',
    accountId: '123456789012',
    invocationService: 'my-function',
    propagation: { extract: ['datadog', 'tracecontext'], extractFirst: false },
    serviceMapping: {},
    awsServiceRepresentation: true,
    capturePayload: false,
    capturePayloadMaxDepth: 10,
    nowNs: () => ev.T0_NS,
    newId: () => ++id,
    emit: (s) => emitted.push(s),
    ...extra,
  });
  return { t, emitted };
}

function invoke(
  event: unknown,
  opts: Parameters<typeof tracer>[0] = {},
  response: unknown = { statusCode: 200 },
) {
  const { t, emitted } = tracer(opts);
  const start = t.startInvocation({ requestId: 'req-1', headers: {}, event, timeNs: ev.T0_NS + 10e6 });
  const spans = t.endInvocation({ requestId: 'req-1', headers: {}, response, timeNs: ev.T0_NS + 60e6 });
  const inv = spans.find((s) => s.name === 'aws.lambda')!;
  return { start, spans, inv, emitted };
}

const byName = (spans: Span[], name: string) => spans.filter((s) => s.name === name);

describe('HTTP triggers', () => {
  it('API Gateway REST: aws.apigateway parents aws.lambda, context from the headers, 128-bit id kept', () => {
    const { start, spans, inv } = invoke(ev.apiGatewayRest());
    expect(start.headers).toEqual({
      'x-datadog-trace-id': '4110911582297405551',
      'x-datadog-sampling-priority': '2',
      'x-datadog-tags': '_dd.p.tid=6b118b3700000000',
    });
    const [gw] = byName(spans, 'aws.apigateway');
    expect(gw).toMatchObject({
      service: 'abc123.execute-api.us-east-1.amazonaws.com',
      resource: 'GET /users/{id}',
      type: 'web',
      trace_id: 4110911582297405551n,
      parent_id: 797643193680388254n,
    });
    expect(gw!.meta).toMatchObject({
      'http.url': 'https://abc123.execute-api.us-east-1.amazonaws.com/users/42',
      'http.method': 'GET',
      stage: 'prod',
      apiid: 'abc123',
      '_inferred_span.synchronicity': 'sync',
      '_inferred_span.tag_source': 'self',
      'peer.service': 'my-function',
      'http.status_code': '200',
      '_dd.p.tid': '6b118b3700000000',
      // the extracted propagation tags go on the trace's root
      '_dd.p.dm': '-4',
    });
    expect(gw!.start).toBe(BigInt(ev.T0_NS));
    // sync: ends when the function returns
    expect(Number(gw!.start) + Number(gw!.duration)).toBe(ev.T0_NS + 60e6);
    expect(inv.parent_id).toBe(gw!.span_id);
    expect(inv.trace_id).toBe(4110911582297405551n);
    expect(inv.metrics['_sampling_priority_v1']).toBe(2);
    expect(inv.meta).toMatchObject({
      'function_trigger.event_source': 'api-gateway',
      'function_trigger.event_source_arn': 'arn:aws:apigateway:us-east-1::/restapis/abc123/stages/prod',
      'http.route': '/users/{id}',
      request_id: 'req-1',
      cold_start: 'true',
    });
    expect(inv.meta['_dd.p.dm']).toBeUndefined();
  });

  it('API Gateway HTTP (v2): aws.httpapi with the route key', () => {
    const { spans, inv } = invoke(
      ev.apiGatewayHttp({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }),
    );
    const [api] = byName(spans, 'aws.httpapi');
    expect(api).toMatchObject({
      resource: 'POST /orders/{id}',
      service: 'x1y2z3.execute-api.us-east-1.amazonaws.com',
    });
    // W3C context: low 64 bits in the id, high 64 bits in _dd.p.tid
    expect(api!.trace_id).toBe(0x8448eb211c80319cn);
    expect(api!.meta['_dd.p.tid']).toBe('0af7651916cd43dd');
    expect(api!.parent_id).toBe(0xb7ad6b7169203331n);
    expect(inv.parent_id).toBe(api!.span_id);
  });

  it('API Gateway WebSocket', () => {
    const { spans, inv } = invoke(ev.apiGatewayWebsocket());
    const [ws] = byName(spans, 'aws.apigateway');
    expect(ws).toMatchObject({ resource: '$connect', trace_id: 111n, parent_id: 222n });
    expect(ws!.meta).toMatchObject({
      connection_id: 'Jv0RZdGjoAMCIrQ=',
      event_type: 'CONNECT',
      message_direction: 'IN',
      operation_name: 'aws.apigateway.websocket',
    });
    expect(inv.parent_id).toBe(ws!.span_id);
  });

  it('Function URL: aws.lambda.url, type http, digits parameterised; no context → a generated trace', () => {
    const { start, spans, inv } = invoke(ev.functionUrl());
    const [url] = byName(spans, 'aws.lambda.url');
    expect(url).toMatchObject({
      resource: 'GET /items/{id}',
      type: 'http',
      service: 'abcdefg.lambda-url.us-east-1.on.aws',
      parent_id: 0n,
    });
    expect(inv.meta['function_trigger.event_source']).toBe('lambda-function-url');
    expect(start.headers['x-datadog-trace-id']).toBe(String(url!.trace_id));
    expect(inv.trace_id).toBe(url!.trace_id);
  });

  it('ALB: trigger tags and the W3C context, but no inferred span', () => {
    const { start, spans, inv } = invoke(ev.alb());
    expect(spans).toHaveLength(1);
    expect(inv.meta['function_trigger.event_source']).toBe('application-load-balancer');
    expect(inv.meta['function_trigger.event_source_arn']).toContain('targetgroup/lambda-tg');
    expect(inv.trace_id).toBe(0x8448eb211c80319cn);
    expect(inv.parent_id).toBe(0xb7ad6b7169203331n);
    expect(start.headers['x-datadog-sampling-priority']).toBe('2');
    expect(inv.meta['_dd.p.dm']).toBe('-5');
  });
});

describe('async triggers', () => {
  it('SQS: aws.sqs from the _datadog attribute, ending when the function starts', () => {
    const { spans, inv } = invoke(ev.sqs());
    const [q] = byName(spans, 'aws.sqs');
    expect(q).toMatchObject({
      service: 'my-queue',
      resource: 'my-queue',
      trace_id: 2684756524522091840n,
      parent_id: 7431398482019833808n,
    });
    expect(q!.meta).toMatchObject({
      queuename: 'my-queue',
      '_inferred_span.synchronicity': 'async',
      retry_count: '1',
      receipt_handle: 'AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a',
    });
    expect(q!.start).toBe(BigInt(ev.T0_NS - 500e6));
    expect(Number(q!.start) + Number(q!.duration)).toBe(ev.T0_NS + 10e6);
    expect(q!.meta['http.status_code']).toBeUndefined();
    expect(inv.parent_id).toBe(q!.span_id);
    expect(inv.meta['function_trigger.event_source_arn']).toBe('arn:aws:sqs:us-east-2:123456789012:my-queue');
  });

  it('SQS with only an X-Ray header: the Datadog ids carried in it', () => {
    const { spans } = invoke(ev.sqsWithXray());
    const [q] = byName(spans, 'aws.sqs');
    expect(q!.trace_id).toBe(0xbd862e3fe1be46a9n & ((1n << 63n) - 1n));
    expect(q!.parent_id).toBe(0x53995c3f42cd8ad8n);
  });

  it('SNS, with string and binary _datadog attributes', () => {
    const { spans, inv } = invoke(ev.sns());
    const [t] = byName(spans, 'aws.sns');
    expect(t).toMatchObject({
      service: 'my-topic',
      resource: 'my-topic',
      trace_id: 1111111111111111111n,
      parent_id: 2222222222222222222n,
    });
    expect(t!.meta).toMatchObject({
      topicname: 'my-topic',
      topic_arn: 'arn:aws:sns:us-east-1:123456789012:my-topic',
      subject: 'example subject',
      type: 'Notification',
    });
    expect(inv.parent_id).toBe(t!.span_id);
    const bin = invoke(ev.snsBinaryContext());
    expect(byName(bin.spans, 'aws.sns')[0]!.trace_id).toBe(3333333333333333333n);
  });

  it('SNS through SQS: aws.sns parents aws.sqs parents aws.lambda', () => {
    const { spans, inv } = invoke(ev.snsThroughSqs());
    const [t] = byName(spans, 'aws.sns');
    const [q] = byName(spans, 'aws.sqs');
    expect(t!.trace_id).toBe(1111111111111111111n);
    expect(t!.parent_id).toBe(2222222222222222222n);
    expect(q!.parent_id).toBe(t!.span_id);
    expect(q!.trace_id).toBe(t!.trace_id);
    expect(q!.service).toBe('sns-fed-queue');
    expect(inv.parent_id).toBe(q!.span_id);
  });

  it('EventBridge, directly and through SQS', () => {
    const { spans, inv } = invoke(ev.eventBridge());
    const [b] = byName(spans, 'aws.eventbridge');
    expect(b).toMatchObject({
      resource: 'orders-bus',
      service: 'orders-bus',
      trace_id: 5555555555555555555n,
      parent_id: 6666666666666666666n,
    });
    expect(b!.meta['detail_type']).toBe('OrderPlaced');
    expect(b!.start).toBe(BigInt(ev.T0_NS - 1500e6));
    expect(inv.parent_id).toBe(b!.span_id);
    const viaSqs = invoke(ev.eventBridgeThroughSqs());
    const [b2] = byName(viaSqs.spans, 'aws.eventbridge');
    const [q2] = byName(viaSqs.spans, 'aws.sqs');
    expect(b2!.trace_id).toBe(5555555555555555555n);
    expect(q2!.parent_id).toBe(b2!.span_id);
    expect(viaSqs.inv.parent_id).toBe(q2!.span_id);
  });

  it('Kinesis: context from the record data', () => {
    const { spans, inv } = invoke(ev.kinesis());
    const [k] = byName(spans, 'aws.kinesis');
    expect(k).toMatchObject({
      service: 'my-stream',
      resource: 'my-stream',
      trace_id: 7777777777777777777n,
      parent_id: 8888888888888888888n,
    });
    expect(k!.meta).toMatchObject({
      stream_name: 'my-stream',
      shard_id: 'shardId-000000000006',
      partition_key: 'pk-1',
    });
    expect(k!.start).toBe(BigInt(ev.T0_NS - 3000e6));
    expect(inv.parent_id).toBe(k!.span_id);
  });

  it('DynamoDB streams and S3: inferred spans that start a trace', () => {
    const d = invoke(ev.dynamodb());
    const [t] = byName(d.spans, 'aws.dynamodb');
    expect(t).toMatchObject({ service: 'ExampleTable', resource: 'INSERT ExampleTable', parent_id: 0n });
    expect(t!.meta).toMatchObject({
      tablename: 'ExampleTable',
      event_name: 'INSERT',
      stream_view_type: 'NEW_AND_OLD_IMAGES',
    });
    expect(d.inv.trace_id).toBe(t!.trace_id);
    expect(d.inv.parent_id).toBe(t!.span_id);
    const s = invoke(ev.s3());
    const [b] = byName(s.spans, 'aws.s3');
    expect(b).toMatchObject({ service: 'my-bucket', resource: 'ObjectCreated:Put my-bucket' });
    expect(b!.meta).toMatchObject({
      bucketname: 'my-bucket',
      object_key: 'uploads/photo.jpg',
      object_size: '1024',
    });
    expect(s.inv.meta['function_trigger.event_source']).toBe('s3');
    expect(s.inv.parent_id).toBe(b!.span_id);
  });
});

describe('service naming and propagation settings', () => {
  it('DD_SERVICE_MAPPING: a specific key wins over the generic one; representation off falls back', () => {
    expect(
      byName(
        invoke(ev.sqs(), { serviceMapping: { 'my-queue': 'orders-q', lambda_sqs: 'all-sqs' } }).spans,
        'aws.sqs',
      )[0]!.service,
    ).toBe('orders-q');
    expect(
      byName(invoke(ev.sqs(), { serviceMapping: { lambda_sqs: 'all-sqs' } }).spans, 'aws.sqs')[0]!.service,
    ).toBe('all-sqs');
    expect(
      byName(
        invoke(ev.apiGatewayRest(), { serviceMapping: { lambda_api_gateway: 'gw' } }).spans,
        'aws.apigateway',
      )[0]!.service,
    ).toBe('gw');
    expect(byName(invoke(ev.sqs(), { awsServiceRepresentation: false }).spans, 'aws.sqs')[0]!.service).toBe(
      'sqs',
    );
  });

  it('propagation styles: tracecontext only ignores Datadog headers; none extracts nothing', () => {
    const both = { ...ev.DD_HEADERS, traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
    const w3c = invoke(ev.apiGatewayRest(both), {
      propagation: { extract: ['tracecontext'], extractFirst: false },
    });
    expect(w3c.inv.trace_id).toBe(0x8448eb211c80319cn);
    const dd = invoke(ev.apiGatewayRest(both), {
      propagation: { extract: ['datadog'], extractFirst: false },
    });
    expect(dd.inv.trace_id).toBe(4110911582297405551n);
    const none = invoke(ev.apiGatewayRest(both), { propagation: { extract: ['none'], extractFirst: false } });
    expect(none.spans[0]!.parent_id).toBe(0n);
    const b3 = invoke(ev.apiGatewayRest({ b3: '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1' }), {
      propagation: { extract: ['b3'], extractFirst: false },
    });
    expect(b3.inv.trace_id).toBe(0x64fe8b2a57d3eff7n);
    expect(b3.spans[0]!.meta['_dd.p.tid']).toBe('80f198ee56343ba8');
  });

  it('an unknown event is no trigger; the hook request headers still give the context', () => {
    expect(
      detectTrigger(
        { hello: 'world' },
        {
          propagation: { extract: ['datadog'], extractFirst: false },
          serviceMapping: {},
          awsServiceRepresentation: true,
        },
      ),
    ).toBeUndefined();
    const { t } = tracer();
    const r = t.startInvocation({
      headers: { 'x-datadog-trace-id': '99', 'x-datadog-parent-id': '98' },
      event: { hello: 'world' },
    });
    expect(r.headers['x-datadog-trace-id']).toBe('99');
    const [inv] = t.endInvocation({ headers: {}, response: null });
    expect(inv!.parent_id).toBe(98n);
  });
});

// Universal instrumentation end to end through the agent: start/end-invocation events in, the
// aws.lambda span, its error and cold start out, decoded from the AgentPayload we would send.
import { describe, expect, it } from 'vitest';
import { errorTags, fromEnv, isServerError, TraceAgent, tracerHeadersFrom } from '../src/index.js';
import { allSpans, decodeAgentPayload } from './helpers/agent-payload-schema.js';
import * as ev from './helpers/events.js';

function agent(env: Record<string, string> = {}) {
  let t = ev.T0_NS;
  return new TraceAgent({
    ...fromEnv({ DD_SERVICE: 'Checkout', DD_ENV: 'prod', DD_VERSION: '1.2.3', ...env }),
    functionName: 'my-function',
    functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:my-function',
    region: 'us-east-1',
    tags: { functionname: 'my-function', region: 'us-east-1', account_id: '123456789012' },
    invocationTags: { runtime: 'java21' },
    nowNs: () => (t += 1e6),
  });
}
const flushed = (a: TraceAgent) =>
  a
    .flush(true)
    .filter((p) => p.kind === 'traces')
    .flatMap((p) => allSpans(decodeAgentPayload(p.body)));

/** Spans of one trace as a tracer that makes its own aws.lambda (Node) sends them. */
const tracerSpans =
  (traceId: bigint) =>
  (name: string, span: number, parent: number, meta: Record<string, string> = {}) => ({
    service: 'my-function',
    name,
    resource: 'my-function',
    trace_id: traceId,
    span_id: span,
    parent_id: parent,
    start: BigInt(ev.T0_NS),
    duration: 5,
    error: 0,
    meta,
    metrics: {},
    type: 'serverless',
  });

describe('universal instrumentation', () => {
  it('builds aws.lambda with the request context, the error from the headers, tags and cold start', () => {
    const a = agent();
    const inv = a.invocations!;
    const r = inv.startInvocation({ requestId: 'r-1', headers: {}, event: ev.apiGatewayRest() });
    expect(r.headers['x-datadog-trace-id']).toBe('4110911582297405551');
    inv.setColdStart({ startNs: ev.T0_NS - 800e6, durationMs: 750.5, requestId: 'r-1' });
    inv.endInvocation({
      requestId: 'r-1',
      headers: { 'x-datadog-span-id': '1234567890123456789' },
      // as the hooks decoded the x-datadog-invocation-error* headers
      error: {
        message: 'card declined',
        type: 'PaymentError',
        stack: 'PaymentError: card declined\n  at pay (Pay.java:1)',
      },
      response: { statusCode: 502, body: 'bad gateway' },
    });
    const spans = flushed(a);
    const lambda = spans.find((s) => s.name === 'aws.lambda')!;
    const gw = spans.find((s) => s.name === 'aws.apigateway')!;
    const cold = spans.find((s) => s.name === 'aws.lambda.cold_start')!;
    expect(lambda).toMatchObject({
      service: 'checkout',
      resource: 'my-function',
      type: 'serverless',
      traceID: '4110911582297405551',
      spanID: '1234567890123456789',
      parentID: gw.spanID,
      error: 1,
    });
    expect(lambda.meta).toMatchObject({
      'error.msg': 'card declined',
      'error.type': 'PaymentError',
      'error.stack': 'PaymentError: card declined\n  at pay (Pay.java:1)',
      'http.status_code': '502',
      cold_start: 'true',
      runtime: 'java21',
      functionname: 'my-function',
      env: 'prod',
      version: '1.2.3',
      '_dd.origin': 'lambda',
      request_id: 'r-1',
      'span.kind': 'server',
    });
    expect(gw.error).toBe(1);
    expect(gw.meta['http.status_code']).toBe('502');
    expect(gw.meta['_dd.base_service']).toBe('checkout');
    // universal mode: beside aws.lambda, under its parent, as the Datadog extension places it
    expect(cold).toMatchObject({
      traceID: lambda.traceID,
      parentID: lambda.parentID,
      start: String(ev.T0_NS - 800e6),
      duration: String(750.5e6),
      service: 'checkout',
    });
    // only on aws.lambda
    expect(gw.meta['runtime']).toBeUndefined();
  });

  it('without a context at start, the end headers give trace, parent and priority', () => {
    const a = agent();
    a.invocations!.startInvocation({ requestId: 'r-2', headers: {}, event: { custom: true } });
    a.invocations!.endInvocation({
      requestId: 'r-2',
      headers: {
        'x-datadog-trace-id': '18446744073709551615',
        'x-datadog-parent-id': '42',
        'x-datadog-span-id': '43',
        'x-datadog-sampling-priority': '-1',
        'x-datadog-tags': '_dd.p.tid=aaaabbbbccccdddd',
      },
      response: 'ok',
    });
    const [lambda] = flushed(a);
    expect(lambda).toMatchObject({ traceID: '18446744073709551615', parentID: '42', spanID: '43', error: 0 });
    expect(lambda!.meta['_dd.p.tid']).toBe('aaaabbbbccccdddd');
    expect(lambda!.metrics['_sampling_priority_v1']).toBe(-1);
  });

  it('a context started here (inferred span, nothing upstream) takes the tracer’s priority and tags from the end headers', () => {
    for (const priority of [0, 2]) {
      const a = agent();
      const inv = a.invocations!;
      const r = inv.startInvocation({ requestId: 'g', headers: {}, event: ev.apiGatewayHttp() });
      expect(r.context?.source).toBe('generated');
      inv.endInvocation({
        requestId: 'g',
        headers: {
          'x-datadog-trace-id': r.headers['x-datadog-trace-id']!,
          'x-datadog-span-id': '77',
          'x-datadog-sampling-priority': String(priority),
          'x-datadog-tags': `${r.headers['x-datadog-tags']},_dd.p.dm=-1`,
        },
        response: { statusCode: 200 },
      });
      const chunks = a
        .flush(true)
        .filter((p) => p.kind === 'traces')
        .flatMap((p) => decodeAgentPayload(p.body).tracerPayloads.flatMap((t) => t.chunks));
      const spans = chunks.flatMap((c) => c.spans);
      const lambda = spans.find((s) => s.name === 'aws.lambda')!;
      const api = spans.find((s) => s.name === 'aws.httpapi')!;
      expect(lambda.traceID).toBe(r.headers['x-datadog-trace-id']);
      expect(lambda.parentID).toBe(api.spanID);
      expect(api.parentID).toBe('0');
      expect(lambda.metrics['_sampling_priority_v1']).toBe(priority);
      expect(api.metrics['_sampling_priority_v1']).toBe(priority);
      expect(chunks.map((c) => c.priority)).toEqual([priority]);
      // the root carries the propagation tags and the trace id's high half
      expect(api.meta['_dd.p.dm']).toBe('-1');
      expect(api.meta['_dd.p.tid']).toBe(r.headers['x-datadog-tags']!.slice('_dd.p.tid='.length));
      expect(lambda.meta['_dd.p.dm']).toBeUndefined();
      expect(lambda.meta['_dd.parent_source']).toBeUndefined();
    }
  });

  it('the INVOKE’s flags: cold start, proactive initialisation, runtime', () => {
    const a = agent();
    const inv = a.invocations!;
    inv.invocationStarted('p', {
      coldStart: false,
      proactiveInitialization: true,
      tags: { runtime: 'dotnet8' },
    });
    inv.startInvocation({ requestId: 'p', headers: {}, event: {} });
    inv.endInvocation({ requestId: 'p', headers: {}, response: {} });
    const [lambda] = flushed(a);
    expect(lambda!.meta).toMatchObject({
      cold_start: 'false',
      proactive_initialization: 'true',
      runtime: 'dotnet8',
    });
  });

  it('a start without a request id takes the one its INVOKE pairs it with', () => {
    const a = agent();
    const inv = a.invocations!;
    inv.startInvocation({ headers: { 'x-datadog-trace-id': '5', 'x-datadog-parent-id': '6' }, event: {} });
    inv.pairRequestId('late');
    inv.startInvocation({
      requestId: 'other',
      headers: { 'x-datadog-trace-id': '7', 'x-datadog-parent-id': '8' },
      event: {},
    });
    const [late] = inv.endInvocation({ requestId: 'late', headers: {}, response: {} });
    expect(late!.trace_id).toBe(5n);
    expect(late!.meta['request_id']).toBe('late');
  });

  it('awaiting runtimeDone: aws.lambda from platform.start for runtimeDone.durationMs, the sync inferred span with it', () => {
    const a = agent();
    const inv = a.invocations!;
    inv.startInvocation({ requestId: 't', headers: {}, event: ev.apiGatewayRest(), timeNs: ev.T0_NS });
    inv.endInvocation({
      requestId: 't',
      headers: {},
      response: { statusCode: 200 },
      timeNs: ev.T0_NS + 30e6,
      awaitRuntimeDone: true,
    });
    // nothing yet: held for the Telemetry that times it
    expect(flushed(a)).toEqual([]);
    inv.platformStart('t', ev.T0_NS - 4e6);
    expect(flushed(a)).toEqual([]);
    const sent = inv.runtimeDone('t', ev.T0_NS + 60e6, 41.5);
    expect(sent.map((s) => s.name)).toEqual(['aws.apigateway', 'aws.lambda']);
    const spans = flushed(a);
    const lambda = spans.find((s) => s.name === 'aws.lambda')!;
    const gw = spans.find((s) => s.name === 'aws.apigateway')!;
    expect(Math.abs(Number(lambda.start) - (ev.T0_NS - 4e6))).toBeLessThan(1000);
    expect(Math.abs(Number(lambda.duration) - 41.5e6)).toBeLessThan(1000);
    // sync: the gateway's span ends when aws.lambda does
    expect(Math.abs(Number(gw.start) + Number(gw.duration) - (ev.T0_NS - 4e6 + 41.5e6))).toBeLessThan(1000);
    // runtimeDone first (rare): the span goes at end-invocation, timed the same way
    inv.startInvocation({ requestId: 'u', headers: {}, event: {}, timeNs: ev.T0_NS });
    inv.platformStart('u', ev.T0_NS - 1e6);
    inv.runtimeDone('u', ev.T0_NS + 9e6, 10);
    inv.endInvocation({
      requestId: 'u',
      headers: {},
      response: {},
      timeNs: ev.T0_NS + 12e6,
      awaitRuntimeDone: true,
    });
    const [u] = flushed(a);
    expect(Math.abs(Number(u!.duration) - 10e6)).toBeLessThan(1000);
    // no Telemetry at all: releaseAll lets them go as the hooks timed them
    inv.startInvocation({ requestId: 'v', headers: {}, event: {}, timeNs: ev.T0_NS });
    inv.endInvocation({
      requestId: 'v',
      headers: {},
      response: {},
      timeNs: ev.T0_NS + 5e6,
      awaitRuntimeDone: true,
    });
    expect(inv.releaseAll()).toHaveLength(1);
    expect(Math.abs(Number(flushed(a)[0]!.duration) - 5e6)).toBeLessThan(1000);
  });

  it('a SnapStart restore: aws.lambda.snapstart_restore in place of the cold start', () => {
    const a = agent();
    const inv = a.invocations!;
    inv.setColdStart({
      name: 'aws.lambda.snapstart_restore',
      startNs: ev.T0_NS - 300e6,
      durationMs: 120,
      requestId: 's1',
    });
    inv.startInvocation({ requestId: 's1', headers: {}, event: {} });
    inv.endInvocation({ requestId: 's1', headers: {}, response: {} });
    const spans = flushed(a);
    const restore = spans.find((s) => s.name === 'aws.lambda.snapstart_restore')!;
    const lambda = spans.find((s) => s.name === 'aws.lambda')!;
    expect(spans.map((s) => s.name).filter((n) => n === 'aws.lambda.cold_start')).toEqual([]);
    expect(restore).toMatchObject({
      traceID: lambda.traceID,
      parentID: lambda.parentID,
      duration: String(120e6),
    });
  });

  it('the cold start keeps the 128-bit trace id: its own _dd.p.tid, from the context', () => {
    const a = agent();
    const inv = a.invocations!;
    inv.startInvocation({ requestId: 'c1', headers: {}, event: ev.apiGatewayRest() });
    inv.endInvocation({ requestId: 'c1', headers: {}, response: {} });
    flushed(a);
    // the init report comes after the invocation: the cold start goes in a chunk of its own
    inv.setColdStart({ startNs: ev.T0_NS - 900e6, durationMs: 800, requestId: 'c1' });
    const [cold] = flushed(a);
    expect(cold!.name).toBe('aws.lambda.cold_start');
    expect(cold!.traceID).toBe('4110911582297405551');
    expect(cold!.meta['_dd.p.tid']).toBe('6b118b3700000000');
  });

  it('starts aws.lambda at platform.start when the lifecycle reports it', () => {
    const a = agent();
    a.invocations!.platformStart('ps', ev.T0_NS - 5e6);
    a.invocations!.startInvocation({ requestId: 'ps', headers: {}, event: {}, timeNs: ev.T0_NS });
    a.invocations!.endInvocation({ requestId: 'ps', headers: {}, response: {}, timeNs: ev.T0_NS + 20e6 });
    const [lambda] = flushed(a);
    // ns timestamps held as doubles are exact to well under a microsecond
    expect(Math.abs(Number(lambda!.start) - (ev.T0_NS - 5e6))).toBeLessThan(1000);
    expect(Math.abs(Number(lambda!.duration) - 25e6)).toBeLessThan(1000);
  });

  it('the error as the hooks decoded it; a 5xx is 500 to 599 only', () => {
    expect(errorTags({})).toEqual({});
    expect(errorTags({ message: 'plain text!', type: 'E' })).toEqual({
      'error.msg': 'plain text!',
      'error.type': 'E',
    });
    expect([499, 500, 599, 600, 5000].map(isServerError)).toEqual([false, true, true, false, false]);
    const a = agent();
    a.invocations!.startInvocation({ requestId: 'c', headers: {}, event: {} });
    a.invocations!.endInvocation({ requestId: 'c', headers: {}, response: { statusCode: 600 } });
    const [lambda] = flushed(a);
    expect(lambda!.error).toBe(0);
    expect(lambda!.meta['http.status_code']).toBe('600');
  });

  it('pairs end with start by request id, FIFO without one', () => {
    const a = agent();
    const inv = a.invocations!;
    inv.startInvocation({
      requestId: 'a',
      headers: { 'x-datadog-trace-id': '1', 'x-datadog-parent-id': '1' },
      event: {},
    });
    inv.startInvocation({
      requestId: 'b',
      headers: { 'x-datadog-trace-id': '2', 'x-datadog-parent-id': '2' },
      event: {},
    });
    const [b] = inv.endInvocation({ requestId: 'b', headers: {}, response: {} });
    const [first] = inv.endInvocation({ headers: {}, response: {} });
    expect(b!.trace_id).toBe(2n);
    expect(first!.trace_id).toBe(1n);
    expect(first!.meta['cold_start']).toBe('true');
    expect(b!.meta['cold_start']).toBe('false');
  });

  it('DD_CAPTURE_LAMBDA_PAYLOAD flattens request and response, redacts secrets, cuts at depth', () => {
    const a = agent({ DD_CAPTURE_LAMBDA_PAYLOAD: 'true', DD_CAPTURE_LAMBDA_PAYLOAD_MAX_DEPTH: '3' });
    a.invocations!.startInvocation({
      requestId: 'r',
      headers: {},
      event: { user: { name: 'ann', password: 'hunter2', address: { city: 'Paris' } }, list: [1, 2] },
    });
    a.invocations!.endInvocation({
      requestId: 'r',
      headers: {},
      response: { statusCode: 200, body: '{"token":"abc","ok":true}' },
    });
    const [lambda] = flushed(a);
    expect(lambda!.meta).toMatchObject({
      'function.request.user.name': 'ann',
      'function.request.user.password': 'redacted',
      // at the maximum depth a value is its JSON text
      'function.request.user.address.city': '"Paris"',
      'function.request.list.0': '1',
      'function.response.statusCode': '200',
      // the body's JSON is one level more: body (1), its document (2), its fields (3)
      'function.response.body.token': 'redacted',
      'function.response.body.ok': 'true',
    });
  });

  it('links a tracer-made aws.lambda (Node) to the cold start by request id and re-parents aws.lambda.load', () => {
    const a = agent();
    a.invocations!.setColdStart({ startNs: ev.T0_NS - 1e9, durationMs: 300, requestId: 'node-req' });
    const header = tracerHeadersFrom({ 'datadog-meta-lang': 'nodejs' });
    const mk = tracerSpans(77n);
    a.handleTraces(
      [
        [
          mk('aws.lambda', 10, 0, { cold_start: 'true', request_id: 'node-req' }),
          mk('aws.lambda.load', 11, 0),
        ],
      ],
      header,
    );
    const spans = flushed(a);
    const cold = spans.find((s) => s.name === 'aws.lambda.cold_start')!;
    expect(cold).toMatchObject({ traceID: '77', parentID: '10', duration: String(300e6) });
    expect(spans.find((s) => s.name === 'aws.lambda.load')!.parentID).toBe(cold.spanID);
    // only once
    a.handleTraces([[mk('aws.lambda', 20, 0, { cold_start: 'true', request_id: 'node-req' })]], header);
    expect(flushed(a).some((s) => s.name === 'aws.lambda.cold_start')).toBe(false);
  });

  describe('aws.lambda.load of a tracer-made aws.lambda (Node)', () => {
    const header = tracerHeadersFrom({ 'datadog-meta-lang': 'nodejs' });
    const mk = tracerSpans(88n);
    // As datadog-lambda-js sends it: aws.lambda.load under the inferred span, beside aws.lambda.
    const firstTrace = () => [
      [
        mk('aws.apigateway', 9, 1, { '_inferred_span.tag_source': 'self' }),
        mk('aws.lambda', 10, 9, { cold_start: 'true', request_id: 'node-req' }),
        mk('aws.lambda.load', 11, 9),
      ],
    ];

    it('waits for a cold start that comes after the trace, then hangs under it', () => {
      const a = agent();
      a.handleTraces(firstTrace(), header);
      expect(a.buffered.spans).toBe(3);
      a.setColdStart({ startNs: ev.T0_NS - 1e9, durationMs: 200, requestId: 'node-req' });
      const spans = flushed(a);
      const cold = spans.find((s) => s.name === 'aws.lambda.cold_start')!;
      expect(cold).toMatchObject({ traceID: '88', parentID: '10', duration: String(200e6) });
      expect(spans.find((s) => s.name === 'aws.lambda.load')).toMatchObject({
        traceID: '88',
        parentID: cold.spanID,
      });
      expect(spans).toHaveLength(4);
    });

    it('keeps the tracer’s parent when no cold start is known by the flush (never an orphan)', () => {
      const a = agent();
      a.handleTraces(firstTrace(), header);
      const spans = flushed(a);
      expect(spans.map((s) => s.name).sort()).toEqual(['aws.apigateway', 'aws.lambda', 'aws.lambda.load']);
      expect(spans.find((s) => s.name === 'aws.lambda.load')!.parentID).toBe('9');
      // A cold start known later still gets its span, under aws.lambda.
      a.setColdStart({ startNs: ev.T0_NS - 1e9, durationMs: 200, requestId: 'node-req' });
      expect(flushed(a).find((s) => s.name === 'aws.lambda.cold_start')).toMatchObject({
        traceID: '88',
        parentID: '10',
      });
    });

    it('keeps the tracer’s parent when the cold start is another request’s', () => {
      const a = agent();
      a.setColdStart({ startNs: ev.T0_NS - 1e9, durationMs: 200, requestId: 'other-req' });
      a.handleTraces(firstTrace(), header);
      const spans = flushed(a);
      expect(spans.some((s) => s.name === 'aws.lambda.cold_start')).toBe(false);
      expect(spans.find((s) => s.name === 'aws.lambda.load')!.parentID).toBe('9');
    });
  });

  it('the tracer placeholder span is dropped and lends its ids to aws.lambda', () => {
    const a = agent();
    a.invocations!.startInvocation({ requestId: 'p', headers: {}, event: {} });
    a.handleTraces(
      [
        [
          {
            service: 's',
            name: 'x',
            resource: 'dd-tracer-serverless-span',
            trace_id: 555n,
            span_id: 556n,
            parent_id: 557n,
            start: 1,
            duration: 1,
            error: 0,
            meta: { request_id: 'p' },
            metrics: {},
            type: '',
          },
        ],
      ],
      tracerHeadersFrom({}),
    );
    expect(a.processor.counters.spansDropped.placeholder).toBe(1);
    a.invocations!.endInvocation({ requestId: 'p', headers: {}, response: {} });
    const [lambda] = flushed(a);
    expect(lambda).toMatchObject({ traceID: '555', spanID: '556', parentID: '557' });
  });
});

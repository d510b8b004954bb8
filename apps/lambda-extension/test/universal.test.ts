// Universal instrumentation through the layer: a function that calls the start/end-invocation hooks
// over HTTP as the Java, .NET and Go tracers do gets the extension's `aws.lambda` span (its ids, its
// parent, its error), the inferred trigger span and the cold start, at the testkit intake.
import { join } from 'node:path';
import { type DatadogIntake, LambdaSandbox, type SpanRecord, startIntake } from '@serverless-agent/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_DIR, buildAndUnzipLayer, triggerEvent as event, freePorts, scratch } from './helpers.js';

interface Ids {
  answered: boolean;
  traceId: string;
  tid: string | null;
  answeredPriority: string | null;
  lambdaSpanId: string;
  childId: string;
  traceStatus: number;
}

let work: ReturnType<typeof scratch>;
let opt: string;
let intake: DatadogIntake;
let sandbox: LambdaSandbox;
beforeAll(async () => {
  work = scratch();
  opt = buildAndUnzipLayer(join(work.dir, 'zip'));
  intake = await startIntake();
  const { env } = await freePorts();
  sandbox = new LambdaSandbox({
    taskRoot: join(APP_DIR, 'test/fixtures/hooks-function'),
    handler: 'index.handler',
    extensionsDir: join(opt, 'extensions'),
    functionName: 'hooks-fn',
    // The first invocation waits for the components to load: slow on a loaded machine.
    timeoutMs: 15_000,
    env: {
      ...env,
      ...intake.agentEnv(),
      DD_SERVERLESS_FLUSH_STRATEGY: 'end',
      DD_CAPTURE_LAMBDA_PAYLOAD: 'true',
      DD_SERVICE: 'hooks-service',
    },
  });
  expect((await sandbox.start()).status).toBe('success');
}, 120_000);
afterAll(async () => {
  await sandbox?.shutdown();
  await intake?.stop();
  work?.cleanup();
});

/** The `platform.start` time (ns) and `platform.runtimeDone` duration (ms) of a request. */
const platformTiming = (sb: LambdaSandbox, requestId: string) => {
  const of = (type: string) =>
    sb.events.find(
      (e) => e.type === type && (e.record as { requestId?: string } | undefined)?.requestId === requestId,
    ) as { time: string; record: { metrics?: { durationMs: number } } } | undefined;
  const start = of('platform.start');
  const done = of('platform.runtimeDone');
  return {
    startNs: BigInt(Date.parse(start!.time)) * 1_000_000n,
    durationMs: done!.record.metrics!.durationMs,
  };
};
const NODE_RUNTIME = `nodejs${process.versions.node.split('.')[0]}.x`;

/** The spans of one trace at the intake, by name (the placeholder never arrives). */
const traceOf = (traceId: string) => {
  const spans = intake.spans((s) => s.traceID === BigInt(traceId));
  const byName = (name: string) => spans.filter((s) => s.name === name);
  const one = (name: string): SpanRecord => {
    const l = byName(name);
    expect(l, name).toHaveLength(1);
    return l[0]!;
  };
  return { spans, byName, one };
};

describe('a tracer calling the hooks over HTTP', () => {
  it('API Gateway (REST) with a Datadog context: the context answered, aws.lambda under aws.apigateway, its ids exact, the cold start under it', async () => {
    const r = await sandbox.invoke(event('api-gateway-rest'));
    expect(r.status).toBe('success');
    const ids = (r.response as { ids: Ids }).ids;
    // The start-invocation answer: the low 64 bits in decimal, the high half in x-datadog-tags.
    expect(ids).toMatchObject({
      answered: true,
      traceId: '4110911582297405551',
      tid: '6b118b3700000000',
      answeredPriority: '2',
      traceStatus: 200,
    });
    // `end`: everything of the invocation is at the intake once it is over.
    const t = traceOf(ids.traceId);
    const gw = t.one('aws.apigateway');
    const lambda = t.one('aws.lambda');
    const child = t.one('checkout.pay');
    const cold = t.one('aws.lambda.cold_start');
    expect(gw.parentID).toBe(797643193680388254n);
    expect(gw.resource).toBe('GET /users/{id}');
    expect(gw.service).toBe('abc123.execute-api.us-east-1.amazonaws.com');
    expect(lambda.spanID).toBe(BigInt(ids.lambdaSpanId));
    expect(lambda.parentID).toBe(gw.spanID);
    expect(child.spanID).toBe(BigInt(ids.childId));
    expect(child.parentID).toBe(lambda.spanID);
    // Beside aws.lambda, under its parent, as the Datadog extension places it (the spec is silent).
    expect(cold.parentID).toBe(lambda.parentID);
    expect(lambda).toMatchObject({
      service: 'hooks-service',
      resource: 'hooks-fn',
      type: 'serverless',
      error: 0,
    });
    expect(lambda.meta).toMatchObject({
      cold_start: 'true',
      request_id: r.requestId,
      functionname: 'hooks-fn',
      'function_trigger.event_source': 'api-gateway',
      'http.status_code': '200',
      'function.request.httpMethod': 'GET',
      'function.response.statusCode': '200',
      // the runtime's AWS_EXECUTION_ENV, read as the Datadog extension reads it
      runtime: NODE_RUNTIME,
    });
    expect(lambda.meta['proactive_initialization']).toBeUndefined();
    expect(lambda.metrics['_sampling_priority_v1']).toBe(2);
    // Timed by Telemetry: from platform.start, for runtimeDone's durationMs.
    const timing = platformTiming(sandbox, r.requestId);
    expect(lambda.start).toBe(timing.startNs);
    expect(Number(lambda.duration) / 1e6).toBeCloseTo(timing.durationMs, 3);
    expect(gw.chunk.priority).toBe(2);
    // Cold start: from the init's start, as long as the init.
    const init = sandbox.events.find((e) => e.type === 'platform.initReport') as
      | { record: { metrics: { durationMs: number } } }
      | undefined;
    expect(Number(cold.duration) / 1e6).toBeCloseTo(init!.record.metrics.durationMs, 0);
    // The 128-bit trace id's high half: on the root, and on the cold start (its chunk may be its own).
    expect(gw.meta['_dd.p.tid']).toBe('6b118b3700000000');
    expect(cold.meta['_dd.p.tid']).toBe('6b118b3700000000');
    expect(cold.traceID).toBe(lambda.traceID);
    // The tracer's placeholder lent its ids and was dropped.
    expect(intake.spans((s) => s.resource === 'dd-tracer-serverless-span')).toEqual([]);
  }, 30_000);

  it('a plain event, the handler throwing: no context to answer, aws.lambda a root in the tracer’s trace, the error from the headers', async () => {
    const r = await sandbox.invoke({ order: 17, control: { fail: true } });
    expect(r.status).toBe('error');
    const message = (r.error as { errorMessage: string }).errorMessage;
    const ids = JSON.parse(message.slice(message.indexOf('{'))) as Ids;
    expect(ids.answered).toBe(false);
    const t = traceOf(ids.traceId);
    const lambda = t.one('aws.lambda');
    expect(lambda.spanID).toBe(BigInt(ids.lambdaSpanId));
    expect(lambda.parentID).toBe(0n);
    expect(lambda.error).toBe(1);
    expect(lambda.meta['error.msg']).toBe('card declined');
    expect(lambda.meta['error.type']).toBe('PaymentError');
    expect(lambda.meta['error.stack']).toContain('card declined');
    expect(lambda.meta['error.stack']).toContain('index.cjs');
    expect(lambda.meta['cold_start']).toBe('false');
    expect(lambda.meta['function.request.order']).toBe('17');
    expect(t.one('checkout.pay').parentID).toBe(lambda.spanID);
    expect(t.byName('aws.lambda.cold_start')).toEqual([]);
  }, 30_000);

  it('API Gateway (HTTP API) without a context: a trace started here and answered, which the tracer joins', async () => {
    const r = await sandbox.invoke(event('api-gateway-http'));
    expect(r.status).toBe('success');
    const ids = (r.response as { ids: Ids }).ids;
    expect(ids.answered).toBe(true);
    expect(ids.tid).toMatch(/^[0-9a-f]{8}00000000$/);
    const t = traceOf(ids.traceId);
    const api = t.one('aws.httpapi');
    const lambda = t.one('aws.lambda');
    expect(api.parentID).toBe(0n);
    expect(api.resource).toBe('POST /orders/{id}');
    expect(lambda.spanID).toBe(BigInt(ids.lambdaSpanId));
    expect(lambda.parentID).toBe(api.spanID);
    expect(t.one('checkout.pay').parentID).toBe(lambda.spanID);
    // Payload capture: the JSON body as fields, secrets redacted.
    expect(lambda.meta['function.request.body.qty']).toBe('1');
    expect(lambda.meta['function.request.body.password']).toBe('redacted');
  }, 30_000);

  for (const priority of [0, 2]) {
    it(`a trace started here (HTTP API, nothing upstream): the tracer’s priority ${priority} and _dd.p tags from end-invocation`, async () => {
      const e = event('api-gateway-http');
      e.control = { priority };
      const r = await sandbox.invoke(e);
      expect(r.status).toBe('success');
      const ids = (r.response as { ids: Ids }).ids;
      expect(ids.answered).toBe(true);
      const t = traceOf(ids.traceId);
      const api = t.one('aws.httpapi');
      const lambda = t.one('aws.lambda');
      expect(lambda.parentID).toBe(api.spanID);
      expect(lambda.metrics['_sampling_priority_v1']).toBe(priority);
      expect(api.metrics['_sampling_priority_v1']).toBe(priority);
      expect(api.chunk.priority).toBe(priority);
      expect(lambda.chunk.priority).toBe(priority);
      // propagation tags on the root
      expect(api.meta['_dd.p.dm']).toBe('-4');
      expect(api.meta['_dd.p.tid']).toBe(ids.tid);
    }, 30_000);
  }

  it('a warm invocation whose hooks name no request: paired with its INVOKE, first in first out', async () => {
    const e = event('api-gateway-rest');
    e.control = { noRequestId: true };
    const r = await sandbox.invoke(e);
    expect(r.status).toBe('success');
    const ids = (r.response as { ids: Ids }).ids;
    const lambda = intake.spans((s) => s.name === 'aws.lambda' && s.spanID === BigInt(ids.lambdaSpanId));
    expect(lambda).toHaveLength(1);
    expect(lambda[0]!.meta['request_id']).toBe(r.requestId);
    expect(lambda[0]!.traceID).toBe(4110911582297405551n);
    expect(lambda[0]!.meta['function.request.httpMethod']).toBe('GET');
    const timing = platformTiming(sandbox, r.requestId);
    expect(lambda[0]!.start).toBe(timing.startNs);
  }, 30_000);

  it('SQS with a Datadog context in the message attributes: aws.sqs under it, aws.lambda under aws.sqs', async () => {
    const r = await sandbox.invoke(event('sqs'));
    expect(r.status).toBe('success');
    const ids = (r.response as { ids: Ids }).ids;
    expect(ids).toMatchObject({ answered: true, traceId: '2684756524522091840', answeredPriority: '1' });
    const t = traceOf(ids.traceId);
    const sqs = t.one('aws.sqs');
    const lambda = t.one('aws.lambda');
    expect(sqs.parentID).toBe(7431398482019833808n);
    expect(sqs.resource).toBe('my-queue');
    expect(lambda.parentID).toBe(sqs.spanID);
    expect(lambda.spanID).toBe(BigInt(ids.lambdaSpanId));
    expect(lambda.meta['function_trigger.event_source']).toBe('sqs');
    expect(lambda.meta['function_trigger.event_source_arn']).toBe(
      'arn:aws:sqs:us-east-1:123456789012:my-queue',
    );
  }, 30_000);

  it('a 5xx response marks aws.lambda and the API Gateway span as errors', async () => {
    const e = event('api-gateway-rest');
    e.control = { statusCode: 503 };
    const r = await sandbox.invoke(e);
    const ids = (r.response as { ids: Ids }).ids;
    const t = traceOf(ids.traceId);
    const lambda = t.byName('aws.lambda').find((s) => s.spanID === BigInt(ids.lambdaSpanId))!;
    expect(lambda.error).toBe(1);
    expect(lambda.meta['http.status_code']).toBe('503');
    const gw = t.byName('aws.apigateway').find((s) => s.spanID === lambda.parentID)!;
    expect(gw.error).toBe(1);
    expect(gw.meta['http.status_code']).toBe('503');
    // Errors counted once each: the thrown one and this one.
    await sandbox.shutdown();
    const errors = intake.distributions('aws.lambda.enhanced.errors');
    expect(errors.reduce((n, d) => n + d.count, 0)).toBe(2);
    // The enhanced metrics carry the runtime the spans carry.
    const invocations = intake.distributions('aws.lambda.enhanced.invocations');
    expect(invocations.length).toBeGreaterThan(0);
    for (const d of invocations) expect(d.tags).toContain(`runtime:${NODE_RUNTIME}`);
    // One aws.lambda per invocation, each the extension's.
    expect(intake.spans('aws.lambda')).toHaveLength(8);
  }, 30_000);
});

/** A sandbox of its own running the hooks function, on free ports, flushing at each invocation's end. */
async function hooksSandbox(options: Partial<ConstructorParameters<typeof LambdaSandbox>[0]>) {
  const { env } = await freePorts();
  return new LambdaSandbox({
    taskRoot: join(APP_DIR, 'test/fixtures/hooks-function'),
    handler: 'index.handler',
    extensionsDir: join(opt, 'extensions'),
    functionName: 'hooks-fn',
    ...options,
    env: { ...env, ...intake.agentEnv(), DD_SERVERLESS_FLUSH_STRATEGY: 'end' },
  });
}

describe('a tracer calling the hooks, its function timing out', () => {
  it('still gets its aws.lambda span, in the caller’s trace, as an error (a warm invocation)', async () => {
    // Long enough for a cold first invocation on a loaded machine; the second one hangs past it.
    const timingOut = await hooksSandbox({ timeoutMs: 5000 });
    try {
      expect((await timingOut.start()).status).toBe('success');
      // Over 10 s between the init and the first invocation: a proactive initialisation (the
      // elapsed time is what is tested here, not a wait for something to happen).
      await new Promise((r) => setTimeout(r, 10_500));
      const warm = await timingOut.invoke({ warm: 'up' });
      expect(warm.status).toBe('success');
      const [first] = await intake.waitForSpans(
        1,
        (s) => s.name === 'aws.lambda' && s.meta['request_id'] === warm.requestId,
        { timeoutMs: 10_000 },
      );
      expect(first!.meta).toMatchObject({ cold_start: 'false', proactive_initialization: 'true' });
      const e = event('api-gateway-rest');
      e.control = { hang: true };
      const r = await timingOut.invoke(e);
      expect(r.status).toBe('timeout');
      const [lambda] = await intake.waitForSpans(
        1,
        (s) => s.name === 'aws.lambda' && s.meta['request_id'] === r.requestId,
        { timeoutMs: 10_000 },
      );
      expect(lambda!.traceID).toBe(4110911582297405551n);
      expect(lambda!.error).toBe(1);
      expect(lambda!.meta['error.msg']).toBe('Datadog detected a Timeout');
      expect(lambda!.meta['error.type']).toBe('Timeout');
      const gw = intake.spans((s) => s.name === 'aws.apigateway' && s.spanID === lambda!.parentID);
      expect(gw).toHaveLength(1);
      expect(gw[0]!.parentID).toBe(797643193680388254n);
      // A crash is no timeout: no end-invocation, and no aws.lambda invented for it (as upstream).
      const crash = await timingOut.invoke({ control: { crash: true } });
      expect(crash.status).not.toBe('success');
      const after = await timingOut.invoke({ after: 'crash' });
      expect(after.status).toBe('success');
      await intake.waitForSpans(
        1,
        (s) => s.name === 'aws.lambda' && s.meta['request_id'] === after.requestId,
        { timeoutMs: 10_000 },
      );
      expect(
        intake.spans((s) => s.meta['request_id'] === crash.requestId && s.name === 'aws.lambda'),
      ).toEqual([]);
    } finally {
      await timingOut.shutdown();
    }
  }, 90_000);
});

describe('a tracer calling the hooks, SnapStart', () => {
  it('a restore: aws.lambda.snapstart_restore beside aws.lambda, in place of the cold start', async () => {
    const snap = await hooksSandbox({ timeoutMs: 15_000, snapStart: true, initializationType: 'snap-start' });
    try {
      expect((await snap.start()).status).toBe('success');
      const r = await snap.invoke(event('api-gateway-rest'));
      expect(r.status).toBe('success');
      const [lambda] = await intake.waitForSpans(
        1,
        (s) => s.name === 'aws.lambda' && s.meta['request_id'] === r.requestId,
        { timeoutMs: 10_000 },
      );
      const [restore] = await intake.waitForSpans(
        1,
        (s) => s.name === 'aws.lambda.snapstart_restore' && s.meta['request_id'] === r.requestId,
        { timeoutMs: 10_000 },
      );
      expect(restore!.parentID).toBe(lambda!.parentID);
      const report = snap.events.find((e) => e.type === 'platform.restoreReport') as
        | { record: { metrics: { durationMs: number } } }
        | undefined;
      expect(Number(restore!.duration) / 1e6).toBeCloseTo(report!.record.metrics.durationMs, 0);
      expect(
        intake.spans((s) => s.name === 'aws.lambda.cold_start' && s.meta['request_id'] === r.requestId),
      ).toEqual([]);
    } finally {
      await snap.shutdown();
    }
  }, 60_000);
});

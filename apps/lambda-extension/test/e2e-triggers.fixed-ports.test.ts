// The real datadog-lambda-js and dd-trace behind the layer, invoked as API Gateway (REST and HTTP
// API), SQS and a plain event: the library's `aws.lambda` span and its inferred trigger span arrive
// with the tracer's exact ids and parents, the extension adds the cold start (with the library's
// `aws.lambda.load` under it) and no `aws.lambda` of its own.
import { join } from 'node:path';
import {
  type DatadogIntake,
  LambdaSandbox,
  mountNamespaceSupported,
  type SpanRecord,
  startIntake,
} from '@serverless-agent/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_DIR, buildAndUnzipLayer, triggerEvent as event, scratch } from './helpers.js';

interface Answer {
  requestId: string;
  traceId: bigint;
  spanId: bigint;
}

let work: ReturnType<typeof scratch>;
let opt: string;
let intake: DatadogIntake;
const answers = new Map<string, Answer>();
let initDurationMs = 0;

beforeAll(async () => {
  if (!mountNamespaceSupported()) return;
  work = scratch();
  opt = buildAndUnzipLayer(join(work.dir, 'zip'));
  intake = await startIntake();
  const sandbox = new LambdaSandbox({
    taskRoot: join(APP_DIR, 'test/fixtures/dd-triggers-function'),
    handler: 'index.handler',
    extensionsDir: join(opt, 'extensions'),
    optDir: opt,
    functionName: 'triggers-fn',
    timeoutMs: 15_000,
    env: {
      ...intake.agentEnv(),
      DD_SERVERLESS_FLUSH_STRATEGY: 'end',
      DD_TRACE_STARTUP_LOGS: 'false',
      DD_TRACE_TELEMETRY_ENABLED: 'false',
      // Every module load becomes an aws.lambda.load / aws.lambda.require span, however quick.
      DD_MIN_COLD_START_DURATION: '0',
    },
  });
  try {
    const init = await sandbox.start();
    expect(init.status).toBe('success');
    for (const name of ['plain', 'api-gateway-rest', 'api-gateway-http', 'sqs']) {
      const r = await sandbox.invoke(name === 'plain' ? { order: 1 } : event(name));
      expect(r.status, name).toBe('success');
      const { ids } = JSON.parse((r.response as { body: string }).body) as {
        ids: { traceId: string; spanId: string };
      };
      answers.set(name, { requestId: r.requestId, traceId: BigInt(ids.traceId), spanId: BigInt(ids.spanId) });
    }
    const report = sandbox.events.find((e) => e.type === 'platform.initReport') as
      | { record: { metrics: { durationMs: number } } }
      | undefined;
    initDurationMs = report?.record.metrics.durationMs ?? Number.NaN;
  } finally {
    // Each invocation's trace may still be on its way when the runtime answers (it then arrives
    // after the thaw): after the shutdown, everything is there.
    await sandbox.shutdown();
  }
}, 180_000);
afterAll(async () => {
  await intake?.stop();
  work?.cleanup();
});

/** The invocation's aws.lambda span, found by the ids dd-trace gave it. */
function lambdaSpanOf(name: string): { answer: Answer; lambda: SpanRecord; trace: SpanRecord[] } {
  const answer = answers.get(name)!;
  const trace = intake.spans((s) => s.traceID === answer.traceId);
  const lambda = trace.find((s) => s.name === 'aws.lambda');
  expect(lambda, `${name}: aws.lambda`).toBeDefined();
  expect(lambda!.spanID).toBe(answer.spanId);
  expect(lambda!.meta['request_id']).toBe(answer.requestId);
  // Its own child, exact.
  expect(only(trace, 'demo.work').parentID).toBe(lambda!.spanID);
  return { answer, lambda: lambda!, trace };
}

function only(trace: SpanRecord[], name: string): SpanRecord {
  const found = trace.filter((s) => s.name === name);
  expect(found, name).toHaveLength(1);
  return found[0]!;
}

describe.runIf(mountNamespaceSupported())('the real datadog-lambda-js and dd-trace, by trigger', () => {
  it('a plain event, cold: aws.lambda a root, the cold start under it, aws.lambda.load under the cold start', () => {
    const { lambda, trace } = lambdaSpanOf('plain');
    expect(lambda.parentID).toBe(0n);
    expect(lambda.meta['cold_start']).toBe('true');
    const colds = intake.spans('aws.lambda.cold_start');
    expect(colds).toHaveLength(1);
    const cold = colds[0]!;
    expect(cold.traceID).toBe(lambda.traceID);
    expect(cold.parentID).toBe(lambda.spanID);
    expect(cold.meta['request_id']).toBe(lambda.meta['request_id']);
    expect(Number(cold.duration) / 1e6).toBeCloseTo(initDurationMs, 0);
    expect(only(trace, 'aws.lambda.load').parentID).toBe(cold.spanID);
    // Every span of the trace hangs under another one of it: nothing lost its parent.
    const ids = new Set(trace.map((s) => s.spanID));
    expect(trace.filter((s) => s.parentID !== 0n && !ids.has(s.parentID)).map((s) => s.name)).toEqual([]);
    expect(trace.filter((s) => s.name === 'aws.lambda.require').length).toBeGreaterThan(0);
  });

  it('API Gateway (REST): aws.apigateway under the caller’s context, aws.lambda under it', () => {
    const { lambda, trace } = lambdaSpanOf('api-gateway-rest');
    expect(lambda.traceID).toBe(4110911582297405551n);
    const gw = only(trace, 'aws.apigateway');
    expect(gw).toMatchObject({ parentID: 797643193680388254n, resource: 'GET /users/{id}' });
    expect(lambda.parentID).toBe(gw.spanID);
    expect(lambda.meta).toMatchObject({
      cold_start: 'false',
      'function_trigger.event_source': 'api-gateway',
      'http.status_code': '200',
    });
    expect(lambda.chunk.priority).toBe(2);
  });

  it('API Gateway (HTTP API) without a context: aws.httpapi starts the trace, aws.lambda under it', () => {
    const { lambda, trace } = lambdaSpanOf('api-gateway-http');
    const api = only(trace, 'aws.httpapi');
    expect(api).toMatchObject({ parentID: 0n, resource: 'POST /orders/{id}' });
    expect(lambda.parentID).toBe(api.spanID);
  });

  it('SQS: the context of the message’s _datadog attribute, aws.sqs under it, aws.lambda under aws.sqs', () => {
    const { lambda, trace } = lambdaSpanOf('sqs');
    expect(lambda.traceID).toBe(2684756524522091840n);
    const sqs = only(trace, 'aws.sqs');
    expect(sqs).toMatchObject({ parentID: 7431398482019833808n, resource: 'my-queue' });
    expect(lambda.parentID).toBe(sqs.spanID);
    expect(lambda.meta['function_trigger.event_source']).toBe('sqs');
  });

  it('the library makes aws.lambda, the extension none: one per invocation', () => {
    const all = intake.spans('aws.lambda');
    expect(all).toHaveLength(4);
    expect(new Set(all.map((s) => s.spanID)).size).toBe(4);
    expect(all.every((s) => s.meta['dd_trace'] === '5.132.0' || s.meta['datadog_lambda'] !== undefined)).toBe(
      true,
    );
    expect(intake.requests({ path: '/api/v0.2/traces' }).every((r) => r.status === 202)).toBe(true);
  });
});

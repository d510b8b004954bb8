// The sends that the End path's flush starts ahead of runtimeDone, on the components themselves:
// counted in sentAhead only when a payload went out, and leaving the trace requests held for the
// cold start to the flush after runtimeDone.
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { type DatadogIntake, startIntake } from '@serverless-agent/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Components, loadComponents } from '../src/components.js';
import { bindEarlyListeners, closeEarlyListeners, type EarlyListeners } from '../src/early.js';

// datadog-lambda-js 12 with dd-trace, the first invocation: its trace carries aws.lambda.load.
const TRACE_1 = readFileSync(new URL('./fixtures/dd-lambda-v12-trace-1.msgpack', import.meta.url));
const RID_1 = '00000000-0000-4000-8000-000000000001';
// Its second invocation's trace.
const TRACE_2 = readFileSync(new URL('./fixtures/dd-lambda-v12-trace-2.msgpack', import.meta.url));
const RID_2 = '00000000-0000-4000-8000-000000000002';
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

let intake: DatadogIntake;
let early: EarlyListeners | undefined;
let components: Components | undefined;
beforeAll(async () => {
  intake = await startIntake();
});
afterEach(async () => {
  await components?.close();
  if (early) await closeEarlyListeners(early);
  components = undefined;
  early = undefined;
  intake.clear();
});
afterAll(async () => {
  await intake?.stop();
});

async function load(): Promise<{ c: Components; early: EarlyListeners }> {
  early = await bindEarlyListeners({ dogstatsd: 0, traces: 0, hooks: 0, telemetry: 0 });
  const lifecycle = { processor: { outOfMemoryDetected() {} }, subscribe: () => () => {} };
  const env = {
    ...intake.agentEnv(),
    AWS_LAMBDA_FUNCTION_NAME: 'my-function',
    AWS_REGION: 'us-east-1',
    DD_ENHANCED_METRICS: 'false',
  };
  components = await loadComponents(
    env,
    { extensionId: 'x', accountId: '123456789012', events: [] } as never,
    early,
    lifecycle as never,
    quiet,
    { datagrams: 0, datagramBytes: 0, droppedPayloads: 0, droppedItems: 0 },
  );
  return { c: components, early };
}

/** As a tracer on the hooks ends its invocation: the early sends start. */
const endInvocation = (c: Components, requestId: string) =>
  c.onLifecycleEvent({ type: 'universalEnd', requestId, time: Date.now(), response: {}, headers: {} });

const sentAhead = (c: Components) => (c.stats() as { flush: { sentAhead: number } }).flush.sentAhead;

async function until(check: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function postTrace(port: number, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'PUT',
        path: '/v0.4/traces',
        headers: {
          'content-type': 'application/msgpack',
          'datadog-meta-lang': 'nodejs',
          'datadog-meta-tracer-version': '5.132.0',
          'x-datadog-trace-count': '1',
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const bufferedSpans = (c: Components) => (c.stats() as { buffered: { spans: number } }).buffered.spans;

/** Sends a tracer's request to the extension's trace port and waits until its spans are buffered. */
async function bufferTrace(c: Components, port: number, body: Buffer): Promise<void> {
  expect(await postTrace(port, body)).toBe(200);
  await until(() => bufferedSpans(c) > 0, 'the trace');
}

describe('the sends ahead of runtimeDone', () => {
  it('are counted in sentAhead only when a payload went out', async () => {
    const { c, early } = await load();
    // Nothing buffered: the early start sends nothing, and is not counted.
    c.flushAheadOf('rid-empty');
    endInvocation(c, 'rid-empty');
    await new Promise((r) => setImmediate(r));
    await c.flushAll(false);
    expect(sentAhead(c)).toBe(0);
    // A metric point buffered: it goes ahead, counted once.
    const udp = (await import('node:dgram')).createSocket('udp4');
    await new Promise((r) => udp.send('ahead.count:1|c', early.ports.dogstatsd, '127.0.0.1', r));
    udp.close();
    await until(
      () => (c.stats() as { metrics: { metricSamples: number } }).metrics.metricSamples > 0,
      'the point',
    );
    c.flushAheadOf('rid-metric');
    endInvocation(c, 'rid-metric');
    await until(() => sentAhead(c) > 0, 'the early start');
    await c.flushAll(false);
    expect(sentAhead(c)).toBe(1);
    expect(intake.metrics('ahead.count')).not.toHaveLength(0);
  }, 30_000);

  it('leave a trace request held for the cold start to the flush after runtimeDone', async () => {
    const { c, early } = await load();
    await bufferTrace(c, early.ports.traces, TRACE_1);
    c.flushAheadOf(RID_1);
    endInvocation(c, RID_1);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    // Still held, nothing of it at the intake: the init report may yet give aws.lambda.load its parent.
    expect(intake.spans('aws.lambda.load')).toHaveLength(0);
    expect(bufferedSpans(c)).toBeGreaterThan(0);
    await c.flushAll(false);
    expect(intake.spans('aws.lambda.load')).toHaveLength(1);
  }, 30_000);

  it('start for a trace buffered before the flush was set to go ahead of it', async () => {
    const { c, early } = await load();
    // As on the first invocation: the trace arrives while onInvoke still waits for the components.
    await bufferTrace(c, early.ports.traces, TRACE_2);
    c.flushAheadOf(RID_2);
    await until(() => intake.spans('aws.lambda').length > 0, 'the trace at the intake');
    expect(sentAhead(c)).toBe(1);
    await c.flushAll(false);
    expect(intake.spans('aws.lambda')).toHaveLength(1);
  }, 30_000);
});

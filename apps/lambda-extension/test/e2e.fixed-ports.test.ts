// The layer with the real datadog-lambda-js and dd-trace: the function's runtime sees the layer at
// /opt (a private mount namespace), so both libraries find /opt/extensions/datadog-agent and talk
// to it on the fixed ports, as on Lambda.
import { join } from 'node:path';
import {
  type DatadogIntake,
  LambdaSandbox,
  mountNamespaceSupported,
  startIntake,
} from '@serverless-agent/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { APP_DIR, buildAndUnzipLayer, scratch } from './helpers.js';

const FUNCTION_DIR = join(APP_DIR, 'test/fixtures/dd-function');

let work: ReturnType<typeof scratch>;
let opt: string;
let intake: DatadogIntake;
let sandbox: LambdaSandbox | undefined;
beforeAll(async () => {
  work = scratch();
  opt = buildAndUnzipLayer(join(work.dir, 'zip'));
  intake = await startIntake();
}, 120_000);
afterEach(async () => {
  await sandbox?.shutdown();
  sandbox = undefined;
  intake.clear();
});
afterAll(async () => {
  await intake?.stop();
  work?.cleanup();
});

// The Lambda layout nests the line: `message: { message, lambda: { arn, request_id } }`.
const message = (l: unknown) => {
  const m = (l as { message?: unknown }).message;
  if (typeof m === 'string') return m;
  const inner = (m as { message?: unknown } | undefined)?.message;
  return typeof inner === 'string' ? inner : JSON.stringify(m);
};

describe.runIf(mountNamespaceSupported())('with datadog-lambda-js and dd-trace', () => {
  it('with DD_SERVERLESS_FLUSH_STRATEGY=end, the invocation’s spans and logs are at the intake before the freeze', async () => {
    sandbox = new LambdaSandbox({
      taskRoot: FUNCTION_DIR,
      handler: 'index.handler',
      extensionsDir: join(opt, 'extensions'),
      optDir: opt,
      functionName: 'e2e-fn',
      env: {
        ...intake.agentEnv(),
        DD_SERVERLESS_FLUSH_STRATEGY: 'end',
        DD_SERVICE: 'e2e-service',
        DD_TRACE_STARTUP_LOGS: 'false',
        DD_TRACE_TELEMETRY_ENABLED: 'false',
      },
    });
    expect((await sandbox.start()).status).toBe('success');
    for (let n = 0; n < 3; n++) {
      const r = await sandbox.invoke({ n, workMs: 2 });
      expect(r.status).toBe('success');
      // Back on `next` means flushed: no waiting here. The tracer's request for this invocation may
      // still be in flight when the runtime answers (it then arrives after the thaw), so only the
      // earlier invocations' spans are certain.
      expect(intake.spans('demo.work').length).toBeGreaterThanOrEqual(n);
      const mine = intake.logs((l) => message(l).includes(`worked 2 ms for invocation ${n}`));
      expect(mine).toHaveLength(1);
      expect(JSON.stringify(mine[0])).toContain(r.requestId);
    }
    await sandbox.shutdown();
    sandbox = undefined;
    const lambdaSpans = intake.spans('aws.lambda');
    expect(lambdaSpans).toHaveLength(3);
    expect(lambdaSpans.every((s) => s.meta['functionname'] === 'e2e-fn')).toBe(true);
    const work = intake.spans('demo.work');
    expect(work).toHaveLength(3);
    // Each demo.work span is the child of its invocation's aws.lambda span, ids exact.
    for (const w of work) {
      const parent = lambdaSpans.find((l) => l.spanID === w.parentID);
      expect(parent?.traceID).toBe(w.traceID);
    }
    expect(intake.requests({ path: '/api/v0.2/traces' }).every((r) => r.status === 202)).toBe(true);
    // The runtime's own calls to the Runtime API (next, response), which dd-trace traces, are dropped:
    // only the function's spans arrive.
    const own = intake.spans().filter((s) => /\/runtime\/invocation\//.test(s.meta['http.url'] ?? ''));
    expect(own.map((s) => s.meta['http.url'])).toEqual([]);
    expect(intake.spans('http.request')).toEqual([]);

    // The function's distribution metric, through DogStatsD: one point per invocation, its tags and
    // the function's, and the extension's version.
    const custom = intake.distributions('demo.work.duration');
    expect(custom.reduce((n, d) => n + d.count, 0)).toBe(3);
    expect(custom.reduce((n, d) => n + d.sum, 0)).toBeCloseTo(6, 5);
    for (const d of custom) {
      expect(d.tags).toEqual(
        expect.arrayContaining(['route:demo', 'functionname:e2e-fn', 'dd_extension_version:0.1.0']),
      );
    }
    const invocations = intake.distributions('aws.lambda.enhanced.invocations');
    expect(invocations.reduce((n, d) => n + d.count, 0)).toBe(3);
    expect(invocations.some((d) => d.tags.includes('cold_start:true'))).toBe(true);
    expect(intake.distributions('aws.lambda.enhanced.duration').reduce((n, d) => n + d.count, 0)).toBe(3);
    const all = intake.logs().map(message);
    expect(all.filter((m) => m.startsWith('START RequestId:'))).toHaveLength(3);
    expect(all.filter((m) => m.startsWith('END RequestId:'))).toHaveLength(3);
    expect(all.filter((m) => m.startsWith('REPORT RequestId:'))).toHaveLength(3);
  }, 90_000);
});

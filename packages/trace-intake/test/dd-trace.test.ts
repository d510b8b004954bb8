// The real dd-trace (and datadog-lambda-js) in child processes, sending to our receiver; what we
// encode for Datadog is decoded with an independent schema and its ids compared bit for bit.
import { afterEach, describe, expect, it } from 'vitest';
import { allSpans, type DecodedSpan, decodeAgentPayload } from './helpers/agent-payload-schema.js';
import { type RunningApp, startApp, waitFor } from './helpers/child.js';
import { startIntake, type TestIntake } from './helpers/intake.js';

interface Made {
  name: string;
  traceId: string;
  traceId128: string;
  spanId: string;
  parentId: string;
}

let intake: TestIntake | undefined;
let app: RunningApp | undefined;
afterEach(async () => {
  await app?.stop();
  await intake?.close();
  app = undefined;
  intake = undefined;
});

function flushSpans(i: TestIntake): DecodedSpan[] {
  const out = i.agent.flush(true).filter((p) => p.kind === 'traces');
  return out.flatMap((p) => allSpans(decodeAgentPayload(p.body)));
}

function expectSameIds(made: Made[], spans: DecodedSpan[]): void {
  for (const m of made.filter((x) => x.name !== 'http.request')) {
    const s = spans.find((x) => x.spanID === m.spanId);
    expect(s, `span ${m.name} ${m.spanId}`).toBeDefined();
    expect(s!.traceID).toBe(m.traceId);
    expect(s!.parentID).toBe(m.parentId);
  }
  // the high 64 bits of the 128-bit trace id travel in _dd.p.tid on the chunk's first span
  const roots = spans.filter((s) => s.meta['_dd.p.tid'] !== undefined);
  expect(roots.length).toBeGreaterThan(0);
  for (const r of roots) {
    const m = made.find((x) => x.spanId === r.spanID)!;
    expect(r.meta['_dd.p.tid']! + BigInt(r.traceID).toString(16).padStart(16, '0')).toBe(m.traceId128);
  }
}

const modes = [
  { label: 'plain mode, v0.4', env: { DD_TRACE_FLUSH_INTERVAL: '0' }, path: '/v0.4/traces' },
  {
    label: 'plain mode, v0.5',
    env: { DD_TRACE_FLUSH_INTERVAL: '0', DD_TRACE_AGENT_PROTOCOL_VERSION: '0.5' },
    path: '/v0.5/traces',
  },
  {
    label: 'Lambda mode, v0.4',
    env: { AWS_LAMBDA_FUNCTION_NAME: 'my-function', DD_TRACE_EXPERIMENTAL_EXPORTER: 'agent' },
    path: '/v0.4/traces',
  },
  {
    label: 'Lambda mode, v0.5',
    env: {
      AWS_LAMBDA_FUNCTION_NAME: 'my-function',
      DD_TRACE_EXPERIMENTAL_EXPORTER: 'agent',
      DD_TRACE_AGENT_PROTOCOL_VERSION: '0.5',
    },
    path: '/v0.5/traces',
  },
];

describe('real dd-trace → receiver → AgentPayload', () => {
  for (const mode of modes) {
    it(`keeps every id bit for bit (${mode.label})`, async () => {
      intake = await startIntake(
        { DD_SERVICE: 'svc-a', DD_ENV: 'test' },
        { tags: { functionname: 'my-function' } },
      );
      app = startApp('dd-trace-app.cjs', {
        ...mode.env,
        DD_TRACE_AGENT_PORT: String(intake.port),
        DD_AGENT_HOST: '127.0.0.1',
        DD_INSTRUMENTATION_TELEMETRY_ENABLED: 'false',
        DD_REMOTE_CONFIGURATION_ENABLED: 'false',
        APP_TRACES: '3',
      });
      const made = (await app.output) as Made[];
      expect(made).toHaveLength(12);
      await waitFor(() => intake!.agent.buffered.spans >= 9, 20_000, 'spans from dd-trace');
      expect(intake.paths).toContain(mode.path);
      const spans = flushSpans(intake);
      expectSameIds(made, spans);
      // the tracer's call to the extension is dropped, the SQL is obfuscated, Lambda tags are set
      expect(spans.find((s) => s.name === 'http.request')).toBeUndefined();
      expect(intake.agent.processor.counters.spansDropped.internal).toBe(3);
      const sql = spans.find((s) => s.name === 'pg.query')!;
      expect(sql.resource).toBe('SELECT * FROM users WHERE id = ? AND name = ?');
      for (const s of spans) {
        expect(s.meta['_dd.origin']).toBe('lambda');
        expect(s.meta['functionname']).toBe('my-function');
        expect(s.meta['_dd.compute_stats']).toBe('1');
      }
      const parent = spans.find((s) => s.name === 'parent.op')!;
      expect(parent.metrics['custom.num']).toBe(3.5);
      expect(parent.meta['http.status_code']).toBe('200');
      expect(parent.metrics['_top_level']).toBe(1);
      expect(Number(parent.start)).toBeGreaterThan(1.6e18);
    });
  }

  it('receives a handler wrapped by the real datadog-lambda-js, with the event context and an error', async () => {
    intake = await startIntake({ DD_SERVICE: 'my-function' }, { tags: { functionname: 'my-function' } });
    app = startApp('lambda-handler-app.cjs', {
      DD_TRACE_EXPERIMENTAL_EXPORTER: 'agent',
      DD_TRACE_AGENT_PORT: String(intake.port),
      DD_MIN_COLD_START_DURATION: '0',
      APP_THROW: '1',
    });
    const seen = (await app.output) as { traceId: string; spanId: string; childSpanId: string }[];
    await waitFor(() => (intake!.agent.buffered.spans ?? 0) >= 3, 20_000, 'spans from datadog-lambda-js');
    const spans = flushSpans(intake);
    const inv = spans.find((s) => s.name === 'aws.lambda')!;
    expect(inv).toBeDefined();
    // the trace continues the one in the API Gateway event headers
    expect(inv.traceID).toBe('4110911582297405551');
    expect(inv.traceID).toBe(seen[0]!.traceId);
    expect(inv.spanID).toBe(seen[0]!.spanId);
    expect(inv.error).toBe(1);
    expect(inv.meta['request_id']).toBe('00000000-0000-4000-8000-000000000001');
    const child = spans.find((s) => s.name === 'my.child.op')!;
    expect(child.spanID).toBe(seen[0]!.childSpanId);
    expect(child.parentID).toBe(inv.spanID);
    const apigw = spans.find((s) => s.name === 'aws.apigateway');
    expect(apigw?.parentID).toBe('797643193680388254');
    expect(inv.parentID).toBe(apigw!.spanID);
  });
});

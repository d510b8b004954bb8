// What we encode, posted to the testkit's fake Datadog intake (which decodes and validates every
// payload): the span ids it reads must be the ones the real tracer made, bit for bit.
import { gzipSync } from 'node:zlib';
import { type DatadogIntake, startIntake as startDatadogIntake } from '@serverless-agent/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { fromEnv, type OutgoingPayload, TraceAgent, tracerHeadersFrom } from '../src/index.js';
import { type RunningApp, startApp, waitFor } from './helpers/child.js';
import { startIntake, type TestIntake } from './helpers/intake.js';

let dd: DatadogIntake | undefined;
let intake: TestIntake | undefined;
let app: RunningApp | undefined;
afterEach(async () => {
  await app?.stop();
  await intake?.close();
  await dd?.stop();
  app = intake = dd = undefined;
});

const PATHS: Record<string, string> = { traces: '/api/v0.2/traces', stats: '/api/v0.2/stats' };

async function post(p: OutgoingPayload): Promise<number> {
  const res = await fetch(dd!.url + PATHS[p.kind]!, {
    method: 'POST',
    body: gzipSync(p.body),
    headers: {
      ...p.headers,
      'Content-Type': p.contentType,
      'Content-Encoding': 'gzip',
      'DD-API-KEY': dd!.apiKey,
    },
  });
  await res.arrayBuffer();
  return res.status;
}

describe('the testkit intake reads what we send', () => {
  for (const version of ['0.4', '0.5']) {
    it(`dd-trace in Lambda mode over v${version}: ids match the tracer's`, async () => {
      dd = await startDatadogIntake();
      intake = await startIntake({ DD_SERVICE: 'svc-a' });
      app = startApp('dd-trace-app.cjs', {
        AWS_LAMBDA_FUNCTION_NAME: 'my-function',
        DD_TRACE_EXPERIMENTAL_EXPORTER: 'agent',
        DD_TRACE_AGENT_PROTOCOL_VERSION: version,
        DD_TRACE_AGENT_PORT: String(intake.port),
        APP_TRACES: '2',
      });
      const made = (await app.output) as {
        name: string;
        traceId: string;
        traceId128: string;
        spanId: string;
        parentId: string;
      }[];
      await waitFor(() => intake!.agent.buffered.spans >= 6, 20_000, 'spans');
      const out = intake.agent.flush(true);
      for (const p of out) expect(await post(p)).toBeLessThan(300);
      const spans = dd.spans();
      expect(spans).toHaveLength(6);
      for (const m of made.filter((x) => x.name !== 'http.request')) {
        const s = spans.find((x) => x.spanID === BigInt(m.spanId))!;
        expect(s, m.name).toBeDefined();
        expect(s.traceID).toBe(BigInt(m.traceId));
        expect(s.parentID).toBe(BigInt(m.parentId));
        if (s.meta['_dd.p.tid'])
          expect(s.meta['_dd.p.tid'] + s.traceID.toString(16).padStart(16, '0')).toBe(m.traceId128);
      }
      expect(spans[0]!.tracer.languageName).toBe('nodejs');
      expect(spans[0]!.chunk.origin).toBe('lambda');
    });
  }

  it('stats computed in the extension pass the intake’s validation', async () => {
    dd = await startDatadogIntake();
    const T = 1_700_000_000_000_000_000;
    const agent = new TraceAgent({
      ...fromEnv({ DD_LAMBDA_EXTENSION_COMPUTE_STATS: 'true', DD_ENV: 'prod' }),
      nowNs: () => T + 60e9,
    });
    const span = (id: number, error: number) => ({
      service: 'svc',
      name: 'web.request',
      resource: 'GET /a',
      trace_id: 1n << 62n,
      span_id: BigInt(id),
      parent_id: 0,
      start: BigInt(T),
      duration: 1_000_000 * id,
      error,
      meta: { 'span.kind': 'server', 'http.status_code': '200' },
      metrics: { _sampling_priority_v1: 1 },
      type: 'web',
    });
    agent.handleTraces(
      [[span(1, 0)], [span(2, 0)], [span(3, 1)]],
      tracerHeadersFrom({ 'datadog-meta-lang': 'go' }),
    );
    for (const p of agent.flush()) expect(await post(p)).toBeLessThan(300);
    const stats = dd.stats();
    expect(stats).toHaveLength(1);
    expect(stats[0]!.group).toMatchObject({
      Service: 'svc',
      Resource: 'GET /a',
      HTTPStatusCode: 200,
      Hits: 3,
      Errors: 1,
      TopLevelHits: 3,
    });
    expect(stats[0]!.okSketch).toBeDefined();
    expect(stats[0]!.agent.ClientComputed).toBe(false);
    expect(dd.spans()).toHaveLength(3);
  });
});

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { PROXY_PATH_HEADER } from '../src/index.js';
import { allSpans, decodeAgentPayload } from './helpers/agent-payload-schema.js';
import { startIntake, type TestIntake } from './helpers/intake.js';
import { Bytes } from './helpers/mp.js';

const fixture = (dir: string, file: string) =>
  readFileSync(new URL(`./fixtures/${dir}/${file}`, import.meta.url));
const DD_HEADERS = {
  'content-type': 'application/msgpack',
  'datadog-meta-lang': 'nodejs',
  'datadog-meta-lang-version': 'v20.20.2',
  'datadog-meta-lang-interpreter': 'v8',
  'datadog-meta-tracer-version': '5.132.0',
  'x-datadog-trace-count': '1',
};

let intake: TestIntake | undefined;
afterEach(async () => {
  await intake?.close();
  intake = undefined;
});

async function send(
  path: string,
  body: Uint8Array | string,
  method = 'PUT',
  headers: Record<string, string> = DD_HEADERS,
) {
  const res = await fetch(intake!.url + path, { method, body: body as BodyInit, headers });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

describe('trace endpoints', () => {
  it('answers v0.4 PUT and POST with rate_by_service and the agent headers', async () => {
    intake = await startIntake();
    for (const method of ['PUT', 'POST']) {
      const r = await send('/v0.4/traces', fixture('dd-trace-plain', 'trace-1.msgpack'), method);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/application\/json/);
      expect(JSON.parse(r.text)).toEqual({ rate_by_service: { 'service:,env:': 1 } });
      expect(r.headers.get('datadog-agent-version')).toBe('0.1.0');
    }
    const info = await fetch(`${intake.url}/info`);
    const infoText = await info.text();
    expect(info.headers.get('datadog-agent-state')).toBe(createHash('sha256').update(infoText).digest('hex'));
    // the second copy of the same spans is a duplicate
    expect(intake.agent.buffered.spans).toBe(2);
    expect(intake.agent.processor.counters.spansDropped.duplicate).toBe(2);
  });

  it('answers v0.3 with OK and decodes its msgpack and JSON bodies', async () => {
    intake = await startIntake();
    const r = await send('/v0.3/traces', fixture('dd-trace-plain', 'trace-1.msgpack'));
    expect(r).toMatchObject({ status: 200, text: 'OK\n' });
    const json =
      '[[{"trace_id":12345678901234567890,"span_id":1,"parent_id":0,"name":"n","service":"s","resource":"r","start":1700000000000000000,"duration":5}]]';
    const j = await send('/v0.4/traces', json, 'POST', { 'content-type': 'application/json' });
    expect(j.status).toBe(200);
    const spans = intake.agent.flush().flatMap((p) => allSpans(decodeAgentPayload(p.body)));
    expect(spans.map((s) => s.traceID)).toContain('12345678901234567890');
  });

  it('accepts v0.5 and hands the tracer metadata to the payload', async () => {
    intake = await startIntake();
    const r = await send('/v0.5/traces', fixture('dd-trace-v05', 'trace-1.msgpack'));
    expect(r.status).toBe(200);
    const [p] = intake.agent.flush();
    expect(p!.headers).toMatchObject({
      'Datadog-Meta-Lang': 'nodejs',
      'Datadog-Meta-Tracer-Version': '5.132.0',
      'X-Datadog-Reported-Languages': 'nodejs',
    });
    const d = decodeAgentPayload(p!.body);
    expect(d.tracerPayloads[0]).toMatchObject({
      languageName: 'nodejs',
      languageVersion: 'v20.20.2',
      tracerVersion: '5.132.0',
    });
    expect(allSpans(d)[0]!.traceID).toBe('5676012833334100122');
  });

  it('answers malformed bodies with 400, counts them, and keeps serving', async () => {
    intake = await startIntake();
    const bad = [
      ['/v0.4/traces', Uint8Array.from([0xc1, 0x00])],
      ['/v0.4/traces', new Bytes().map(1).str('a').u(1, 0).done()],
      ['/v0.5/traces', new Bytes().arr(3).done()],
      ['/v0.5/traces', fixture('dd-trace-plain', 'trace-1.msgpack')],
      ['/v0.4/traces', fixture('dd-trace-plain', 'trace-1.msgpack').subarray(0, 500)],
    ] as const;
    for (const [path, body] of bad) expect((await send(path, body)).status).toBe(400);
    expect((await send('/v0.4/traces', '[[{', 'PUT', { 'content-type': 'application/json' })).status).toBe(
      400,
    );
    expect(intake.agent.counters.decodeErrors).toBe(6);
    expect((await send('/v0.4/traces', fixture('dd-trace-plain', 'trace-1.msgpack'))).status).toBe(200);
  });

  it('answers bodies over the limit with 413 (declared or streamed), and counts them', async () => {
    intake = await startIntake({}, {}, { maxTraceBodyBytes: 1024, maxOtherBodyBytes: 512 });
    const big = new Uint8Array(4096);
    expect((await send('/v0.4/traces', big)).status).toBe(413);
    expect((await send('/v0.6/stats', new Uint8Array(1024))).status).toBe(413);
    // chunked, no content-length: the limit applies as the body streams in
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        `${intake!.url}/v0.5/traces`,
        { method: 'PUT', headers: { 'content-type': 'application/msgpack' } },
        (res) => {
          res.resume();
          resolve(res.statusCode!);
        },
      );
      req.on('error', reject);
      for (let i = 0; i < 8; i++) req.write(Buffer.alloc(512));
      req.end();
    });
    expect(status).toBe(413);
    expect(intake.agent.counters.tooLarge).toBe(3);
    expect(
      (await send('/v0.4/traces', fixture('dd-trace-plain', 'trace-1.msgpack').subarray(0, 0))).status,
    ).toBe(200);
  });

  it('accepts a body without a content type, and an empty body', async () => {
    intake = await startIntake();
    const { request: req } = await import('node:http');
    const body = fixture('dd-trace-plain', 'trace-1.msgpack');
    const status = await new Promise<number>((resolve, reject) => {
      const r = req(
        `${intake!.url}/v0.4/traces`,
        { method: 'PUT', headers: { 'content-length': body.length } },
        (res) => {
          res.resume();
          resolve(res.statusCode!);
        },
      );
      r.on('error', reject);
      r.end(body);
    });
    expect(status).toBe(200);
    expect(intake.agent.buffered.spans).toBe(2);
    expect((await fetch(`${intake.url}/v0.5/traces`, { method: 'PUT' })).status).toBe(400);
    expect((await fetch(`${intake.url}/v0.4/traces`, { method: 'PUT' })).status).toBe(200);
  });

  it('unknown routes are 404, GET on traces is not served', async () => {
    intake = await startIntake();
    expect((await fetch(`${intake.url}/v0.7/traces`, { method: 'PUT', body: 'x' })).status).toBe(404);
    expect((await fetch(`${intake.url}/v0.4/traces`)).status).toBe(404);
  });
});

describe('/info, stats and proxies', () => {
  it('lists the endpoints we serve', async () => {
    intake = await startIntake({ DD_ENV: 'prod' });
    for (const method of ['GET', 'POST', 'PUT']) {
      const r = await fetch(`${intake.url}/info`, { method });
      expect(r.status).toBe(200);
      const info = await r.json();
      expect(info.endpoints).toEqual(
        expect.arrayContaining([
          '/v0.4/traces',
          '/v0.5/traces',
          '/v0.6/stats',
          '/v0.1/pipeline_stats',
          '/profiling/v1/input',
          '/evp_proxy/v2/api/v2/llmobs',
          '/debugger/v1/input',
          '/debugger/v2/input',
          '/debugger/v1/diagnostics',
          '/info',
        ]),
      );
      expect(info.endpoints).toHaveLength(12);
      expect(info.endpoints).not.toContain('/telemetry/proxy/api/v2/apmtelemetry');
      expect(info.client_drop_p0s).toBe(false);
      expect(info.config.default_env).toBe('prod');
    }
  });

  it('passes tracer stats on as ClientComputed StatsPayload', async () => {
    intake = await startIntake();
    const body = new Bytes()
      .map(5)
      .str('Hostname')
      .str('')
      .str('Env')
      .str('prod')
      .str('Version')
      .str('1.0')
      .str('Sequence')
      .u(3, 0)
      .str('Stats')
      .arr(1)
      .map(3)
      .str('Start')
      .u(1700000000000000000n, 8)
      .str('Duration')
      .u(10_000_000_000n, 8)
      .str('Stats')
      .arr(1)
      .map(4)
      .str('Service')
      .str('svc')
      .str('Name')
      .str('op')
      .str('Hits')
      .u(5, 0)
      .str('OkSummary')
      .bin([1, 2, 3])
      .done();
    const r = await send('/v0.6/stats', body);
    expect(r.status).toBe(200);
    expect(r.text).toBe('');
    const out = intake.agent.flush().filter((p) => p.kind === 'stats');
    expect(out).toHaveLength(1);
    const { unpack } = await import('msgpackr');
    const decoded = unpack(out[0]!.body);
    expect(decoded.ClientComputed).toBe(true);
    expect(decoded.Stats[0].Env).toBe('prod');
    expect(decoded.Stats[0].Stats[0].Start).toBe(1700000000000000000n);
    expect(decoded.Stats[0].Stats[0].Stats[0]).toMatchObject({ Service: 'svc', Name: 'op', Hits: 5 });
    expect([...decoded.Stats[0].Stats[0].Stats[0].OkSummary]).toEqual([1, 2, 3]);
    expect((await send('/v0.6/stats', Uint8Array.from([0x93, 1, 2, 3]))).status).toBe(400);
  });

  it('forwards each proxy route as an OutgoingPayload with its intake path and the function tags', async () => {
    intake = await startIntake();
    const routes = [
      ['/v0.1/pipeline_stats', 'pipeline_stats', '/api/v0.1/pipeline_stats'],
      ['/profiling/v1/input', 'profiling', '/api/v2/profile'],
      ['/evp_proxy/v2/api/v2/llmobs', 'llmobs', '/api/v2/llmobs'],
      [
        '/evp_proxy/v2/api/intake/llm-obs/v1/eval-metric',
        'llmobs_eval',
        '/api/intake/llm-obs/v1/eval-metric',
      ],
      [
        '/evp_proxy/v2/api/intake/llm-obs/v2/eval-metric',
        'llmobs_eval',
        '/api/intake/llm-obs/v2/eval-metric',
      ],
      ['/debugger/v1/input', 'debugger_logs', '/api/v2/logs'],
      ['/debugger/v2/input', 'debugger', '/api/v2/debugger'],
      ['/debugger/v1/diagnostics', 'debugger', '/api/v2/debugger'],
      ['/telemetry/proxy/api/v2/apmtelemetry', 'apm_telemetry', '/api/v2/apmtelemetry'],
    ];
    for (const [path] of routes) {
      const r = await fetch(intake.url + path!, {
        method: 'POST',
        body: '{"x":1}',
        headers: { 'content-type': 'application/json', 'dd-telemetry-request-type': 'app-started' },
      });
      expect(r.status, path).toBeLessThan(300);
    }
    expect(intake.proxied).toHaveLength(routes.length);
    routes.forEach(([, kind, intakePath], i) => {
      const p = intake!.proxied[i]!;
      expect(p.kind).toBe(kind);
      expect(p.headers![PROXY_PATH_HEADER]).toBe(intakePath);
      expect(p.headers!['X-Datadog-Additional-Tags']).toBe('functionname:my-function');
      expect(p.headers!['dd-telemetry-request-type']).toBe('app-started');
      expect(p.headers!['host']).toBeUndefined();
      expect(p.contentType).toBe('application/json');
      expect(Buffer.from(p.body).toString()).toBe('{"x":1}');
    });
  });
});

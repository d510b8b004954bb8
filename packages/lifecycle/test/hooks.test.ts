import { readFileSync } from 'node:fs';
import { type IncomingHttpHeaders, request } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type ContextExtractor,
  decodeHeaderValue,
  type EnhancedMetricSample,
  errorFromHeaders,
  HooksServer,
  type HooksServerOptions,
  InvocationProcessor,
  type LifecycleEvent,
  spanContextFromHeaders,
} from '../src/index.js';
import { post } from './helpers/lambda-api.js';

const fixtures = JSON.parse(
  readFileSync(new URL('./fixtures/universal-instrumentation.json', import.meta.url), 'utf8'),
);
const captured = readFileSync(new URL('./fixtures/hooks-capture.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l));

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

/** Stands in for trace-intake's extractor: Datadog headers of the trigger event. */
const extractor: ContextExtractor = (event) => {
  const headers = (event as { headers?: Record<string, string> }).headers;
  if (!headers) return undefined;
  const lower: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) lower[k.toLowerCase()] = v;
  return spanContextFromHeaders(lower);
};

async function setup(opts: Partial<HooksServerOptions> = {}) {
  const samples: EnhancedMetricSample[] = [];
  const events: LifecycleEvent[] = [];
  const warnings: string[] = [];
  const processor = new InvocationProcessor({ submit: (s) => samples.push(s), procEnhancedMetrics: false });
  processor.subscribe((e) => events.push(e));
  const hooks = new HooksServer(processor, {
    port: 0,
    extractContext: extractor,
    logger: { debug() {}, info() {}, warn: (m) => warnings.push(m), error: (m) => warnings.push(m) },
    ...opts,
  });
  closers.push(() => hooks.close());
  const port = await hooks.start();
  return { processor, hooks, port, samples, events, warnings };
}

const invoke = (id: string) => ({
  eventType: 'INVOKE' as const,
  requestId: id,
  deadlineMs: Date.now() + 30_000,
  invokedFunctionArn: 'arn',
});

describe('/lambda/start-invocation', () => {
  it('answers 200 {} with the trace context of the event in x-datadog-* headers', async () => {
    const t = await setup();
    t.processor.onInvoke(invoke('00000000-0000-4000-8000-000000000001'));
    const res = await post(
      t.port,
      fixtures.start.url,
      JSON.stringify(fixtures.start.body),
      fixtures.start.headers,
    );
    expect(res.status).toBe(200);
    expect(res.body).toBe('{}');
    expect(res.headers['x-datadog-trace-id']).toBe('4110911582297405551');
    expect(res.headers['x-datadog-sampling-priority']).toBe('1');
    expect(res.headers['x-datadog-tags']).toBe('_dd.p.tid=6b118b3700000000');
    const start = t.events.find((e) => e.type === 'universalStart');
    expect(start).toMatchObject({
      requestId: '00000000-0000-4000-8000-000000000001',
      event: fixtures.start.body,
      spanContext: { traceId: (0x6b118b3700000000n << 64n) | 4110911582297405551n, samplingPriority: 1 },
    });
  });

  it('sends no trace headers when nothing was extracted, and pairs by the current invocation without a request id', async () => {
    const t = await setup();
    t.processor.onInvoke(invoke('current'));
    const res = await post(t.port, '/lambda/start-invocation', '{"Records":[]}');
    expect(res.status).toBe(200);
    expect(res.headers['x-datadog-trace-id']).toBeUndefined();
    expect(t.events.find((e) => e.type === 'universalStart')).toMatchObject({ requestId: 'current' });
  });

  it('without a request id, pairs first in first out with the next INVOKE, not the one most recently started', async () => {
    const t = await setup();
    const starts = () =>
      t.events.filter((e) => e.type === 'universalStart').map((e) => (e as { requestId?: string }).requestId);
    const ends = () =>
      t.events.filter((e) => e.type === 'universalEnd').map((e) => (e as { requestId?: string }).requestId);
    // a first invocation, in order
    t.processor.onInvoke(invoke('first'));
    await post(t.port, '/lambda/start-invocation', '{}');
    await post(t.port, '/lambda/end-invocation', '{}');
    expect(starts()).toEqual(['first']);
    expect(ends()).toEqual(['first']);
    // warm: the hook beats the INVOKE; `first` is still the invocation most recently started
    const res = await post(t.port, '/lambda/start-invocation', JSON.stringify(fixtures.start.body));
    expect(res.headers['x-datadog-trace-id']).toBe('4110911582297405551');
    expect(starts()).toEqual(['first']);
    t.processor.onInvoke(invoke('second'));
    expect(starts()).toEqual(['first', 'second']);
    await post(t.port, '/lambda/end-invocation', '{}');
    expect(ends()).toEqual(['first', 'second']);
    // the end carries the start's context, paired with it
    expect(t.events.filter((e) => e.type === 'universalEnd')[1]).toMatchObject({
      requestId: 'second',
      spanContext: { samplingPriority: 1 },
    });
    // an INVOKE claimed by a start that named it does not pair with a later anonymous one
    await post(t.port, '/lambda/start-invocation', '{}', { 'lambda-runtime-aws-request-id': 'third' });
    t.processor.onInvoke(invoke('third'));
    await post(t.port, '/lambda/end-invocation', '{}', { 'lambda-runtime-aws-request-id': 'third' });
    t.processor.onInvoke(invoke('fourth'));
    await post(t.port, '/lambda/start-invocation', '{}');
    expect(starts()).toEqual(['first', 'second', 'third', 'fourth']);
  });

  it('processes malformed and oversized bodies as an empty payload, answering 200 {} and logging once', async () => {
    const t = await setup({ maxBodyBytes: 1024 });
    for (let i = 0; i < 3; i++) {
      const res = await post(t.port, '/lambda/start-invocation', '{"truncated": ');
      expect(res).toMatchObject({ status: 200, body: '{}' });
    }
    const big = JSON.stringify({ headers: { 'x-datadog-trace-id': '1' }, pad: 'x'.repeat(4096) });
    const res = await post(t.port, '/lambda/start-invocation', big);
    expect(res).toMatchObject({ status: 200, body: '{}' });
    expect(res.headers['x-datadog-trace-id']).toBeUndefined();
    expect(t.hooks.stats).toMatchObject({ malformedBodies: 3, oversizedBodies: 1, startInvocations: 4 });
    expect(t.warnings.filter((w) => w.includes('not JSON'))).toHaveLength(1);
    expect(t.warnings.filter((w) => w.includes('over 1024 bytes'))).toHaveLength(1);
    expect(
      t.events
        .filter((e) => e.type === 'universalStart')
        .every((e) => JSON.stringify((e as { event: unknown }).event) === '{}'),
    ).toBe(true);
  });

  it('accepts a body up to 6 MB by default and treats 6 MB + 1 as oversized', async () => {
    const t = await setup();
    const pad = (n: number) => {
      const shell = '{"p":""}';
      return `{"p":"${'a'.repeat(n - shell.length)}"}`;
    };
    await post(t.port, '/lambda/start-invocation', pad(6 * 1024 * 1024));
    expect(t.hooks.stats.oversizedBodies).toBe(0);
    await post(t.port, '/lambda/start-invocation', pad(6 * 1024 * 1024 + 1));
    expect(t.hooks.stats.oversizedBodies).toBe(1);
  });

  it('waits for an extractor that answers later, and gives it the request id', async () => {
    const seen: Array<string | undefined> = [];
    let release: () => void = () => {};
    const ready = new Promise<void>((r) => {
      release = r;
    });
    const t = await setup({
      extractContext: async (_event, _headers, requestId) => {
        seen.push(requestId);
        await ready;
        return { traceId: (1n << 64n) | 42n, samplingPriority: 2 };
      },
    });
    const answered = post(t.port, '/lambda/start-invocation', '{}', {
      'lambda-runtime-aws-request-id': 'r-1',
    });
    await vi.waitFor(() => expect(seen).toEqual(['r-1']));
    release();
    const res = await answered;
    expect(res.headers['x-datadog-trace-id']).toBe('42');
    expect(res.headers['x-datadog-sampling-priority']).toBe('2');
    expect(res.headers['x-datadog-tags']).toBe('_dd.p.tid=0000000000000001');
  });

  it('survives a rejecting extractor', async () => {
    const t = await setup({ extractContext: async () => Promise.reject(new Error('late failure')) });
    expect((await post(t.port, '/lambda/start-invocation', '{}')).status).toBe(200);
    expect(t.hooks.stats.extractorErrors).toBe(1);
  });

  it('survives a throwing extractor', async () => {
    const t = await setup({
      extractContext: () => {
        throw new Error('bad extractor');
      },
    });
    expect((await post(t.port, '/lambda/start-invocation', '{}')).status).toBe(200);
    expect(t.hooks.stats.extractorErrors).toBe(1);
  });
});

describe('/lambda/end-invocation', () => {
  it('reads the error headers (base64 or raw), the status code, and counts the error once', async () => {
    const t = await setup();
    const id = '00000000-0000-4000-8000-000000000001';
    t.processor.onInvoke(invoke(id));
    await post(t.port, fixtures.start.url, JSON.stringify(fixtures.start.body), fixtures.start.headers);
    const res = await post(
      t.port,
      fixtures.endError.url,
      JSON.stringify(fixtures.endError.body),
      fixtures.endError.headers,
    );
    expect(res).toMatchObject({ status: 200, body: '{}' });
    const end = t.events.find((e) => e.type === 'universalEnd');
    expect(end).toMatchObject({
      requestId: id,
      statusCode: 502,
      spanId: 2973484591142140291n,
      error: {
        message: "cannot read property 'x' of undefined",
        type: 'TypeError',
        stack: 'TypeError: cannot read\n    at handler (index.js:3:10)',
      },
      // The context extracted at start wins over the end headers.
      spanContext: { traceId: (0x6b118b3700000000n << 64n) | 4110911582297405551n },
    });
    expect(t.samples.filter((s) => s.name === 'aws.lambda.enhanced.errors')).toHaveLength(1);
  });

  it('takes the trace context from its own headers when start extracted none; "false" is not an error', async () => {
    const t = await setup();
    const res = await post(
      t.port,
      fixtures.endOk.url,
      JSON.stringify(fixtures.endOk.body),
      fixtures.endOk.headers,
    );
    expect(res.status).toBe(200);
    const end = t.events.find((e) => e.type === 'universalEnd');
    expect(end).toMatchObject({
      requestId: '00000000-0000-4000-8000-000000000002',
      statusCode: 200,
      spanContext: {
        traceId: (0x6b118b3700000000n << 64n) | 8149956312062795786n,
        parentId: 8149956312062795786n,
        samplingPriority: 2,
        tags: { '_dd.p.tid': '6b118b3700000000', '_dd.p.dm': '-0' },
      },
    });
    expect(end && 'error' in end && end.error).toBeFalsy();
    expect(t.samples.filter((s) => s.name === 'aws.lambda.enhanced.errors')).toHaveLength(0);
  });

  it('counts a 5xx response as an error, and processes a malformed body as empty', async () => {
    const t = await setup();
    t.processor.onInvoke(invoke('r'));
    await post(t.port, '/lambda/end-invocation', '{"statusCode":503}', {
      'lambda-runtime-aws-request-id': 'r',
    });
    expect(t.samples.filter((s) => s.name === 'aws.lambda.enhanced.errors')).toHaveLength(1);
    const res = await post(t.port, '/lambda/end-invocation', 'not json at all');
    expect(res).toMatchObject({ status: 200, body: '{}' });
    expect(t.hooks.stats.malformedBodies).toBe(1);
  });

  it('counts only a three-digit 5xx statusCode: 499, 600, 1500 and 5 are no errors', async () => {
    const t = await setup();
    const errors = () => t.samples.filter((s) => s.name === 'aws.lambda.enhanced.errors').length;
    for (const [i, code] of [499, 600, 1500, 5, -500, 599].entries()) {
      const id = `r${i}`;
      t.processor.onInvoke(invoke(id));
      await post(t.port, '/lambda/end-invocation', JSON.stringify({ statusCode: code }), {
        'lambda-runtime-aws-request-id': id,
      });
    }
    expect(errors()).toBe(1); // the 599
    expect(
      t.events.filter((e) => e.type === 'universalEnd').map((e) => e.type === 'universalEnd' && e.statusCode),
    ).toEqual([499, 600, 1500, 5, -500, 599]);
  });

  it('applies the error-header rules', () => {
    expect(errorFromHeaders({ 'x-datadog-invocation-error': 'TRUE' })).toEqual({});
    expect(errorFromHeaders({ 'x-datadog-invocation-error': 'false' })).toBeUndefined();
    expect(errorFromHeaders({ 'x-datadog-invocation-error': 'yes' })).toBeUndefined();
    expect(errorFromHeaders({ 'x-datadog-invocation-error-type': 'Error' })).toEqual({ type: 'Error' });
    expect(errorFromHeaders({ 'x-datadog-invocation-error-msg': 'aGVsbG8=' })).toEqual({ message: 'hello' });
    expect(decodeHeaderValue('test')).toBe('test'); // valid base64, but not text: raw
    expect(decodeHeaderValue('not base64!')).toBe('not base64!');
  });
});

describe('/lambda/flush and /lambda/hello', () => {
  it("replays datadog-lambda-js's captured flush request: flushes, then answers 200 {}", async () => {
    let flushed = 0;
    const t = await setup({
      onFlush: async () => {
        await new Promise((r) => setTimeout(r, 20));
        flushed++;
      },
    });
    const rec = captured.find((r: { url: string }) => r.url === '/lambda/flush');
    const headers: Record<string, string> = { ...rec.headers };
    for (const h of ['host', 'connection', 'transfer-encoding', 'content-length']) delete headers[h];
    const res = await new Promise<{ status: number; body: string; te: string | undefined }>(
      (resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port: t.port, method: rec.method, path: rec.url, headers },
          (r) => {
            let body = '';
            r.on('data', (c) => {
              body += c;
            });
            r.on('end', () => resolve({ status: r.statusCode ?? 0, body, te: undefined }));
          },
        );
        req.on('error', reject);
        // Chunked, as the library sends it.
        req.write(rec.body.slice(0, 1));
        req.end(rec.body.slice(1));
      },
    );
    expect(res).toMatchObject({ status: 200, body: '{}' });
    expect(flushed).toBe(1);
    expect(t.hooks.stats.flushes).toBe(1);
  });

  it('answers 200 {} to a failing flush, to hello (warning once), and 404 elsewhere', async () => {
    const t = await setup({
      onFlush: () => {
        throw new Error('intake down');
      },
    });
    expect(await post(t.port, '/lambda/flush', '{}')).toMatchObject({ status: 200, body: '{}' });
    for (let i = 0; i < 2; i++)
      expect(await post(t.port, '/lambda/hello', '', {}, 'GET')).toMatchObject({ status: 200, body: '{}' });
    expect(t.warnings.filter((w) => w.includes('deprecated'))).toHaveLength(1);
    expect((await post(t.port, '/lambda/other', '{}')).status).toBe(404);
    expect((await post(t.port, '/lambda/start-invocation', '', {}, 'GET')).status).toBe(404);
  });

  it('binds loopback', async () => {
    const t = await setup();
    expect(
      (t.hooks as unknown as { server: { address(): { address: string } } }).server.address().address,
    ).toBe('127.0.0.1');
  });
});

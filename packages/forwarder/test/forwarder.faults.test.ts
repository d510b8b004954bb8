import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createForwarder,
  type DestinationHealth,
  type Forwarder,
  fromEnv,
  intakeUrl,
  type OutgoingPayload,
} from '../src/index.js';
import { CA_FILE, decodeBody, FakeIntake } from './helpers/intake.js';
import { captureLogger } from './helpers/logger.js';
import { API_KEY, jsonPayload, optionsFor } from './helpers/options.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function intake(tls = false): Promise<FakeIntake> {
  const i = await FakeIntake.start({ tls });
  cleanups.push(() => i.close());
  return i;
}

function forwarder(...args: Parameters<typeof optionsFor>): Forwarder {
  const f = createForwarder(optionsFor(...args));
  cleanups.push(() => f.close());
  return f;
}

const deadline = (ms = 5_000) => ({ signal: AbortSignal.timeout(ms) });
const uncompressed = {
  compression: {
    metrics: 'none',
    logs: 'none',
    traces: 'none',
    metricsLevel: 0,
    logsLevel: 0,
    apmLevel: 0,
    zstdWasm: false,
  },
} as const;

describe('retries', () => {
  for (const status of [500, 502, 503, 408, 429]) {
    it(`retries a ${status} with backoff and delivers`, async () => {
      const i = await intake();
      i.behaviour = (_r, n) =>
        n < 2 ? { status, headers: status === 429 ? { 'retry-after': '0' } : {} } : undefined;
      const f = forwarder(i.url);
      const r = await f.send(jsonPayload('series', { a: 1 }), deadline());
      expect(r).toEqual({ delivered: 1, buffered: 0, dropped: {} });
      expect(i.posts).toHaveLength(3);
      expect(f.stats().destinations[0]!.retries).toBe(2);
    });
  }

  it('retries after a connection reset', async () => {
    const i = await intake();
    i.behaviour = (_r, n) => (n === 0 ? { reset: true } : undefined);
    const f = forwarder(i.url);
    const r = await f.send(jsonPayload('logs', { a: 1 }), deadline());
    expect(r.delivered).toBe(1);
    expect(i.posts).toHaveLength(2);
  });

  it('keeps the request for the next flush after the attempts of this one', async () => {
    const i = await intake();
    let down = true;
    i.behaviour = () => (down ? { status: 500 } : undefined);
    // One socket, so that arrival order is dispatch order.
    const f = forwarder(i.url, {}, captureLogger(), { connectionsPerHost: 1 });
    const first = await f.send(jsonPayload('series', { id: 'old' }), deadline());
    expect(first).toEqual({ delivered: 0, buffered: 1, dropped: {} });
    expect(i.posts).toHaveLength(3);
    down = false;
    const second = await f.send(jsonPayload('series', { id: 'new' }), deadline());
    expect(second.delivered).toBe(2);
    // The buffered request goes out first.
    const ids = await Promise.all(
      i.posts.slice(3).map(async (r) => JSON.parse(String(await decodeBody(r))).id),
    );
    expect(ids).toEqual(['old', 'new']);
  });

  it('does not retry a 400', async () => {
    const i = await intake();
    i.behaviour = () => ({ status: 400 });
    const f = forwarder(i.url);
    const r = await f.send(jsonPayload('series', { a: 1 }), deadline());
    expect(r).toEqual({ delivered: 0, buffered: 0, dropped: { rejected: 1 } });
    expect(i.posts).toHaveLength(1);
  });

  it('does not retry a 403, logs it once, clearly, and never the key', async () => {
    const i = await intake();
    i.behaviour = () => ({ status: 403 });
    const logger = captureLogger();
    const f = forwarder(i.url, {}, logger);
    for (let n = 0; n < 3; n++) {
      const r = await f.send(jsonPayload('series', { n }), deadline());
      expect(r.dropped).toEqual({ forbidden: 1 });
    }
    expect(i.posts).toHaveLength(3);
    const forbidden = logger.lines.filter((l) => l.msg.includes('403'));
    expect(forbidden).toHaveLength(1);
    expect(forbidden[0]!.level).toBe('error');
    expect(forbidden[0]!.msg).toMatch(/API key/);
    expect(logger.text()).not.toContain(API_KEY);
    expect(f.stats().dropped.forbidden).toEqual({ requests: 3, items: 3 });
  });

  it('logs a 403 once per destination for requests with a query string too', async () => {
    const i = await intake();
    i.behaviour = () => ({ status: 403 });
    const logger = captureLogger();
    const f = forwarder(i.url, {}, logger);
    for (let n = 0; n < 3; n++) {
      const r = await f.send(jsonPayload('traces', { n }, { query: `n=${n}` }), deadline());
      expect(r.dropped).toEqual({ forbidden: 1 });
    }
    expect(i.posts.map((p) => p.path)).toEqual([0, 1, 2].map((n) => `/api/v0.2/traces?n=${n}`));
    expect(logger.lines.filter((l) => l.msg.includes('403'))).toHaveLength(1);
  });

  it('probes an unhealthy destination once per flush, whatever the query strings of its requests', async () => {
    const i = await intake();
    i.behaviour = () => ({ status: 503 });
    const f = forwarder(i.url, {}, captureLogger(), { maxAttempts: 1 });
    const payloads = [0, 1, 2].map((n) => jsonPayload('traces', { n }, { query: `n=${n}` }));
    expect(await f.flush(payloads, deadline())).toEqual({ delivered: 0, buffered: 3, dropped: {} });
    expect(f.healthy).toBe(false);
    expect(i.posts).toHaveLength(3);
    const r = await f.flush([], { ...deadline(), blocking: true });
    expect(r).toEqual({ delivered: 0, buffered: 3, dropped: {} });
    expect(i.posts).toHaveLength(4);
  });

  it('splits a payload answered with 413 and sends the halves', async () => {
    const i = await intake();
    i.behaviour = (r) => (JSON.parse(r.body.toString()).values.length > 2 ? { status: 413 } : undefined);
    const f = forwarder(i.url, {}, captureLogger(), uncompressed);
    const make = (values: number[]): OutgoingPayload => ({
      ...jsonPayload('series', { values }),
      items: values.length,
      split: () =>
        values.length < 2
          ? undefined
          : [make(values.slice(0, values.length / 2)), make(values.slice(values.length / 2))],
    });
    const r = await f.send(make([1, 2, 3, 4, 5, 6, 7, 8]), deadline());
    expect(r).toEqual({ delivered: 4, buffered: 0, dropped: {} });
    const accepted = i.posts.filter((p) => JSON.parse(p.body.toString()).values.length <= 2);
    expect(accepted.flatMap((p) => JSON.parse(p.body.toString()).values).sort()).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8,
    ]);
  });

  it('drops and counts a 413 that cannot be split', async () => {
    const i = await intake();
    i.behaviour = () => ({ status: 413 });
    const f = forwarder(i.url);
    const r = await f.send(jsonPayload('logs', { big: true }), deadline());
    expect(r.dropped).toEqual({ too_large: 1 });
    expect(i.posts).toHaveLength(1);
  });
});

describe('deadlines', () => {
  it('a black-holed intake cannot make a send outlive its deadline', async () => {
    const i = await intake();
    i.behaviour = () => ({ blackhole: true });
    const f = forwarder(i.url);
    const started = performance.now();
    const r = await f.send(jsonPayload('series', { a: 1 }), deadline(300));
    const took = performance.now() - started;
    expect(r).toEqual({ delivered: 0, buffered: 1, dropped: {} });
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(2_000);
  });

  it('a slow intake is abandoned at the deadline, and the request kept', async () => {
    const i = await intake();
    i.behaviour = () => ({ delayMs: 3_000 });
    const f = forwarder(i.url);
    const started = performance.now();
    const r = await f.flush(
      [jsonPayload('series', { a: 1 }), jsonPayload('logs', { a: 2 }), jsonPayload('traces', { a: 3 })],
      deadline(300),
    );
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(r.buffered).toBe(3);
    expect(f.stats().retryBuffer.requests).toBe(3);
  });

  it('caps a flush at DD_FLUSH_TIMEOUT when its deadline is longer, each call from its own start', async () => {
    const i = await intake();
    i.behaviour = () => ({ blackhole: true });
    const f = forwarder(i.url, {}, undefined, { requestTimeoutMs: 300 });
    const started = performance.now();
    const first = f.send(jsonPayload('series', { a: 1 }), deadline(10_000));
    await new Promise((resolve) => setTimeout(resolve, 150));
    const secondStarted = performance.now();
    const second = f.send(jsonPayload('logs', { a: 2 }), deadline(10_000));
    const [r1, r2] = await Promise.all([
      first.then((r) => ({ r, took: performance.now() - started })),
      second.then((r) => ({ r, took: performance.now() - secondStarted })),
    ]);
    for (const { r, took } of [r1, r2]) {
      expect(r).toEqual({ delivered: 0, buffered: 1, dropped: {} });
      expect(took).toBeGreaterThanOrEqual(250);
      expect(took).toBeLessThan(2_000);
    }
  });

  // On a socket opened by warmUp(): the deadline and the cap end the wait for the answer's head (raced)
  // and for its body (not raced: undici destroys the body when the request's signal aborts).
  // A 202 whose body never ends is delivered (the status is what counts), but only at the deadline.
  for (const [fault, label, delivered] of [
    [{ blackhole: true }, 'no answer', false],
    [{ stallBody: true }, 'a body that never ends', true],
  ] as const) {
    it(`on a warm socket, ${label} cannot make a send outlive its deadline or the cap`, async () => {
      const i = await intake();
      i.behaviour = () => fault;
      const f = forwarder(i.url, {}, undefined, { requestTimeoutMs: 1_000 });
      expect(await f.warmUp()).toBeGreaterThan(0);
      // The caller's deadline first, then the cap.
      for (const [call, endsAfter] of [
        [deadline(300), 250],
        [deadline(10_000), 950],
      ] as const) {
        const started = performance.now();
        const r = await f.send(jsonPayload('series', { a: 1 }), call);
        const took = performance.now() - started;
        expect(took).toBeGreaterThanOrEqual(endsAfter);
        expect(took).toBeLessThan(endsAfter + 1_500);
        if (delivered) expect(r).toEqual({ delivered: 1, buffered: 0, dropped: {} });
        else {
          // The first is kept; the second call sends it first, then its own, and keeps both again.
          expect(r.delivered).toBe(0);
          expect(r.buffered).toBeGreaterThanOrEqual(1);
        }
      }
    });
  }

  it('a deadline already passed sends nothing and keeps everything', async () => {
    const i = await intake();
    const f = forwarder(i.url);
    const r = await f.send(jsonPayload('series', { a: 1 }), { signal: AbortSignal.abort() });
    expect(r.buffered).toBe(1);
    expect(i.posts).toHaveLength(0);
  });
});

describe('retry buffer', () => {
  it('stays within its byte bound through a long outage, dropping the oldest first', async () => {
    const i = await intake();
    let down = true;
    i.behaviour = () => (down ? { status: 503 } : undefined);
    const f = forwarder(i.url, {}, captureLogger(), {
      ...uncompressed,
      retryBufferBytes: 10_000,
      maxAttempts: 1,
    });
    const payload = (id: number): OutgoingPayload => ({
      kind: 'series',
      body: Buffer.concat([Buffer.from(`${String(id).padStart(4, '0')}:`), randomBytes(995)]),
      contentType: 'application/octet-stream',
      items: 10,
    });
    for (let id = 0; id < 40; id++) {
      await f.send(payload(id), deadline());
      expect(f.stats().retryBuffer.bytes).toBeLessThanOrEqual(10_000);
    }
    const stats = f.stats();
    expect(stats.retryBuffer.requests).toBe(10);
    expect(stats.dropped.buffer_overflow).toEqual({ requests: 30, items: 300 });
    down = false;
    const before = i.posts.length;
    const r = await f.flush([], deadline());
    expect(r.delivered).toBe(10);
    const ids = i.posts.slice(before).map((p) => Number(p.body.subarray(0, 4).toString()));
    expect(ids.sort((a, b) => a - b)).toEqual([30, 31, 32, 33, 34, 35, 36, 37, 38, 39]);
    expect(f.stats().retryBuffer.bytes).toBe(0);
  });

  it('drops at once a request larger than the whole buffer', async () => {
    const i = await intake();
    i.behaviour = () => ({ status: 503 });
    const f = forwarder(i.url, {}, captureLogger(), {
      ...uncompressed,
      retryBufferBytes: 100,
      maxAttempts: 1,
    });
    const r = await f.send(
      { kind: 'series', body: randomBytes(500), contentType: 'x/y', items: 7 },
      deadline(),
    );
    expect(r.dropped).toEqual({ buffer_overflow: 1 });
    expect(f.stats().dropped.buffer_overflow).toEqual({ requests: 1, items: 7 });
  });
});

describe('backend health', () => {
  it('marks a failing destination unhealthy, bounds blocking flushes to 250 ms, and recovers on a probe', async () => {
    const i = await intake();
    let down = true;
    i.behaviour = () => (down ? { blackhole: true } : undefined);
    const f = forwarder(i.url, {}, captureLogger(), { unhealthyAfter: 2, maxAttempts: 1 });
    const changes: DestinationHealth[] = [];
    f.onHealthChange((h) => changes.push(h));
    const backend: BackendHealthEvent[] = [];
    f.onBackendHealth((e) => backend.push(e));
    await f.send(jsonPayload('series', { n: 1 }), { ...deadline(200), blocking: true });
    expect(f.healthy).toBe(true);
    await f.send(jsonPayload('series', { n: 2 }), { ...deadline(200), blocking: true });
    expect(f.healthy).toBe(false);
    expect(changes).toEqual([
      { destination: `${i.url}/api/v2/series`, healthy: false, consecutiveFailures: 2 },
    ]);

    // Unhealthy: a blocking flush with a generous deadline waits 250 ms at most, and keeps its data.
    const started = performance.now();
    const r = await f.flush([jsonPayload('series', { n: 3 }), jsonPayload('series', { n: 4 })], {
      ...deadline(10_000),
      blocking: true,
    });
    const took = performance.now() - started;
    expect(took).toBeLessThan(2_000);
    expect(r.delivered).toBe(0);
    expect(f.stats().retryBuffer.requests).toBe(4);

    down = false;
    const recovered = await f.flush([], { ...deadline(10_000), blocking: true });
    expect(recovered.delivered).toBe(4);
    expect(f.healthy).toBe(true);
    expect(changes.at(-1)).toMatchObject({ healthy: true, consecutiveFailures: 0 });
    // The aggregate, shaped as the flush strategy's event.
    expect(backend).toEqual([
      { type: 'backend-health', healthy: false, unhealthyBudgetMs: 250 },
      { type: 'backend-health', healthy: true, unhealthyBudgetMs: 250 },
    ]);
  });
});

describe('dual shipping', () => {
  it('delivers to every destination with its own key; one down does not hold back the other', async () => {
    const main = await intake();
    // HTTPS: logs additional endpoints are always https://Host:Port.
    const extra = await intake(true);
    let extraDown = true;
    extra.behaviour = () => (extraDown ? { status: 503 } : undefined);
    const f = forwarder(main.url, {
      DD_ADDITIONAL_ENDPOINTS: JSON.stringify({ [extra.url]: ['extra-key-000001'] }),
      DD_APM_ADDITIONAL_ENDPOINTS: JSON.stringify({ [extra.url]: ['extra-key-000002'] }),
      DD_LOGS_CONFIG_ADDITIONAL_ENDPOINTS: JSON.stringify([
        { api_key: 'extra-key-000003', Host: '127.0.0.1', Port: extra.port, is_reliable: true },
      ]),
      DD_TLS_CERT_FILE: CA_FILE,
    });
    const r = await f.flush(
      [jsonPayload('series', { a: 1 }), jsonPayload('traces', { a: 2 }), jsonPayload('logs', { a: 3 })],
      deadline(),
    );
    expect(r).toEqual({ delivered: 3, buffered: 3, dropped: {} });
    expect(main.posts).toHaveLength(3);
    expect(main.posts.every((p) => p.headers['dd-api-key'] === API_KEY)).toBe(true);

    extraDown = false;
    const before = extra.posts.length;
    const again = await f.flush([], deadline());
    expect(again.delivered).toBe(3);
    expect(main.posts).toHaveLength(3); // not sent twice to the destination that had it
    const keys = extra.posts
      .slice(before)
      .map((p) => `${p.path} ${p.headers['dd-api-key']}`)
      .sort();
    expect(keys).toEqual([
      '/api/v0.2/traces extra-key-000002',
      '/api/v2/logs extra-key-000003',
      '/api/v2/series extra-key-000001',
    ]);
  });

  it('does not buffer for an unreliable logs endpoint', async () => {
    const main = await intake();
    const extra = await intake(true);
    extra.behaviour = () => ({ status: 500 });
    const f = forwarder(main.url, {
      DD_LOGS_CONFIG_ADDITIONAL_ENDPOINTS: JSON.stringify([
        { api_key: 'extra-key-000003', Host: '127.0.0.1', Port: extra.port, is_reliable: false },
      ]),
      DD_TLS_CERT_FILE: CA_FILE,
    });
    const r = await f.send(jsonPayload('logs', { a: 1 }), deadline());
    expect(r).toEqual({ delivered: 1, buffered: 0, dropped: { unreliable_endpoint: 1 } });
  });
});

describe('Observability Pipelines Worker', () => {
  it('sends logs plain to the worker URL as given: no route, no compression, no DD-PROTOCOL', async () => {
    const opw = await intake();
    const extra = await intake(true);
    const logger = captureLogger();
    const f = forwarder(
      opw.url,
      {
        DD_OBSERVABILITY_PIPELINES_WORKER_LOGS_ENABLED: 'true',
        DD_OBSERVABILITY_PIPELINES_WORKER_LOGS_URL: `${opw.url}/ingest`,
        DD_LOGS_CONFIG_ADDITIONAL_ENDPOINTS: JSON.stringify([
          { api_key: 'extra-key-000003', Host: '127.0.0.1', Port: extra.port },
        ]),
        DD_TLS_CERT_FILE: CA_FILE,
      },
      logger,
    );
    const logs = [{ message: 'hello', ddsource: 'lambda' }];
    const payload = jsonPayload('logs', logs, { headers: { 'DD-PROTOCOL': 'agent-json' } });
    const r = await f.send(payload, deadline());
    expect(r).toEqual({ delivered: 2, buffered: 0, dropped: {} });
    const [plain] = opw.posts;
    expect(plain!.path).toBe('/ingest');
    expect(plain!.headers['content-encoding']).toBeUndefined();
    expect(plain!.headers['dd-protocol']).toBeUndefined();
    expect(plain!.headers['content-type']).toBe('application/json');
    expect(plain!.headers['dd-api-key']).toBe(API_KEY);
    expect(JSON.parse(plain!.body.toString())).toEqual(logs);
    // The Datadog additional endpoint still gets the intake's form.
    const [dd] = extra.posts;
    expect(dd!.path).toBe('/api/v2/logs');
    expect(dd!.headers['dd-protocol']).toBe('agent-json');
    expect(dd!.headers['content-encoding']).toBeDefined();
    expect(JSON.parse(String(await decodeBody(dd!)))).toEqual(logs);
    // Other kinds are not affected.
    await f.send(jsonPayload('series', { a: 1 }), deadline());
    expect(opw.posts[1]!.path).toBe('/api/v2/series');
    expect(logger.lines.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('needs both variables; enabled without a URL is a warning and the logs intake', async () => {
    const logger = captureLogger();
    const e = fromEnv(
      { DD_SITE: 'datadoghq.eu', DD_OBSERVABILITY_PIPELINES_WORKER_LOGS_ENABLED: 'true' },
      logger,
    );
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual([
      expect.stringContaining('DD_OBSERVABILITY_PIPELINES_WORKER_LOGS_URL'),
    ]);
    expect(intakeUrl('logs', e.endpoints)).toBe('https://http-intake.logs.datadoghq.eu/api/v2/logs');
    const off = optionsFor('https://x.example', {
      DD_OBSERVABILITY_PIPELINES_WORKER_LOGS_URL: 'http://opw.internal:8282',
    });
    expect(intakeUrl('logs', off.endpoints)).toBe('https://x.example/api/v2/logs');
    const on = optionsFor('https://x.example', {
      DD_OBSERVABILITY_PIPELINES_WORKER_LOGS_ENABLED: 'true',
      DD_OBSERVABILITY_PIPELINES_WORKER_LOGS_URL: 'http://opw.internal:8282',
    });
    expect(intakeUrl('logs', on.endpoints)).toBe('http://opw.internal:8282');
  });
});

describe('bad input', () => {
  it('drops and counts a payload of an unknown kind, without a throw, and sends the rest', async () => {
    const i = await intake();
    const logger = captureLogger();
    const f = forwarder(i.url, {}, logger);
    const bogus = { ...jsonPayload('series', {}), kind: 'nonsense' } as unknown as OutgoingPayload;
    const r = await f.flush([bogus, jsonPayload('series', { ok: 1 })], deadline());
    expect(r).toEqual({ delivered: 1, buffered: 0, dropped: { unknown_kind: 1 } });
    expect(logger.lines.filter((l) => l.level === 'warn')).toHaveLength(1);
  });
});

describe('memory', () => {
  it('does not keep the uncompressed payload of a buffered request alive through its split function', async () => {
    const i = await intake();
    let down = true;
    i.behaviour = () => (down ? { status: 503 } : { status: 413 });
    const f = forwarder(i.url, {}, captureLogger(), { maxAttempts: 1 });
    let splits = 0;
    const payload = {
      ...jsonPayload('series', { a: 1 }),
      split: () => {
        splits++;
        return undefined;
      },
    };
    expect((await f.send(payload, deadline())).buffered).toBe(1);
    down = false;
    const r = await f.flush([], deadline());
    expect(r.dropped).toEqual({ too_large: 1 });
    expect(splits).toBe(0);
  });
});

describe('retry timing', () => {
  // The header's name in any case: it is read from the raw answer.
  for (const [status, name] of [
    [429, 'retry-after'],
    [503, 'Retry-After'],
  ] as const) {
    it(`honours ${name} on a ${status}, up to the backoff cap`, async () => {
      const i = await intake();
      i.behaviour = (_r, n) => (n === 0 ? { status, headers: { [name]: '0.3' } } : undefined);
      const f = forwarder(i.url, {}, captureLogger(), { backoff: { baseMs: 1, maxMs: 1_000 } });
      expect((await f.send(jsonPayload('series', {}), deadline())).delivered).toBe(1);
      expect(i.posts[1]!.at - i.posts[0]!.at).toBeGreaterThanOrEqual(280);
    });
  }

  it('gives an unhealthy destination the whole deadline in a non-blocking flush, 250 ms in a blocking one', async () => {
    const i = await intake();
    let mode: 'down' | 'slow' = 'down';
    i.behaviour = () => (mode === 'down' ? { status: 503 } : { delayMs: 600 });
    const f = forwarder(i.url, {}, captureLogger(), { unhealthyAfter: 1, maxAttempts: 1 });
    await f.send(jsonPayload('series', { n: 1 }), deadline());
    expect(f.healthy).toBe(false);
    mode = 'slow';
    const blocking = await f.flush([], { ...deadline(5_000), blocking: true });
    expect(blocking.delivered).toBe(0);
    expect(f.healthy).toBe(false);
    const background = await f.flush([], { ...deadline(5_000), blocking: false });
    expect(background.delivered).toBe(1);
    expect(f.healthy).toBe(true);
  });
});

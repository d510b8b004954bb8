// The forwarder against the testkit's fake Datadog intake, which decodes and validates what arrives
// and plays every fault kind.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DatadogIntake, startIntake } from '@serverless-agent/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createForwarder,
  type Forwarder,
  fromEnv,
  nativeZstdCodec,
  type OutgoingPayload,
  type PayloadCodec,
} from '../src/index.js';
import { captureLogger } from './helpers/logger.js';
import { optionsFor } from './helpers/options.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function intake(options: Parameters<typeof startIntake>[0] = {}): Promise<DatadogIntake> {
  const i = await startIntake(options);
  cleanups.push(() => i.stop());
  return i;
}

function forwarder(...args: Parameters<typeof optionsFor>): Forwarder {
  const f = createForwarder(optionsFor(...args));
  cleanups.push(() => f.close());
  return f;
}

/** The log messages the intake accepted, sorted (a split delivers the halves in any order). */
const arrivedMessages = (i: DatadogIntake) =>
  i
    .logs()
    .map((l) => l.message)
    .sort();

const deadline = (ms = 5_000) => ({ signal: AbortSignal.timeout(ms) });
const now = () => Math.floor(Date.now() / 1000);

function logs(messages: string[]): OutgoingPayload {
  return {
    kind: 'logs',
    body: Buffer.from(
      JSON.stringify(messages.map((message) => ({ message, status: 'info', ddsource: 'lambda' }))),
    ),
    contentType: 'application/json',
    headers: { 'DD-PROTOCOL': 'agent-json' },
    items: messages.length,
    split: () =>
      messages.length < 2
        ? undefined
        : [logs(messages.slice(0, messages.length >> 1)), logs(messages.slice(messages.length >> 1))],
  };
}

function series(metric: string, value = 1): OutgoingPayload {
  return {
    kind: 'series',
    body: Buffer.from(
      JSON.stringify({ series: [{ metric, type: 3, points: [{ timestamp: now(), value }] }] }),
    ),
    contentType: 'application/json',
    items: 1,
  };
}

function caFile(pem: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'forwarder-ca-'));
  const file = join(dir, 'ca.pem');
  writeFileSync(file, pem);
  return file;
}

describe('against the testkit intake', () => {
  it('delivers logs and series the intake decodes and accepts', async () => {
    const i = await intake();
    const f = forwarder(i.url, { DD_API_KEY: i.apiKey });
    const r = await f.flush([logs(['hello', 'world']), series('fwd.test.gauge', 42)], deadline());
    expect(r).toEqual({ delivered: 2, buffered: 0, dropped: {} });
    expect(i.logs().map((l) => l.message)).toEqual(['hello', 'world']);
    const [point] = i.metrics('fwd.test.gauge');
    expect(point).toMatchObject({ value: 42, type: 'gauge' });
    const encoding = nativeZstdCodec() ? 'zstd' : 'gzip';
    expect(i.requests().every((q) => q.contentEncoding === encoding && q.apiKey.accepted)).toBe(true);
  });

  it('delivers what it compressed on the thread pool as well (payloads past the event-loop bound)', async () => {
    const i = await intake();
    const base = optionsFor(i.url, { DD_API_KEY: i.apiKey });
    const f = createForwarder({ ...base, compression: { ...base.compression, syncMaxBytes: 0 } });
    cleanups.push(() => f.close());
    const r = await f.flush([logs(['pooled']), series('fwd.test.pooled', 7)], deadline());
    expect(r).toEqual({ delivered: 2, buffered: 0, dropped: {} });
    expect(i.logs().map((l) => l.message)).toEqual(['pooled']);
    expect(i.metrics('fwd.test.pooled')[0]).toMatchObject({ value: 7 });
    const encoding = nativeZstdCodec() ? 'zstd' : 'gzip';
    expect(i.requests().every((q) => q.contentEncoding === encoding)).toBe(true);
  });

  for (const status of [500, 503, 429]) {
    it(`recovers from ${status} (twice) and delivers once`, async () => {
      const i = await intake();
      i.fault({ path: '/api/v2/logs', status, times: 2 });
      const f = forwarder(i.url, { DD_API_KEY: i.apiKey });
      const r = await f.send(logs([`after ${status}`]), deadline());
      expect(r.delivered).toBe(1);
      expect(i.requests({ path: '/api/v2/logs' }).map((q) => q.status)).toEqual([status, status, 202]);
      expect(i.logs().map((l) => l.message)).toEqual([`after ${status}`]);
    });
  }

  it('retries a connection reset', async () => {
    const i = await intake();
    i.fault({ path: '/api/v2/logs', reset: true, times: 1 });
    const f = forwarder(i.url, { DD_API_KEY: i.apiKey });
    expect((await f.send(logs(['after reset']), deadline())).delivered).toBe(1);
    expect(i.logs().map((l) => l.message)).toEqual(['after reset']);
  });

  it('drops on 403 with one clear error line, and the key in no log line', async () => {
    const i = await intake();
    const logger = captureLogger();
    const wrongKey = 'ffffffffffffffffffffffffffff0000';
    const f = forwarder(i.url, { DD_API_KEY: wrongKey }, logger);
    for (let n = 0; n < 3; n++)
      expect((await f.send(logs([`n${n}`]), deadline())).dropped).toEqual({ forbidden: 1 });
    expect(i.requests().map((q) => q.status)).toEqual([403, 403, 403]);
    expect(logger.lines.filter((l) => l.level === 'error')).toHaveLength(1);
    expect(logger.text()).not.toContain(wrongKey);
    expect(JSON.stringify(f.stats())).not.toContain(wrongKey);
  });

  it('splits a payload the intake refuses with 413 and delivers every entry', async () => {
    // Incompressible entries, so the compressed size follows the entry count.
    const messages = Array.from({ length: 16 }, () => randomBytes(300).toString('base64'));
    const i = await intake({ limits: { logs: { compressed: 2_500 } } });
    const f = forwarder(i.url, { DD_API_KEY: i.apiKey });
    const r = await f.send(logs(messages), deadline());
    expect(r.dropped).toEqual({});
    expect(i.requests().some((q) => q.status === 413)).toBe(true);
    expect(arrivedMessages(i)).toEqual([...messages].sort());
  });

  it('gives up on a delayed answer at the deadline and delivers it at the next flush', async () => {
    const i = await intake();
    const fault = i.fault({ path: '/api/v2/series', delayMs: 3_000, times: 1 });
    const f = forwarder(i.url, { DD_API_KEY: i.apiKey });
    const started = performance.now();
    const r = await f.send(series('fwd.delayed'), deadline(300));
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(r.buffered).toBe(1);
    expect(fault.spent).toBe(true);
    const again = await f.flush([], deadline());
    expect(again.delivered).toBe(1);
  });

  it('cannot be held past its deadline by a black hole, and sends the buffer first once it is gone', async () => {
    const i = await intake();
    const hole = i.fault({ path: '*', blackhole: true });
    const f = forwarder(i.url, { DD_API_KEY: i.apiKey });
    const started = performance.now();
    const r = await f.flush([series('fwd.first'), logs(['first'])], deadline(400));
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(r.buffered).toBe(2);
    hole.remove();
    const next = await f.flush([series('fwd.second')], deadline());
    expect(next.delivered).toBe(3);
    const accepted = i.requests({ status: 202 }).map((q) => q.path);
    expect(accepted).toHaveLength(3);
    expect(
      i
        .metrics()
        .map((m) => m.metric)
        .sort(),
    ).toEqual(['fwd.first', 'fwd.second']);
  });

  it('ships to an additional endpoint with its own key, and retries only the one that failed', async () => {
    const extraKey = 'eeeeeeeeeeeeeeeeeeeeeeeeeeee0001';
    const i = await intake();
    i.setApiKeys([i.apiKey, extraKey]);
    const down = i.fault({ apiKey: extraKey, status: 503 });
    const f = forwarder(i.url, {
      DD_API_KEY: i.apiKey,
      DD_ADDITIONAL_ENDPOINTS: JSON.stringify({ [i.url]: [extraKey] }),
    });
    const r = await f.send(series('fwd.dual'), deadline());
    expect(r).toEqual({ delivered: 1, buffered: 1, dropped: {} });
    expect(i.requests({ apiKey: i.apiKey, status: 202 })).toHaveLength(1);
    down.remove();
    const again = await f.flush([], deadline());
    expect(again.delivered).toBe(1);
    expect(i.requests({ apiKey: i.apiKey })).toHaveLength(1);
    expect(i.requests({ apiKey: extraKey, status: 202 })).toHaveLength(1);
    expect(i.metrics('fwd.dual')).toHaveLength(2);
  });

  it('speaks HTTPS to the intake with its self-signed CA given by DD_TLS_CERT_FILE', async () => {
    const i = await intake({ https: true });
    const f = forwarder(i.httpsUrl, { DD_API_KEY: i.apiKey, DD_TLS_CERT_FILE: caFile(i.ca) });
    expect(await f.warmUp()).toBeGreaterThan(0);
    const r = await f.send(series('fwd.tls'), deadline());
    expect(r.delivered).toBe(1);
    expect(i.requests({ path: '/api/v2/series' })[0]!.tls).toBe(true);
  });

  it('resolves every site host and reaches it through an HTTPS proxy', async () => {
    const i = await intake({ https: true });
    const f = createForwarder({
      ...fromEnv(
        {
          DD_API_KEY: i.apiKey,
          DD_SITE: 'datadoghq.eu',
          HTTPS_PROXY: i.proxyUrl,
          DD_TLS_CERT_FILE: caFile(i.ca),
        },
        captureLogger(),
      ),
      freezeTickMs: 0,
    });
    cleanups.push(() => f.close());
    const kinds: OutgoingPayload[] = [
      series('fwd.site'),
      logs(['via proxy']),
      { kind: 'check_run', body: Buffer.from('[]'), contentType: 'application/json' },
      { kind: 'traces', body: Buffer.alloc(0), contentType: 'application/x-protobuf' },
      { kind: 'stats', body: Buffer.alloc(0), contentType: 'application/msgpack' },
      // Proxied tracer routes: the intake serves none of them (404), but records where they went.
      { kind: 'debugger', body: Buffer.from('[]'), contentType: 'application/json', query: 'ddtags=a:b' },
      { kind: 'llmobs', body: Buffer.from('{}'), contentType: 'application/json' },
      { kind: 'apm_telemetry', body: Buffer.from('{}'), contentType: 'application/json' },
    ];
    await f.flush(kinds, deadline());
    const seen = i
      .requests()
      .filter((q) => q.method === 'POST')
      .map((q) => `${q.destination}${q.path}`)
      .sort();
    expect(seen).toEqual(
      [
        'api.datadoghq.eu/api/v2/series',
        'api.datadoghq.eu/api/v1/check_run',
        'http-intake.logs.datadoghq.eu/api/v2/logs',
        'trace.agent.datadoghq.eu/api/v0.2/traces',
        'trace.agent.datadoghq.eu/api/v0.2/stats',
        'debugger-intake.datadoghq.eu/api/v2/debugger',
        'llmobs-intake.datadoghq.eu/api/v2/llmobs',
        'instrumentation-telemetry-intake.datadoghq.eu/api/v2/apmtelemetry',
      ].sort(),
    );
    expect(i.requests({ path: '/api/v2/debugger' })[0]!.url).toBe('/api/v2/debugger?ddtags=a:b');
    expect(i.metrics('fwd.site')).toHaveLength(1);
    expect(i.logs().map((l) => l.message)).toEqual(['via proxy']);
  });
});

// A payload compressed ahead of its flush with `payloadCodec` must reach the intake as the forwarder
// would have sent it uncompressed: the same bytes and headers, the same retries and 413 splits.
/** A loopback server that keeps every request's raw body and headers and answers 202. */
async function rawServer(): Promise<{ url: string; got: { headers: IncomingHttpHeaders; body: Buffer }[] }> {
  const got: { headers: IncomingHttpHeaders; body: Buffer }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST') got.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(202).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, got };
}

function codecEvents(n: number, tag = 'e'): string[] {
  return Array.from({ length: n }, (_, i) => `${tag} ${i} ${'payload text '.repeat(i % 9)}`);
}

function body(messages: string[]): Buffer {
  return Buffer.from(JSON.stringify(messages.map((message) => ({ message, status: 'info' }))));
}

function plainLogs(messages: string[]): OutgoingPayload {
  return {
    kind: 'logs',
    body: body(messages),
    contentType: 'application/json',
    headers: { 'DD-PROTOCOL': 'agent-json' },
    items: messages.length,
  };
}

/** As the logs package makes them: compressed ahead, the split over the decoded events. */
function precompressed(codec: PayloadCodec, messages: string[]): OutgoingPayload {
  const packed = codec.compress(body(messages));
  if (!packed) throw new Error('codec not ready');
  return {
    kind: 'logs',
    body: packed,
    contentType: 'application/json',
    headers: { 'DD-PROTOCOL': 'agent-json', 'Content-Encoding': codec.encoding },
    items: messages.length,
    split: () => {
      if (messages.length < 2) return undefined;
      const decoded = JSON.parse(Buffer.from(codec.decompress(packed)).toString()) as { message: string }[];
      const all = decoded.map((e) => e.message);
      const mid = all.length >> 1;
      return [plainLogs(all.slice(0, mid)), plainLogs(all.slice(mid))];
    },
  };
}

describe('payloadCodec', () => {
  it('gives the bytes and headers the forwarder sends for the same body uncompressed', async () => {
    const raw = await rawServer();
    const f = forwarder(raw.url);
    const codec = f.payloadCodec('logs')!;
    expect(codec).toBeDefined();
    const messages = codecEvents(700);
    await f.send(plainLogs(messages), deadline());
    await f.send(precompressed(codec, messages), deadline());
    expect(raw.got).toHaveLength(2);
    const [a, b] = raw.got;
    expect(b!.body.equals(a!.body)).toBe(true);
    expect(b!.headers['content-encoding']).toBe(codec.encoding);
    const { 'content-length': _a, ...headersA } = a!.headers;
    const { 'content-length': _b, ...headersB } = b!.headers;
    expect(headersB).toEqual(headersA);
    expect(Buffer.from(codec.decompress(b!.body)).equals(body(messages))).toBe(true);
  });

  it('is decoded by the intake, retried with the same bytes after a 503, and split on a 413', async () => {
    const i = await intake({ limits: { logs: { compressed: 10_000 } } });
    i.fault({ path: '/api/v2/logs', status: 503, times: 1 });
    const f = forwarder(i.url, { DD_API_KEY: i.apiKey });
    const codec = f.payloadCodec('logs')!;
    const small = codecEvents(20, 'small');
    const r = await f.send(precompressed(codec, small), deadline());
    expect(r.delivered).toBe(1);
    const [failed, retried] = i.requests({ path: '/api/v2/logs' });
    expect([failed!.status, retried!.status]).toEqual([503, 202]);
    expect(retried!.bodyBytes).toBe(failed!.bodyBytes);
    expect(retried!.contentEncoding).toBe(codec.encoding);
    expect(i.logs().map((l) => l.message)).toEqual(small);

    // Incompressible text, so that the compressed size follows the event count past the intake's limit.
    i.clear();
    const large = Array.from({ length: 40 }, () => randomBytes(300).toString('base64'));
    const r2 = await f.send(precompressed(codec, large), deadline());
    expect(r2.dropped).toEqual({});
    expect(i.requests().some((q) => q.status === 413)).toBe(true);
    expect(arrivedMessages(i)).toEqual([...large].sort());
  });

  it('holds a pre-compressed payload in the retry buffer at its compressed size, and sends it later', async () => {
    const i = await intake();
    const down = i.fault({ path: '/api/v2/logs', status: 503 });
    const f = forwarder(i.url, { DD_API_KEY: i.apiKey });
    const codec = f.payloadCodec('logs')!;
    const messages = codecEvents(300, 'later');
    const payload = precompressed(codec, messages);
    const r = await f.flush([payload], { signal: AbortSignal.timeout(300) });
    expect(r.buffered).toBe(1);
    expect(f.stats().retryBuffer.bytes).toBe(payload.body.byteLength);
    down.remove();
    expect((await f.flush([], deadline())).delivered).toBe(1);
    expect(i.logs().map((l) => l.message)).toEqual(messages);
  });

  it('is undefined where logs go uncompressed: compression off, or an Observability Pipelines Worker', () => {
    expect(
      forwarder('http://127.0.0.1:9', { DD_LOGS_CONFIG_USE_COMPRESSION: 'false' }).payloadCodec('logs'),
    ).toBeUndefined();
    const opw = forwarder('http://127.0.0.1:9', {
      DD_OBSERVABILITY_PIPELINES_WORKER_LOGS_ENABLED: 'true',
      DD_OBSERVABILITY_PIPELINES_WORKER_LOGS_URL: 'http://127.0.0.1:9/opw',
    });
    expect(opw.payloadCodec('logs')).toBeUndefined();
    expect(forwarder('http://127.0.0.1:9').payloadCodec('logs')).toBeDefined();
  });

  it('compresses with WebAssembly zstd once the module is loaded, and not before', async () => {
    const raw = await rawServer();
    const f = forwarder(raw.url, { DD_FORWARDER_ZSTD_WASM: 'true' });
    const codec = f.payloadCodec('logs')!;
    const data = body(codecEvents(200));
    if (codec.encoding !== 'zstd') return; // this Node has zstd in node:zlib: no WebAssembly
    expect(codec.compress(data)).toBeUndefined();
    await f.warmUp();
    const packed = codec.compress(data)!;
    expect(packed.byteLength).toBeLessThan(data.byteLength);
    expect(Buffer.from(codec.decompress(packed)).equals(data)).toBe(true);
  });
});

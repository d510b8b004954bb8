import { afterEach, describe, expect, it } from 'vitest';
import { createForwarder, type Forwarder, nativeZstdCodec } from '../src/index.js';
import { CA_FILE, decodeBody, FakeIntake } from './helpers/intake.js';
import { captureLogger } from './helpers/logger.js';
import { API_KEY, jsonPayload, manualClock, optionsFor } from './helpers/options.js';

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

describe('transport', () => {
  it('posts each kind to its intake path with the key, content type and the spec compression', async () => {
    const i = await intake();
    const f = forwarder(i.url);
    const kinds = ['series', 'sketches', 'check_run', 'events', 'logs', 'traces', 'stats'] as const;
    const result = await f.flush(
      kinds.map((k) => jsonPayload(k, { kind: k })),
      deadline(),
    );
    expect(result).toEqual({ delivered: kinds.length, buffered: 0, dropped: {} });
    const byPath = Object.fromEntries(i.posts.map((r) => [r.path, r]));
    expect(Object.keys(byPath).sort()).toEqual(
      [
        '/api/v2/series',
        '/api/beta/sketches',
        '/api/v1/check_run',
        '/intake/',
        '/api/v2/logs',
        '/api/v0.2/traces',
        '/api/v0.2/stats',
      ].sort(),
    );
    for (const r of i.posts) {
      expect(r.headers['dd-api-key']).toBe(API_KEY);
      expect(r.headers['content-type']).toBe('application/json');
    }
    // zstd where the spec gives it and this Node has it in zlib (>= 22.15), else gzip; stats are gzip.
    const zstdOrGzip = nativeZstdCodec() ? 'zstd' : 'gzip';
    expect(byPath['/api/v0.2/stats']!.headers['content-encoding']).toBe('gzip');
    for (const p of ['/api/v2/series', '/api/beta/sketches', '/api/v2/logs', '/api/v0.2/traces'])
      expect(byPath[p]!.headers['content-encoding']).toBe(zstdOrGzip);
    for (const r of i.posts) {
      const decoded = JSON.parse((await decodeBody(r)).toString('utf8'));
      expect(kinds).toContain(decoded.kind);
    }
    expect(f.stats().zstd).toBe(nativeZstdCodec() ? 'native' : 'none');
  });

  it('sends zstd from the WebAssembly codec when asked to (DD_FORWARDER_ZSTD_WASM)', async () => {
    const i = await intake();
    const f = forwarder(i.url, { DD_FORWARDER_ZSTD_WASM: 'true' });
    await f.warmUp();
    await f.send(jsonPayload('logs', { wasm: true }), deadline());
    expect(i.posts[0]!.headers['content-encoding']).toBe('zstd');
    expect(JSON.parse(String(await decodeBody(i.posts[0]!)))).toEqual({ wasm: true });
    expect(f.stats().zstd).toBe(nativeZstdCodec() ? 'native' : 'wasm');
  });

  it('passes an already encoded payload through unchanged, with its headers and query string', async () => {
    const i = await intake();
    const f = forwarder(i.url);
    const body = Buffer.from('already-encoded-by-the-tracer');
    const r = await f.send(
      {
        kind: 'logs',
        body,
        contentType: 'application/octet-stream',
        headers: { 'Content-Encoding': 'gzip', 'DD-EVP-ORIGIN': 'dd-trace-js' },
        query: 'ddtags=env:prod',
      },
      deadline(),
    );
    expect(r.delivered).toBe(1);
    const got = i.posts[0]!;
    expect(got.path).toBe('/api/v2/logs?ddtags=env:prod');
    expect(got.headers['content-encoding']).toBe('gzip');
    expect(got.headers['dd-evp-origin']).toBe('dd-trace-js');
    expect(got.body.equals(body)).toBe(true);
  });

  it('opens the connection during warm-up so the first flush reuses it', async () => {
    const i = await intake();
    const f = forwarder(i.url);
    // Two sockets per host by default, opened concurrently; metrics, logs and traces share this one host.
    expect(await f.warmUp()).toBe(2);
    expect(i.connections).toBe(2);
    await f.flush([jsonPayload('series', { a: 1 }), jsonPayload('sketches', { a: 1 })], deadline());
    await f.send(jsonPayload('logs', { a: 2 }), deadline());
    expect(i.posts).toHaveLength(3);
    expect(i.connections).toBe(2);
  });

  it('does not reuse a socket idle past the cap, judged by the injected clock', async () => {
    const i = await intake();
    const clock = manualClock();
    const f = forwarder(i.url, {}, captureLogger(), {
      clock,
      idleSocketMs: 2_000,
      freezeGapMs: 60_000,
      connectionsPerHost: 1,
    });
    await f.send(jsonPayload('series', { a: 1 }), deadline());
    clock.advance(1_000);
    await f.send(jsonPayload('series', { a: 2 }), deadline());
    clock.advance(2_500);
    await f.send(jsonPayload('series', { a: 3 }), deadline());
    expect(i.posts.map((r) => r.connection)).toEqual([1, 1, 2]);
  });

  it('discards every socket after a freeze (a jump in monotonic time) and re-opens one in the background', async () => {
    const i = await intake();
    const clock = manualClock();
    const f = forwarder(i.url, {}, captureLogger(), {
      clock,
      idleSocketMs: 60_000,
      freezeGapMs: 1_000,
      connectionsPerHost: 1,
    });
    await f.warmUp();
    await f.send(jsonPayload('series', { a: 1 }), deadline());
    expect(i.posts.map((r) => r.connection)).toEqual([1]);
    clock.advance(5_000); // the sandbox was frozen
    await f.send(jsonPayload('series', { a: 2 }), deadline());
    expect(i.posts[1]!.connection).toBeGreaterThan(1);
    expect(f.stats().freezes).toBe(1);
    // The re-opened socket is the one the next send uses.
    const before = i.connections;
    await f.send(jsonPayload('series', { a: 3 }), deadline());
    expect(i.connections).toBe(before);
  });

  it('speaks HTTPS to an intake whose CA is given by DD_TLS_CERT_FILE', async () => {
    const i = await intake(true);
    const f = forwarder(i.url, { DD_TLS_CERT_FILE: CA_FILE });
    const r = await f.send(jsonPayload('series', { tls: true }), deadline());
    expect(r.delivered).toBe(1);
    expect(i.posts).toHaveLength(1);
  });

  it('refuses an untrusted certificate, and accepts it with DD_SKIP_SSL_VALIDATION', async () => {
    const i = await intake(true);
    const strict = forwarder(i.url, {}, captureLogger(), { maxAttempts: 1 });
    const r1 = await strict.send(jsonPayload('series', { a: 1 }), deadline());
    expect(r1.delivered).toBe(0);
    expect(r1.buffered).toBe(1);
    expect(i.posts).toHaveLength(0);
    const lax = forwarder(i.url, { DD_SKIP_SSL_VALIDATION: 'true' });
    const r2 = await lax.send(jsonPayload('series', { a: 1 }), deadline());
    expect(r2.delivered).toBe(1);
  });

  it('keeps the trust store and NODE_EXTRA_CA_CERTS when DD_TLS_CERT_FILE is set', async () => {
    const i = await intake(true);
    const opts = optionsFor(i.url, { DD_TLS_CERT_FILE: '/nonexistent/ca.pem' });
    expect(opts.tls.ca).toBeUndefined();
    const withExtra = optionsFor(i.url, { DD_TLS_CERT_FILE: CA_FILE, NODE_EXTRA_CA_CERTS: CA_FILE });
    expect(withExtra.tls.ca!.length).toBeGreaterThan(100);
    expect(withExtra.tls.ca!.filter((c) => c.includes('BEGIN CERTIFICATE')).length).toBeGreaterThan(100);
    const f = createForwarder(withExtra);
    cleanups.push(() => f.close());
    expect((await f.send(jsonPayload('series', {}), deadline())).delivered).toBe(1);
  });
});

describe('freeze detection', () => {
  it('notices a thaw from its own ticker, before any send', async () => {
    const i = await intake();
    const clock = manualClock();
    const f = forwarder(i.url, {}, captureLogger(), { clock, freezeGapMs: 1_000, freezeTickMs: 10 });
    await f.warmUp();
    expect(f.stats().freezes).toBe(0);
    clock.advance(10_000);
    await expect.poll(() => f.stats().freezes).toBe(1);
  });
});

describe('answers', () => {
  it('reads only the status: a long body is not read to its end, and its socket is not reused', async () => {
    const i = await intake();
    const long = Buffer.alloc(4 * 1024 * 1024, 0x20);
    i.behaviour = (_r, n) => (n === 0 ? { body: long } : undefined);
    const f = forwarder(i.url);
    expect(await f.send(jsonPayload('series', { a: 1 }), deadline())).toEqual({
      delivered: 1,
      buffered: 0,
      dropped: {},
    });
    expect(await f.send(jsonPayload('series', { a: 2 }), deadline())).toEqual({
      delivered: 1,
      buffered: 0,
      dropped: {},
    });
    expect(i.posts).toHaveLength(2);
    expect(i.posts[1]!.connection).not.toBe(i.posts[0]!.connection);
  });

  it('skips an informational answer (103 Early Hints) and reads the status after it', async () => {
    const i = await intake();
    i.behaviour = (_r, n) => (n === 0 ? { earlyHints: true } : { earlyHints: true, status: 400 });
    const f = forwarder(i.url);
    expect((await f.send(jsonPayload('series', { a: 1 }), deadline())).delivered).toBe(1);
    expect((await f.send(jsonPayload('series', { a: 2 }), deadline())).dropped).toEqual({ rejected: 1 });
    expect(i.posts).toHaveLength(2);
  });
});

import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createForwarder, type Forwarder, fromEnv } from '../src/index.js';
import { CA_FILE, FakeIntake } from './helpers/intake.js';
import { captureLogger } from './helpers/logger.js';
import { jsonPayload } from './helpers/options.js';
import { ConnectProxy } from './helpers/proxy.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup() {
  const intake = await FakeIntake.start({ tls: true });
  const proxy = await ConnectProxy.start();
  cleanups.push(
    () => intake.close(),
    () => proxy.close(),
  );
  return { intake, proxy };
}

function forwarder(env: Record<string, string>, logger = captureLogger()): Forwarder {
  const f = createForwarder({
    ...fromEnv({ DD_API_KEY: 'proxy-test-key-0000', ...env }, logger),
    freezeTickMs: 0,
  });
  cleanups.push(() => f.close());
  return f;
}

const deadline = () => ({ signal: AbortSignal.timeout(5_000) });

describe('proxy', () => {
  it('tunnels every Datadog destination through DD_PROXY_HTTPS (CONNECT), TLS end to end', async () => {
    const { intake, proxy } = await setup();
    const f = forwarder({
      DD_DD_URL: intake.url,
      DD_APM_DD_URL: intake.url,
      DD_LOGS_CONFIG_LOGS_DD_URL: intake.url,
      DD_TLS_CERT_FILE: CA_FILE,
      DD_PROXY_HTTPS: proxy.url,
      HTTPS_PROXY: 'http://127.0.0.1:9', // DD_PROXY_HTTPS wins
    });
    expect(await f.warmUp()).toBeGreaterThan(0);
    const r = await f.flush([jsonPayload('series', { a: 1 }), jsonPayload('logs', { a: 2 })], deadline());
    expect(r.delivered).toBe(2);
    expect(proxy.tunnels.length).toBeGreaterThan(0);
    expect(new Set(proxy.tunnels)).toEqual(new Set([`127.0.0.1:${intake.port}`]));
    expect(intake.posts).toHaveLength(2);
  });

  it('falls back to HTTPS_PROXY and passes the proxy credentials', async () => {
    const { intake, proxy } = await setup();
    const withAuth = proxy.url.replace('http://', 'http://user:s3cret@');
    const f = forwarder({ DD_DD_URL: intake.url, DD_TLS_CERT_FILE: CA_FILE, HTTPS_PROXY: withAuth });
    expect((await f.send(jsonPayload('series', {}), deadline())).delivered).toBe(1);
    expect(proxy.authorizations[0]).toBe(`Basic ${Buffer.from('user:s3cret').toString('base64')}`);
  });

  for (const variable of ['NO_PROXY', 'DD_PROXY_NO_PROXY']) {
    it(`goes direct when ${variable} names the site`, async () => {
      const { intake, proxy } = await setup();
      const logger = captureLogger();
      const f = forwarder(
        {
          DD_SITE: 'datadoghq.eu',
          DD_DD_URL: intake.url,
          DD_TLS_CERT_FILE: CA_FILE,
          HTTPS_PROXY: proxy.url,
          [variable]: 'localhost,169.254.169.254,datadoghq.eu',
        },
        logger,
      );
      expect((await f.send(jsonPayload('series', {}), deadline())).delivered).toBe(1);
      expect(proxy.tunnels).toEqual([]);
      expect(logger.text()).toMatch(/proxy is disabled/);
    });
  }

  it('keeps the proxy, and says so, when NO_PROXY lists other hosts only', async () => {
    const { intake, proxy } = await setup();
    const logger = captureLogger();
    const f = forwarder(
      { DD_DD_URL: intake.url, DD_TLS_CERT_FILE: CA_FILE, HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1' },
      logger,
    );
    expect((await f.send(jsonPayload('series', {}), deadline())).delivered).toBe(1);
    expect(proxy.tunnels).toHaveLength(1);
    expect(
      logger.lines.some((l) => l.level === 'warn' && /per-host entries are not supported/.test(l.msg)),
    ).toBe(true);
  });

  it('opens a new tunnel after a freeze', async () => {
    const { intake, proxy } = await setup();
    let t = 0;
    const f = createForwarder({
      ...fromEnv(
        { DD_API_KEY: 'k-000000', DD_DD_URL: intake.url, DD_TLS_CERT_FILE: CA_FILE, HTTPS_PROXY: proxy.url },
        captureLogger(),
      ),
      freezeTickMs: 0,
      connectionsPerHost: 1,
      clock: { now: () => t },
    });
    cleanups.push(() => f.close());
    await f.send(jsonPayload('series', {}), deadline());
    expect(proxy.tunnels).toHaveLength(1);
    t += 60_000;
    await f.send(jsonPayload('series', {}), deadline());
    expect(proxy.tunnels).toHaveLength(2);
    expect(intake.posts.map((p) => p.connection)).toEqual([1, 2]);
  });

  it('a proxy that never answers CONNECT cannot hold a send or a warm-up past its deadline', async () => {
    const silent = net.createServer(() => {});
    const sockets = new Set<net.Socket>();
    silent.on('connection', (s) => sockets.add(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    });
    const port = (silent.address() as net.AddressInfo).port;
    const f = forwarder({ DD_DD_URL: 'https://127.0.0.1:1', HTTPS_PROXY: `http://127.0.0.1:${port}` });
    let started = performance.now();
    const r = await f.send(jsonPayload('series', {}), { signal: AbortSignal.timeout(300) });
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(r.buffered).toBe(1);
    started = performance.now();
    expect(await f.warmUp(AbortSignal.timeout(300))).toBe(0);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('warns at start-up about what the Lambda extension does not support', () => {
    const logger = captureLogger();
    fromEnv(
      {
        DD_PROXY_HTTP: 'http://proxy:3128',
        https_proxy: 'http://proxy:3128',
        no_proxy: 'x',
        DD_HTTP_PROTOCOL: 'http2',
      },
      logger,
    );
    const warnings = logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg);
    expect(warnings.some((w) => w.startsWith('DD_PROXY_HTTP is not supported'))).toBe(true);
    expect(warnings.some((w) => w.startsWith('https_proxy (lower case) is not read'))).toBe(true);
    expect(warnings.some((w) => w.startsWith('no_proxy (lower case) is not read'))).toBe(true);
    expect(warnings.some((w) => w.startsWith('DD_HTTP_PROTOCOL=http2 is not supported'))).toBe(true);
  });
});

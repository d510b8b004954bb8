import { createSocket } from 'node:dgram';
import StatsD from 'hot-shots';
import { afterEach, describe, expect, it } from 'vitest';
import { Aggregator, DogStatsDServer, fromEnv, type Logger } from '../src/index.js';
import { waitFor } from './helpers.js';

const servers: { server: DogStatsDServer; aggregator: Aggregator }[] = [];
afterEach(async () => {
  // Closing, then flushing every bucket, also ends a parser worker.
  await Promise.all(
    servers.splice(0).map(async ({ server, aggregator }) => {
      await server.close();
      await aggregator.flush({ all: true });
    }),
  );
});

type Mode = 'main' | 'worker';

async function start(
  mode: Mode,
  options: { aggregator?: Aggregator; bufferSize?: number; host?: string; logger?: Logger } = {},
) {
  const aggregator = options.aggregator ?? new Aggregator();
  const server = new DogStatsDServer({ aggregator, port: 0, workers: mode === 'worker' ? 1 : 0, ...options });
  servers.push({ server, aggregator });
  const { port } = await server.listen();
  // The worker mode must really parse in the worker (it needs the built dist/parse-worker.js).
  expect(server.parsing).toBe(mode);
  return { aggregator, server, port };
}

function client(port: number, extra: Record<string, unknown> = {}): StatsD {
  return new StatsD({ host: '127.0.0.1', port, errorHandler: (e) => console.error(e), ...extra });
}

const closeClient = (c: StatsD) => new Promise<void>((resolve) => c.close(() => resolve()));

// Every test runs with parsing in the socket callback and in the parser worker thread.
describe.each(['main', 'worker'] as const)(
  'DogStatsDServer with hot-shots, parsing on the %s thread',
  (mode) => {
    it('receives every metric type, an event and a service check, unbuffered', async () => {
      const { aggregator, port } = await start(mode);
      const c = client(port, { globalTags: { env: 'test' } });
      c.increment('hs.count', 1, ['a:b']);
      c.decrement('hs.count', 3, ['a:b']);
      c.gauge('hs.gauge', 12.5);
      c.histogram('hs.hist', 42);
      c.timing('hs.timing', 120);
      c.distribution('hs.dist', 7.25, ['weird tag!']);
      c.set('hs.set', 'user-1');
      c.set('hs.set', 'user-2');
      c.set('hs.set', 'user-1');
      c.event('deploy', 'line1\nline2', { alert_type: 'success', priority: 'low', aggregation_key: 'k' }, [
        'e:1',
      ]);
      c.check('hs.check', c.CHECKS.WARNING, { hostname: 'h1', message: 'degraded' }, ['c:1']);
      await waitFor(() => aggregator.stats().lines >= 11, 10_000, '11 lines');
      await closeClient(c);
      const r = await aggregator.flush({ all: true });
      const v = (m: string) => r.series.find((s) => s.metric === m)?.points[0]?.value;
      expect(v('hs.count')).toBe(-2);
      expect(r.series.find((s) => s.metric === 'hs.count')!.tags).toEqual(['a:b', 'env:test']);
      expect(v('hs.gauge')).toBe(12.5);
      expect(v('hs.hist.max')).toBe(42);
      expect(v('hs.timing.avg')).toBe(120);
      expect(v('hs.set')).toBe(2);
      expect(r.sketches.map((s) => [s.metric, s.tags, s.sketch.count, s.sketch.sum])).toEqual([
        ['hs.dist', ['env:test', 'weird tag!'], 1, 7.25],
      ]);
      expect(r.events).toHaveLength(1);
      expect(r.events[0]).toMatchObject({
        title: 'deploy',
        text: 'line1\nline2',
        alertType: 'success',
        priority: 'low',
        aggregationKey: 'k',
        tags: ['e:1', 'env:test'],
      });
      expect(r.serviceChecks[0]).toMatchObject({
        name: 'hs.check',
        status: 1,
        host: 'h1',
        message: 'degraded',
      });
      expect(aggregator.stats().parseErrors).toBe(0);
    });

    it('receives buffered datagrams (several lines each)', async () => {
      const { aggregator, port } = await start(mode);
      const c = client(port, { maxBufferSize: 1432, bufferFlushInterval: 20 });
      for (let i = 0; i < 500; i++) c.distribution('hs.buffered', i, [`i:${i % 5}`]);
      for (let i = 0; i < 500; i++) c.increment('hs.calls');
      await closeClient(c);
      await waitFor(() => aggregator.stats().lines >= 1000, 10_000, '1000 lines');
      const stats = aggregator.stats();
      expect(stats.datagrams).toBeLessThan(100);
      const r = await aggregator.flush({ all: true });
      expect(r.sketches.map((s) => s.sketch.count)).toEqual([100, 100, 100, 100, 100]);
      expect(r.series.find((s) => s.metric === 'hs.calls')!.points[0]!.value).toBe(500);
    });

    it('every type buffered, sampled lines scaled per type, and timestamped samples bucketed', async () => {
      const { aggregator, port } = await start(mode);
      const c = client(port, { maxBufferSize: 8192, bufferFlushInterval: 20 });
      const random = Math.random;
      Math.random = () => 0; // hot-shots sends a sampled metric when Math.random() < rate
      try {
        c.increment('b.count', 1, 0.25, ['k:v']);
        c.histogram('b.hist', 10, 0.5);
        c.distribution('b.dist', 3, 0.5);
        c.gauge('b.gauge', 4, 0.5);
        c.timing('b.timing', 8);
        c.set('b.set', 'm1');
        c.event('ev', 'text');
        c.check('b.check', c.CHECKS.CRITICAL);
      } finally {
        Math.random = random;
      }
      const at = Math.floor(Date.now() / 1000) - 35;
      c.distribution('b.dated', 1, { timestamp: at, tags: ['t:1'] });
      c.increment('b.dated_count', 5, { timestamp: at });
      await closeClient(c);
      await waitFor(() => aggregator.stats().lines >= 10, 10_000, '10 lines');
      expect(aggregator.stats().datagrams).toBeLessThan(10);
      const r = await aggregator.flush({ all: true });
      const v = (m: string) => r.series.find((s) => s.metric === m)?.points[0]?.value;
      expect(v('b.count')).toBe(4);
      expect(v('b.hist.count')).toBe(0.2);
      expect(v('b.gauge')).toBe(4);
      expect(v('b.timing.max')).toBe(8);
      expect(v('b.set')).toBe(1);
      expect(r.sketches.find((s) => s.metric === 'b.dist')!.sketch.count).toBe(2);
      const dated = r.sketches.find((s) => s.metric === 'b.dated')!;
      expect(dated.ts).toBe(at - (at % 10));
      const datedCount = r.series.find((s) => s.metric === 'b.dated_count')!;
      expect(datedCount.points[0]).toEqual({ timestamp: at - (at % 10), value: 5 });
      expect(r.events.map((e) => e.title)).toEqual(['ev']);
      expect(r.serviceChecks.map((x) => x.status)).toEqual([2]);
    });

    it('close() drains the datagrams already queued in the socket', async () => {
      const { aggregator, server, port } = await start(mode);
      const sender = createSocket('udp4');
      const n = 2000;
      let sent = 0;
      await new Promise<void>((resolve) => {
        for (let i = 0; i < n; i++) {
          sender.send(`drain.${i % 10}:1|c`, port, '127.0.0.1', () => {
            if (++sent === n) resolve();
          });
        }
      });
      sender.close();
      await server.close();
      expect(aggregator.stats().datagrams).toBe(n);
      const r = await aggregator.flush({ all: true });
      expect(r.series.reduce((sum, s) => sum + s.points[0]!.value, 0)).toBe(n);
    });

    it('truncates datagrams longer than the buffer size, as recv does', async () => {
      const { aggregator, port } = await start(mode, { bufferSize: 16 });
      const sender = createSocket('udp4');
      await new Promise<void>((r) =>
        sender.send('a:1|c\nlong.metric.name:1|c', port, '127.0.0.1', () => r()),
      );
      sender.close();
      await waitFor(() => aggregator.stats().datagrams === 1);
      expect(aggregator.stats()).toMatchObject({ bytes: 16, lines: 2, parseErrors: 1 });
    });

    it('requests an 8 MiB receive buffer and logs what the kernel granted', async () => {
      const infos: string[] = [];
      const logger: Logger = { debug() {}, warn() {}, error() {}, info: (m) => infos.push(m) };
      const { server, port } = await start(mode, { logger });
      expect(server.grantedRecvBufferSize).toBeGreaterThan(0);
      expect(infos[0]).toContain(`127.0.0.1:${port}`);
      expect(infos[0]).toContain(`${server.grantedRecvBufferSize} bytes granted (8388608 requested)`);
    });

    it('binds all interfaces with DD_DOGSTATSD_NON_LOCAL_TRAFFIC=true and still hears loopback', async () => {
      const config = fromEnv({ DD_DOGSTATSD_NON_LOCAL_TRAFFIC: 'true' });
      const { aggregator, server, port } = await start(mode, { host: config.host });
      expect(server.address).toBe('0.0.0.0');
      const sender = createSocket('udp4');
      await new Promise<void>((r) => sender.send('x:1|g', port, '127.0.0.1', () => r()));
      sender.close();
      await waitFor(() => aggregator.stats().lines === 1);
    });

    it('survives garbage datagrams and keeps serving', async () => {
      const { aggregator, port } = await start(mode);
      const sender = createSocket('udp4');
      const garbage = [
        Buffer.from([0xff, 0xfe, 0x00, 0x7c]),
        Buffer.from('|||\n_e{99,99}:x\n_sc|'),
        Buffer.alloc(0),
      ];
      for (const g of garbage) await new Promise<void>((r) => sender.send(g, port, '127.0.0.1', () => r()));
      await new Promise<void>((r) => sender.send('ok:1|c', port, '127.0.0.1', () => r()));
      sender.close();
      await waitFor(() => aggregator.stats().metricSamples === 1);
      expect(aggregator.stats().parseErrors).toBe(4);
    });
  },
);

import { createSocket } from 'node:dgram';
import type { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Aggregator,
  type AggregatorOptions,
  DogStatsDServer,
  flushPayloads,
  type Logger,
} from '../src/index.js';
import { createRing, RingReader, RingWriter } from '../src/ring.js';
import { ParseWorkerLink } from '../src/worker-link.js';
import { fixtureDatagrams, waitFor } from './helpers.js';

interface Recorded extends Logger {
  lines: { level: string; msg: string }[];
}

function recorder(): Recorded {
  const lines: { level: string; msg: string }[] = [];
  const at = (level: string) => (msg: string) => lines.push({ level, msg });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** An aggregator whose parsing a worker runs (no socket), ended after the test. */
function inWorker(aggregator: Aggregator): ParseWorkerLink {
  const link = ParseWorkerLink.start(aggregator);
  if (link === undefined) throw new Error('the parser worker did not start (is dist/ built?)');
  cleanups.push(async () => {
    await link.close();
    await aggregator.flush({ all: true });
  });
  return link;
}

async function startServer(
  aggregator: Aggregator,
  extra: { workerQueueBytes?: number; logger?: Logger } = {},
) {
  const server = new DogStatsDServer({ aggregator, port: 0, workers: 1, ...extra });
  const { port } = await server.listen();
  expect(server.parsing).toBe('worker');
  cleanups.push(async () => {
    await server.close();
    await aggregator.flush({ all: true });
  });
  return { server, port };
}

async function sendAll(port: number, datagrams: (string | Buffer)[]): Promise<void> {
  const sender = createSocket('udp4');
  let sent = 0;
  await new Promise<void>((resolve) => {
    for (const d of datagrams) {
      sender.send(d, port, '127.0.0.1', () => {
        if (++sent === datagrams.length) resolve();
      });
    }
  });
  sender.close();
}

describe('the ring between the socket and the parser worker', () => {
  it('keeps datagrams whole, in order and with their arrival time across wrap-arounds; a full ring refuses', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 700 }), fc.constant(-1)), { maxLength: 300 }),
        (ops) => {
          const ring = createRing(2048);
          const writer = new RingWriter(ring);
          const reader = new RingReader(ring);
          const queued: { bytes: Buffer; at: number }[] = [];
          const into = Buffer.alloc(1024);
          let seq = 0;
          for (const op of ops) {
            if (op < 0) {
              const n = reader.next(into);
              const want = queued.shift();
              if (want === undefined) expect(n).toBe(-1);
              else {
                expect(into.subarray(0, n)).toEqual(want.bytes);
                expect(reader.arrivedMs).toBe(want.at);
              }
              reader.release();
              continue;
            }
            seq++;
            // Only the first `op` bytes of a longer buffer are queued, as a truncated datagram.
            const bytes = Buffer.alloc(op + 5, seq & 0xff);
            if (writer.push(bytes, op, seq * 1000.5))
              queued.push({ bytes: bytes.subarray(0, op), at: seq * 1000.5 });
            else expect(queued.length).toBeGreaterThan(0);
          }
          for (const want of queued) {
            const n = reader.next(into);
            expect(into.subarray(0, n)).toEqual(want.bytes);
          }
          expect(reader.next(into)).toBe(-1);
        },
      ),
      { numRuns: 300 },
    );
  });
});

// The same traffic through an aggregator on this thread and through one whose worker parses it
// must give the same payloads, byte for byte, and the same counters.
describe('the parser worker aggregates as the socket thread does', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 7);
  const nowSec = Math.floor(now / 1000);
  const traffic = [
    ...fixtureDatagrams('hot-shots-17'),
    ...fixtureDatagrams('dd-lambda-v12'),
    'req:1|c|#route:/a,route:/a,env:x\nreq:2|c|@0.5|#env:x,route:/a\nlat:1:2:3|ms|#a\nlat:4|h|@0.25',
    `dated:5|d|#t:1|T${nowSec - 35}\ndated.count:3|c|T${nowSec + 100}\nusers:u1|s\nusers:u2|s\nusers:u1|s`,
    'temp:21.5|g|#host:web1\naws.lambda.enhanced.invocations:1|c\nns.other:1|c|#dd.internal.resource:queue:q1',
    '_e{6,4}:deploy|v1.2|t:success|#team:x\n_sc|db.up|1|#db:main|m:slow\n_sc|db.down|2|h:h2',
    'bad line\nalso:bad|zz\n:1|c\nok.after.bad:1|d',
    ...Array.from({ length: 40 }, (_, i) => `ctx.${i}:${i}|d|#i:${i}`),
  ];
  const options: AggregatorOptions = {
    now: () => now,
    globalTags: ['env:prod', 'functionname:f', 'memorysize:128'],
    customMetricsExcludeTagKeys: ['memorysize'],
    namespace: 'app',
    histogramAggregates: ['max', 'min', 'median', 'avg', 'sum', 'count'],
    histogramPercentiles: [0.5, 0.99],
    maxContexts: 30,
    maxEvents: 3,
    maxServiceChecks: 1,
  };
  const feed = (a: Aggregator) => {
    for (const d of traffic) a.ingest(Buffer.from(d));
    a.submit({ name: 'app.req', value: 10, type: 'count', tags: ['route:/a', 'env:x'] });
    a.submit({ name: 'aws.lambda.enhanced.duration', value: 0.12, tags: ['cold_start:true'] });
    a.submit({ name: 'enhanced.set', value: 'member', type: 'set' });
  };

  it('flushPayloads: the same bodies, events and service checks, and the same counters', async () => {
    const mainLog = recorder();
    const workerLog = recorder();
    const inThread = new Aggregator({ ...options, logger: mainLog });
    const viaWorker = new Aggregator({ ...options, logger: workerLog });
    inWorker(viaWorker);
    feed(inThread);
    feed(viaWorker);
    const expected = await flushPayloads(inThread, { all: true, hostname: 'h' });
    const got = await flushPayloads(viaWorker, { all: true, hostname: 'h' });
    expect(got.map((p) => [p.kind, p.items, p.contentType])).toEqual(
      expected.map((p) => [p.kind, p.items, p.contentType]),
    );
    expect(got.map((p) => Buffer.from(p.body).toString('base64'))).toEqual(
      expected.map((p) => Buffer.from(p.body).toString('base64')),
    );
    // split() still halves what came from the worker.
    const series = got.find((p) => p.kind === 'series')!;
    expect(series.split?.()?.map((h) => h.items)).toEqual(
      expected
        .find((p) => p.kind === 'series')!
        .split?.()
        ?.map((h) => h.items),
    );
    const stats = viaWorker.stats();
    expect({ ...stats, lastFlushLongestSliceMs: 0 }).toEqual({
      ...inThread.stats(),
      lastFlushLongestSliceMs: 0,
    });
    expect(stats.contextsDropped).toBeGreaterThan(0);
    expect(stats.eventsDropped + stats.serviceChecksDropped).toBeGreaterThan(0);
    expect(stats.parseErrors).toBe(3);
    // Bad lines and drops logged on this thread's logger, rate-limited the same way (one line
    // per 10 s of the clock, which stands still here).
    const warned = (l: Recorded, what: string) =>
      l.lines.filter((x) => x.level === 'warn' && x.msg.includes(what));
    expect(warned(mainLog, 'invalid line')).toHaveLength(1);
    expect(warned(workerLog, 'invalid line')).toEqual(warned(mainLog, 'invalid line'));
    expect(warned(workerLog, 'dropping').length).toBeGreaterThan(0);
  });

  it('flush(): the same series, sketches (as AgentSketch), events and service checks, bucket by bucket', async () => {
    const inThread = new Aggregator(options);
    const viaWorker = new Aggregator(options);
    inWorker(viaWorker);
    feed(inThread);
    feed(viaWorker);
    // Closed buckets only, then the rest.
    for (const all of [false, true]) {
      const expected = await inThread.flush({ all });
      const got = await viaWorker.flush({ all });
      expect(got.series).toEqual(expected.series);
      expect(got.events).toEqual(expected.events);
      expect(got.serviceChecks).toEqual(expected.serviceChecks);
      const view = (r: typeof got) =>
        r.sketches.map((s) => ({
          ...s,
          sketch: [s.sketch.count, s.sketch.sum, s.sketch.bins(), s.sketch.quantile(0.5)],
        }));
      expect(view(got)).toEqual(view(expected));
    }
  });

  it('a flush of many chunks (posted a few at a time) gives the same payloads', async () => {
    const inThread = new Aggregator({ now: () => now });
    const viaWorker = new Aggregator({ now: () => now });
    inWorker(viaWorker);
    for (const a of [inThread, viaWorker]) {
      for (let i = 0; i < 6000; i += 20) {
        const lines = Array.from(
          { length: 20 },
          (_, j) => `many.${(i + j) % 3}:${j}|${j % 2 ? 'd' : 'c'}|#ctx:${i + j}`,
        );
        a.ingest(Buffer.from(lines.join('\n')));
      }
    }
    const expected = await flushPayloads(inThread, { all: true });
    const got = await flushPayloads(viaWorker, { all: true });
    expect(got.map((p) => p.items)).toEqual([1000, 1000, 1000, 1000, 1000, 1000]);
    expect(got.map((p) => Buffer.from(p.body).toString('base64'))).toEqual(
      expected.map((p) => Buffer.from(p.body).toString('base64')),
    );
  });
});

describe('DogStatsDServer with a parser worker', () => {
  it('a full queue drops the datagram, counts it and says so (rate-limited); the rest is parsed', async () => {
    const logger = recorder();
    const aggregator = new Aggregator({ logger });
    // 1 KiB holds one 600-byte datagram: the socket's bursts of datagrams outrun the worker's wake-up.
    const { port } = await startServer(aggregator, { workerQueueBytes: 1024, logger });
    const n = 1000;
    const pad = 'x'.repeat(580);
    await sendAll(
      port,
      Array.from({ length: n }, () => `full:1|c|#p:${pad}`),
    );
    await waitFor(() => {
      const s = aggregator.stats();
      return s.datagrams + s.datagramsDropped === n;
    });
    const s = aggregator.stats();
    expect(s.datagramsDropped).toBeGreaterThan(0);
    const full = logger.lines.filter((l) => l.msg.includes('queue is full'));
    expect(full).toHaveLength(1);
    const r = await aggregator.flush({ all: true });
    expect(r.series.find((x) => x.metric === 'full')!.points[0]!.value).toBe(s.datagrams);
  });

  it('shutdown: what is still queued for the worker is parsed and flushed', async () => {
    const aggregator = new Aggregator();
    const link = inWorker(aggregator);
    // Queued at once, while the worker is still starting: all of it waits in the ring.
    for (let i = 0; i < 1000; i++) aggregator.ingest(Buffer.from(`queued.${i % 7}:1|c\nqueued.d:${i}|d`));
    expect(link.queuedBytes).toBeGreaterThan(0);
    await link.close();
    expect(aggregator.stats().datagrams).toBe(1000);
    const payloads = await flushPayloads(aggregator, { all: true });
    expect(payloads.map((p) => p.kind)).toEqual(['series', 'sketches']);
    const body = JSON.parse(Buffer.from(payloads[0]!.body).toString()) as {
      series: { points: { value: number }[] }[];
    };
    expect(body.series.reduce((sum, x) => sum + x.points[0]!.value, 0)).toBe(1000);
    // The last flush after close ended the worker: the aggregator is back on this thread.
    expect(link.running).toBe(false);
    aggregator.ingest(Buffer.from('after:1|c'));
    expect(aggregator.stats()).toMatchObject({ datagrams: 1001, lines: 2001 });
  });

  it('a worker that dies: said once, parsing falls back to this thread, no flush stalls', async () => {
    const logger = recorder();
    const aggregator = new Aggregator({ logger });
    const { server, port } = await startServer(aggregator, { logger });
    await sendAll(
      port,
      Array.from({ length: 10 }, () => 'before:1|c'),
    );
    await waitFor(() => aggregator.stats().datagrams === 10);
    const link = (server as unknown as { worker: ParseWorkerLink }).worker;
    const pending = aggregator.flush({ all: false });
    await (link as unknown as { worker: Worker }).worker.terminate();
    await pending;
    await waitFor(() => server.parsing === 'main');
    await sendAll(
      port,
      Array.from({ length: 5 }, () => 'after:1|c'),
    );
    // The counters carry on from the worker's.
    await waitFor(() => aggregator.stats().datagrams === 15);
    const r = await aggregator.flush({ all: true });
    expect(r.series.find((x) => x.metric === 'after')!.points[0]!.value).toBe(5);
    const said = logger.lines.filter((l) => l.msg.includes('parser worker stopped'));
    expect(said).toHaveLength(1);
    expect(said[0]!.level).toBe('error');
  });

  it.each([
    ['an origin function', (logger: Logger) => new Aggregator({ logger, origin: () => undefined })],
    [
      'samples already (they would not join the worker contexts)',
      (logger: Logger) => {
        const a = new Aggregator({ logger });
        a.submit({ name: 'o', value: 2, type: 'count' });
        return a;
      },
    ],
  ])('an aggregator with %s parses on the socket thread, and says why', async (_, make) => {
    const logger = recorder();
    const aggregator = make(logger);
    const before = aggregator.stats().metricSamples;
    const server = new DogStatsDServer({ aggregator, port: 0, workers: 1, logger });
    const { port } = await server.listen();
    cleanups.push(() => server.close());
    expect(server.parsing).toBe('main');
    expect(logger.lines.some((l) => l.level === 'warn' && l.msg.includes('parsing on the main thread'))).toBe(
      true,
    );
    await sendAll(port, ['o:1|c']);
    await waitFor(() => aggregator.stats().lines === 1);
    const r = await aggregator.flush({ all: true });
    expect(r.series.find((x) => x.metric === 'o')!.points[0]!.value).toBe(before === 1 ? 3 : 1);
  });
});

import { createSocket } from 'node:dgram';
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  bindEarlyListeners,
  closeEarlyListeners,
  EarlyHttpListener,
  EarlyUdpListener,
} from '../src/index.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

function sendUdp(port: number, msgs: string[]): Promise<void> {
  const s = createSocket('udp4');
  return new Promise((resolve, reject) => {
    let left = msgs.length;
    for (const m of msgs) {
      s.send(m, port, '127.0.0.1', (err) => {
        if (err) return reject(err);
        if (--left === 0) s.close(() => resolve());
      });
    }
  });
}

function post(port: number, path: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST' }, (res) => {
      let text = '';
      res.on('data', (c) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const until = async (cond: () => boolean) => {
  while (!cond()) await new Promise((r) => setImmediate(r));
};

describe('EarlyUdpListener', () => {
  it('queues datagrams that arrive before the handler, then replays them in order', async () => {
    const l = new EarlyUdpListener();
    closers.push(() => l.close());
    const port = await l.listen(0, '127.0.0.1');
    await sendUdp(port, ['a:1|c', 'b:2|c', 'c:3|c']);
    await until(() => l.stats.queued === 3);
    const got: string[] = [];
    l.attach((m) => got.push(m.toString()));
    expect(got).toEqual(['a:1|c', 'b:2|c', 'c:3|c']);
    await sendUdp(port, ['d:4|c']);
    await until(() => got.length === 4);
    expect(l.stats).toMatchObject({ queued: 3, replayed: 3, dropped: 0 });
  });

  it('drops and counts past its bounds', async () => {
    const l = new EarlyUdpListener({ maxItems: 2, maxBytes: 1 << 20 });
    closers.push(() => l.close());
    const port = await l.listen(0, '127.0.0.1');
    await sendUdp(port, ['a:1|c', 'b:1|c', 'c:1|c', 'd:1|c']);
    await until(() => l.stats.queued + l.stats.dropped === 4);
    expect(l.stats).toMatchObject({ queued: 2, dropped: 2, droppedBytes: 10 });
  });
});

describe('EarlyHttpListener', () => {
  it('holds requests (bodies unread) until the handler is attached', async () => {
    const l = new EarlyHttpListener((_q, res) => res.end('overflow'));
    closers.push(() => l.close());
    const port = await l.listen(0, '127.0.0.1');
    const body = JSON.stringify({ big: 'x'.repeat(200_000) });
    const pending = post(port, '/lambda/start-invocation', body);
    await until(() => l.stats.queued === 1);
    l.attach((req, res) => {
      let n = 0;
      req.on('data', (c: Buffer) => {
        n += c.length;
      });
      req.on('end', () => res.end(`${req.url} ${n}`));
    });
    expect(await pending).toEqual({ status: 200, body: `/lambda/start-invocation ${body.length}` });
  });

  it('answers with the overflow answer past its bound', async () => {
    const l = new EarlyHttpListener((_q, res) => res.end('dropped'), { maxItems: 1, maxBytes: Infinity });
    closers.push(() => l.close());
    const port = await l.listen(0, '127.0.0.1');
    const first = post(port, '/a', '1');
    await until(() => l.stats.queued === 1);
    expect(await post(port, '/b', '2')).toEqual({ status: 200, body: 'dropped' });
    l.attach((_req, res) => res.end('handled'));
    expect(await first).toEqual({ status: 200, body: 'handled' });
    expect(l.stats).toMatchObject({ queued: 1, dropped: 1, replayed: 1 });
  });
});

describe('bindEarlyListeners', () => {
  it('binds the Telemetry socket first, the others a turn apart, and holds deliveries until taken over', async () => {
    let telemetry: EarlyHttpListener | undefined;
    let boundBefore = -1;
    const binding = bindEarlyListeners({ dogstatsd: 0, traces: 0, hooks: 0, telemetry: 0 }, (t) => {
      telemetry = t;
      boundBefore = early === undefined ? 0 : 1;
    });
    let early: Awaited<typeof binding> | undefined;
    void binding.then((e) => {
      early = e;
    });
    await until(() => telemetry !== undefined);
    expect(boundBefore).toBe(0);
    // Accepting, and holding what comes until the lifecycle attaches its handler.
    const delivery = post(telemetry!.port, '/', '[]');
    await until(() => telemetry!.stats.queued === 1 && early !== undefined);
    closers.push(() => closeEarlyListeners(early!));
    expect(early!.telemetry).toBe(telemetry);
    expect(early!.ports.telemetry).toBe(telemetry!.port);
    for (const port of [early!.ports.dogstatsd, early!.ports.traces, early!.ports.hooks])
      expect(port).toBeGreaterThan(0);
    early!.telemetry.attach((_req, res) => res.end('"OK"'));
    expect(await delivery).toEqual({ status: 200, body: '"OK"' });
  });

  it('a socket that cannot bind closes the others and fails', async () => {
    const taken = new EarlyHttpListener((_q, res) => res.end());
    closers.push(() => taken.close());
    const port = await taken.listen(0, '127.0.0.1');
    await expect(bindEarlyListeners({ dogstatsd: 0, traces: 0, hooks: port, telemetry: 0 })).rejects.toThrow(
      /EADDRINUSE/,
    );
  });
});

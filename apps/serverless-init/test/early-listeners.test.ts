import { createSocket } from 'node:dgram';
import { createServer, request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { listenTcp, listenUdp, MAX_QUEUED_DATAGRAMS } from '../src/early-listeners.js';
import { noopLogger } from '../src/logger.js';

function sendUdp(port: number, msgs: string[], host = '127.0.0.1'): Promise<void> {
  const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  return new Promise((resolve) => {
    let left = msgs.length;
    for (const m of msgs)
      s.send(m, port, host, () => {
        if (--left === 0) s.close(() => resolve());
      });
  });
}

describe('early listeners', () => {
  it('UDP: holds datagrams that arrive before the handler, then hands them over in order', async () => {
    const udp = await listenUdp({ hosts: ['127.0.0.1', '::1'], port: 0, logger: noopLogger });
    await sendUdp(udp.port, ['a:1|c', 'b:2|c', 'c:3|c']);
    await expect.poll(() => udp.queued, { timeout: 5000 }).toBe(3);
    const got: string[] = [];
    udp.setHandler((m) => got.push(m.toString()));
    expect(got).toEqual(['a:1|c', 'b:2|c', 'c:3|c']);
    await sendUdp(udp.port, ['d:4|c']);
    await expect.poll(() => got.length, { timeout: 5000 }).toBe(4);
    await udp.close();
  });

  it('UDP: the other addresses are bound on the same port only when asked (after the spawn)', async () => {
    const udp = await listenUdp({ hosts: ['127.0.0.1', '::1'], port: 0, logger: noopLogger });
    expect(udp.sockets).toHaveLength(1);
    await udp.bindSecondary();
    // An image without IPv6 has no ::1: the bind then fails quietly and only 127.0.0.1 listens.
    if (udp.sockets.length === 2) {
      expect(udp.sockets[1]!.address()).toMatchObject({ address: '::1', port: udp.port });
      await sendUdp(udp.port, ['v6:1|c'], '::1');
      await expect.poll(() => udp.queued, { timeout: 5000 }).toBe(1);
    }
    await udp.close();
  });

  it('TCP: the other addresses are bound on the same port only when asked', async () => {
    const tcp = await listenTcp({ hosts: ['127.0.0.1', '::1'], port: 0, logger: noopLogger });
    expect(tcp.servers).toHaveLength(1);
    await tcp.bindSecondary();
    if (tcp.servers.length === 2)
      expect(tcp.servers[1]!.address()).toMatchObject({ address: '::1', port: tcp.port });
    await tcp.close();
  });

  it('UDP: the queue is bounded and what it drops is counted', async () => {
    const udp = await listenUdp({ hosts: ['127.0.0.1'], port: 0, logger: noopLogger });
    const n = MAX_QUEUED_DATAGRAMS + 50;
    for (let i = 0; i < n; i += 500)
      await sendUdp(
        udp.port,
        Array.from({ length: Math.min(500, n - i) }, () => 'x:1|c'),
      );
    await expect.poll(() => udp.received, { timeout: 10_000 }).toBeGreaterThan(MAX_QUEUED_DATAGRAMS);
    expect(udp.queued).toBe(MAX_QUEUED_DATAGRAMS);
    expect(udp.dropped).toBe(udp.received - MAX_QUEUED_DATAGRAMS);
    await udp.close();
  });

  it('TCP: a request sent before the HTTP server exists is answered once it is attached', async () => {
    const tcp = await listenTcp({ hosts: ['127.0.0.1', '::1'], port: 0, logger: noopLogger });
    const answer = new Promise<string>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: tcp.port, path: '/v0.4/traces', method: 'PUT' },
        (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve(`${res.statusCode} ${body}`));
        },
      );
      req.on('error', reject);
      req.end('early body');
    });
    await expect.poll(() => tcp.queued, { timeout: 5000 }).toBe(1);
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => res.end(`got ${body}`));
    });
    tcp.setHandler((s) => server.emit('connection', s));
    expect(await answer).toBe('200 got early body');
    server.closeAllConnections();
    await tcp.close();
  });
});

import { spawnSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { kernelUdpDrops } from '../src/index.js';

// Two real rows of /proc/net/udp (header, a socket on 127.0.0.1:8125 with 42 drops, one on another
// port) and of /proc/net/udp6 (the same port on ::1 with 3 drops, and a connected socket).
const UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  123: 0100007F:1FBD 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4711 2 0000000000000000 42
  124: 0100007F:1FBE 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4712 2 0000000000000000 9
`;
const UDP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  7: 00000000000000000000000001000000:1FBD 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4713 2 0000000000000000 3
  8: 00000000000000000000000001000000:D431 00000000000000000000000001000000:1FBD 01 00000000:00000000 00:00000000 00000000     0        0 4714 2 0000000000000000 100
`;

const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

describe('kernelUdpDrops', () => {
  it('sums the drops column of the unconnected sockets on the port, IPv4 and IPv6', () => {
    const read = (path: string) => (path.endsWith('udp6') ? UDP6 : UDP);
    expect(kernelUdpDrops(8125, read)).toBe(45);
    expect(kernelUdpDrops(8126, read)).toBe(9);
  });

  it('is undefined when no socket is on the port or the tables cannot be read', () => {
    expect(kernelUdpDrops(9999, () => UDP)).toBeUndefined();
    expect(
      kernelUdpDrops(8125, () => {
        throw new Error('ENOENT');
      }),
    ).toBeUndefined();
  });

  it.runIf(existsSync('/proc/net/udp'))(
    'sees what the kernel dropped while a real socket could not be read',
    async () => {
      const socket = createSocket('udp4');
      sockets.push(socket);
      let received = 0;
      socket.on('message', () => received++);
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
      socket.setRecvBufferSize(4096);
      const { port } = socket.address();
      expect(kernelUdpDrops(port)).toBe(0);

      // spawnSync holds this process's event loop, so nothing reads the socket while the child sends:
      // the small receive buffer fills and the kernel drops the rest.
      const sent = 2000;
      const child = spawnSync(
        process.execPath,
        [
          '-e',
          `const s = require('node:dgram').createSocket('udp4'); let n = 0;
           const next = () => n++ < ${sent} ? s.send('drop.me:1|c', ${port}, '127.0.0.1', next) : s.close();
           next();`,
        ],
        { timeout: 30_000 },
      );
      expect(child.status).toBe(0);
      const drops = kernelUdpDrops(port) ?? 0;
      expect(drops).toBeGreaterThan(0);
      // Every datagram is either read by us or counted by the kernel.
      const deadline = Date.now() + 10_000;
      while (received + drops < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(received + drops).toBe(sent);
    },
    40_000,
  );
});

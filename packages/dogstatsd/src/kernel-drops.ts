import { readFileSync } from 'node:fs';

/** Reads a `/proc/net/udp*` table; injectable so the parser is testable without Linux. */
export type ProcReader = (path: string) => string;

const readProc: ProcReader = (path) => readFileSync(path, 'latin1');

/** UDP "state" 07 is an unconnected socket: a server's bound socket. */
const UNCONNECTED = '07';

/**
 * Datagrams the kernel dropped on the UDP sockets bound to `port` (IPv4 and IPv6), from the `drops`
 * column of `/proc/net/udp` and `/proc/net/udp6`. A datagram that arrives while the socket's receive
 * buffer is full never reaches the process, so this is the only place that loss is visible.
 * Undefined where the tables cannot be read (not Linux, or a sandbox without /proc).
 */
export function kernelUdpDrops(port: number, read: ProcReader = readProc): number | undefined {
  const suffix = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let found = false;
  let drops = 0;
  for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = read(table);
    } catch {
      continue;
    }
    const lines = text.split('\n');
    for (let i = 1; i < lines.length; i++) {
      const fields = lines[i]!.trim().split(/\s+/);
      if (fields.length < 13 || fields[3] !== UNCONNECTED || !fields[1]!.endsWith(suffix)) continue;
      const n = Number(fields[fields.length - 1]);
      if (!Number.isFinite(n)) continue;
      found = true;
      drops += n;
    }
  }
  return found ? drops : undefined;
}

import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from './logger.js';

/**
 * The DogStatsD and trace sockets, bound with built-in modules before the child is spawned, so a
 * client that starts sending at once is never refused. What arrives before the handlers are loaded
 * waits here (bounded; the excess is counted), then goes to the handler in arrival order.
 */
export interface EarlyListenOptions {
  /** Addresses to bind; the first must succeed, the others (e.g. `::1` beside `127.0.0.1`) may fail. */
  hosts: readonly string[];
  port: number;
  logger: Logger;
}

/** Datagrams held until the DogStatsD aggregator is loaded. */
export const MAX_QUEUED_DATAGRAMS = 4096;
export const MAX_QUEUED_DATAGRAM_BYTES = 8 * 1024 * 1024;
/** Connections held (paused, unread) until the trace receiver is loaded. */
export const MAX_QUEUED_CONNECTIONS = 256;

/** The addresses bound after the first one (e.g. `::1` beside `127.0.0.1`). */
class SecondaryAddresses {
  /** Settles once the secondary addresses are bound (or failed). */
  ready: Promise<void> = Promise.resolve();
  /** Set by the listen function: binds the other hosts on the first one's port. */
  bindRest: () => Promise<void> = () => Promise.resolve();
  private secondaryStarted = false;

  /** Binds the other hosts (e.g. `::1`) on the same port; call it once the child is spawned. */
  bindSecondary(): Promise<void> {
    if (!this.secondaryStarted) {
      this.secondaryStarted = true;
      this.ready = this.bindRest();
    }
    return this.ready;
  }
}

export class EarlyUdp extends SecondaryAddresses {
  readonly sockets: UdpSocket[] = [];
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private handler: ((msg: Buffer) => void) | undefined;
  /** Datagrams dropped because the queue was full before the handler came. */
  dropped = 0;
  received = 0;

  get port(): number {
    return this.sockets[0]?.address().port ?? 0;
  }

  get queued(): number {
    return this.queue.length;
  }

  onMessage = (msg: Buffer): void => {
    this.received++;
    if (this.handler) {
      this.handler(msg);
      return;
    }
    if (
      this.queue.length >= MAX_QUEUED_DATAGRAMS ||
      this.queuedBytes + msg.length > MAX_QUEUED_DATAGRAM_BYTES
    ) {
      this.dropped++;
      return;
    }
    this.queue.push(msg);
    this.queuedBytes += msg.length;
  };

  /** Hands the queue, then every later datagram, to the handler. */
  setHandler(handler: (msg: Buffer) => void): void {
    const queued = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    for (const msg of queued) handler(msg);
    this.handler = handler;
  }

  async close(): Promise<void> {
    await this.ready;
    await Promise.all(this.sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.sockets.length = 0;
  }
}

export class EarlyTcp extends SecondaryAddresses {
  readonly servers: Server[] = [];
  private held: Socket[] = [];
  private handler: ((socket: Socket) => void) | undefined;
  private readonly open = new Set<Socket>();
  dropped = 0;

  get port(): number {
    const a = this.servers[0]?.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  }

  get queued(): number {
    return this.held.length;
  }

  onConnection = (socket: Socket): void => {
    this.open.add(socket);
    socket.once('close', () => this.open.delete(socket));
    // A client that gives up while waiting must not crash us.
    socket.on('error', () => {});
    if (this.handler) {
      this.handler(socket);
      socket.resume();
      return;
    }
    if (this.held.length >= MAX_QUEUED_CONNECTIONS) {
      this.dropped++;
      socket.destroy();
      return;
    }
    this.held.push(socket);
  };

  /** Hands the held connections, then every later one, to the handler (e.g. an HTTP server's `connection`). */
  setHandler(handler: (socket: Socket) => void): void {
    const held = this.held;
    this.held = [];
    for (const socket of held) {
      if (socket.destroyed) continue;
      handler(socket);
      socket.resume();
    }
    this.handler = handler;
  }

  async close(): Promise<void> {
    await this.ready;
    const closing = this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    for (const socket of this.open) socket.destroy();
    this.open.clear();
    await Promise.all(closing);
    this.servers.length = 0;
  }
}

function bindUdp(host: string, port: number, onMessage: (msg: Buffer) => void): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({
      type: host.includes(':') ? 'udp6' : 'udp4',
      // Our hosts are IP literals: resolve them on the spot rather than through the dns module.
      lookup: (address, _options, callback) => callback(null, address, address.includes(':') ? 6 : 4),
      // The IPv6 socket sits beside the IPv4 one on the same port.
      ipv6Only: host.includes(':'),
      // Bursts while a flush runs wait in the kernel; it may grant less than asked.
      recvBufferSize: 8 * 1024 * 1024,
    });
    socket.on('message', onMessage);
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

function bindTcp(host: string, port: number, onConnection: (s: Socket) => void): Promise<Server> {
  return new Promise((resolve, reject) => {
    // Paused: nothing is read from a held connection until its handler takes it.
    const server = createServer({ pauseOnConnect: true, noDelay: true }, onConnection);
    server.once('error', reject);
    server.listen({ host, port, ipv6Only: host.includes(':') }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/**
 * Binds the first host (rejecting when it fails) and resolves; the others are bound later, on the
 * port it got, by `bindSecondary()` (their failures ignored: an image without IPv6 has no `::1`).
 * Each secondary bind costs milliseconds of CPU, so they wait until the child is spawned.
 */
async function bindFirst<T>(
  hosts: readonly string[],
  port: number,
  bind: (host: string, port: number) => Promise<T>,
  portOf: (t: T) => number,
  add: (t: T) => void,
  logger: Logger,
  what: string,
): Promise<() => Promise<void>> {
  const [first, ...rest] = hosts;
  if (first === undefined) return () => Promise.resolve();
  const main = await bind(first, port);
  add(main);
  const bound = portOf(main);
  return () =>
    Promise.all(
      rest.map((h) =>
        bind(h, bound).then(add, (err: Error) => {
          logger.debug(`${what}: not listening on ${h}:${bound}: ${err.message}`);
        }),
      ),
    ).then(() => {});
}

export async function listenUdp(options: EarlyListenOptions): Promise<EarlyUdp> {
  const early = new EarlyUdp();
  early.bindRest = await bindFirst(
    options.hosts,
    options.port,
    (h, p) => bindUdp(h, p, early.onMessage),
    (s) => s.address().port,
    (s) => {
      s.on('error', (err) => options.logger.warn(`dogstatsd: socket error: ${err.message}`));
      early.sockets.push(s);
    },
    options.logger,
    'dogstatsd',
  );
  return early;
}

export async function listenTcp(options: EarlyListenOptions): Promise<EarlyTcp> {
  const early = new EarlyTcp();
  early.bindRest = await bindFirst(
    options.hosts,
    options.port,
    (h, p) => bindTcp(h, p, early.onConnection),
    (s) => {
      const a = s.address();
      return typeof a === 'object' && a !== null ? a.port : 0;
    },
    (s) => {
      s.on('error', (err) => options.logger.warn(`apm: listener error: ${err.message}`));
      early.servers.push(s);
    },
    options.logger,
    'apm',
  );
  return early;
}

/** Where to listen: loopback (both families) by default, every interface with non-local traffic. */
export function listenHosts(nonLocal: boolean): string[] {
  return nonLocal ? ['0.0.0.0', '::'] : ['127.0.0.1', '::1'];
}

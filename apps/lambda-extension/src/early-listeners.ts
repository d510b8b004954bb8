// Listeners bound with built-ins before the heavy modules load: the function may send metrics,
// traces or hook calls during its own init, and nothing it sends then may be lost. What arrives
// before a handler is attached waits in a bounded queue; the excess is dropped and counted.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface QueueLimits {
  maxItems: number;
  maxBytes: number;
}

export interface EarlyStats {
  queued: number;
  dropped: number;
  droppedBytes: number;
  replayed: number;
}

export type DatagramHandler = (msg: Buffer, rinfo: RemoteInfo) => void;

export const DATAGRAM_QUEUE: QueueLimits = { maxItems: 8192, maxBytes: 16 * 1024 * 1024 };

export class EarlyUdpListener {
  readonly socket: Socket;
  readonly stats: EarlyStats = { queued: 0, dropped: 0, droppedBytes: 0, replayed: 0 };
  private queue: [Buffer, RemoteInfo][] = [];
  private queuedBytes = 0;
  private handler: DatagramHandler | undefined;

  constructor(private readonly limits: QueueLimits = DATAGRAM_QUEUE) {
    this.socket = createSocket({ type: 'udp4', reuseAddr: false });
    this.socket.on('message', (msg, rinfo) => {
      if (this.handler) return this.handler(msg, rinfo);
      if (this.queue.length >= this.limits.maxItems || this.queuedBytes + msg.length > this.limits.maxBytes) {
        this.stats.dropped++;
        this.stats.droppedBytes += msg.length;
        return;
      }
      this.queue.push([msg, rinfo]);
      this.queuedBytes += msg.length;
      this.stats.queued++;
    });
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.socket.once('error', onError);
      this.socket.bind(port, host, () => {
        this.socket.off('error', onError);
        // A later socket error (never expected for UDP) must not crash the process.
        this.socket.on('error', () => {});
        resolve(this.socket.address().port);
      });
    });
  }

  /** Hands the queue, then every later datagram, to `handler`. */
  attach(handler: DatagramHandler): void {
    const queued = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    for (const [msg, rinfo] of queued) {
      this.stats.replayed++;
      handler(msg, rinfo);
    }
    this.handler = handler;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

export const REQUEST_QUEUE: QueueLimits = { maxItems: 512, maxBytes: Number.POSITIVE_INFINITY };

export class EarlyHttpListener {
  readonly server: Server;
  readonly stats: EarlyStats = { queued: 0, dropped: 0, droppedBytes: 0, replayed: 0 };
  private queue: [IncomingMessage, ServerResponse][] = [];
  private handler: RequestHandler | undefined;

  /**
   * @param overflow answers a request that finds the queue full (the component's own "accepted,
   *   dropped" answer, so a client never sees an error for our backlog).
   */
  constructor(
    private readonly overflow: RequestHandler,
    private readonly limits: QueueLimits = REQUEST_QUEUE,
  ) {
    this.server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
      if (this.handler) return this.handler(req, res);
      if (this.queue.length >= this.limits.maxItems) {
        this.stats.dropped++;
        req.resume();
        return this.overflow(req, res);
      }
      // Unread until a handler reads it: past the stream's buffer, TCP backpressure bounds the bytes.
      this.queue.push([req, res]);
      this.stats.queued++;
    });
    this.server.on('clientError', (_err, socket) => socket.destroy());
  }

  /** The port it listens on (0 before `listen`). */
  get port(): number {
    return (this.server.address() as AddressInfo | null)?.port ?? 0;
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        this.server.on('error', () => {});
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  attach(handler: RequestHandler): void {
    const queued = this.queue;
    this.queue = [];
    this.handler = handler;
    for (const [req, res] of queued) {
      this.stats.replayed++;
      handler(req, res);
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

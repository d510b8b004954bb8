import { createSocket, type Socket } from 'node:dgram';
import type { Aggregator } from './aggregator.js';
import { type Logger, noopLogger } from './logger.js';
import { ParseWorkerLink } from './worker-link.js';

export const DEFAULT_DOGSTATSD_PORT = 8125;
export const DEFAULT_BUFFER_SIZE = 8192;
/** Requested SO_RCVBUF: absorbs bursts while a flush runs; the kernel may grant less. */
export const DEFAULT_RECV_BUFFER_SIZE = 8 * 1024 * 1024;

export interface ServerOptions {
  aggregator: Aggregator;
  /** 8125 by default; 0 picks a free port (tests). */
  port?: number;
  /** '127.0.0.1' by default; '0.0.0.0' with non-local traffic. */
  host?: string;
  /** Largest datagram accepted (DD_DOGSTATSD_BUFFER_SIZE); longer ones are truncated there, as recv does. */
  bufferSize?: number;
  recvBufferSize?: number;
  logger?: Logger;
  /**
   * Parser threads (DD_DOGSTATSD_WORKERS_COUNT). 0, the default, parses in the socket callback
   * (one vCPU, as in Lambda, has no core to spare); from 1, one worker thread parses and
   * aggregates while this thread only receives.
   */
  workers?: number;
  /** Bytes queued for the worker; a datagram that finds the queue full is dropped and counted. */
  workerQueueBytes?: number;
}

/**
 * The DogStatsD UDP listener: every datagram goes straight to the aggregator, synchronously, in
 * the socket callback (no queue to overflow, the kernel buffer is the queue), or with `workers`,
 * into a bounded queue that a worker thread parses from.
 */
export class DogStatsDServer {
  private socket: Socket | undefined;
  private readonly logger: Logger;
  private closing: Promise<void> | undefined;
  private boundPort = 0;
  private received = 0;
  private worker: ParseWorkerLink | undefined;
  grantedRecvBufferSize = 0;

  constructor(private readonly options: ServerOptions) {
    this.logger = options.logger ?? noopLogger;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Where datagrams are parsed: in a worker thread, or on this one. */
  get parsing(): 'worker' | 'main' {
    return this.worker?.running === true ? 'worker' : 'main';
  }

  get address(): string {
    return this.options.host ?? '127.0.0.1';
  }

  async listen(): Promise<{ host: string; port: number }> {
    const host = this.address;
    const maxSize = this.options.bufferSize ?? DEFAULT_BUFFER_SIZE;
    const aggregator = this.options.aggregator;
    const socket = createSocket({
      type: host.includes(':') ? 'udp6' : 'udp4',
      recvBufferSize: this.options.recvBufferSize ?? DEFAULT_RECV_BUFFER_SIZE,
    });
    const workers = this.options.workers ?? 0;
    if (workers > 0 && this.worker === undefined) {
      if (workers > 1)
        this.logger.info('dogstatsd: one parser worker thread (more would split contexts across threads)');
      const queueBytes = this.options.workerQueueBytes;
      this.worker = ParseWorkerLink.start(aggregator, queueBytes === undefined ? {} : { queueBytes });
    }
    socket.on('message', (msg) => {
      this.received++;
      try {
        aggregator.ingest(msg, Math.min(msg.length, maxSize));
      } catch (err) {
        // The parser does not throw; this guards the process against a bug, never a crash.
        this.logger.error(`dogstatsd: datagram dropped: ${(err as Error).message}`);
        aggregator.countDroppedDatagram();
      }
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      socket.once('error', onError);
      socket.bind(this.options.port ?? DEFAULT_DOGSTATSD_PORT, host, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    socket.on('error', (err) => this.logger.error(`dogstatsd: socket error: ${err.message}`));
    this.socket = socket;
    this.boundPort = socket.address().port;
    try {
      this.grantedRecvBufferSize = socket.getRecvBufferSize();
    } catch {
      this.grantedRecvBufferSize = 0;
    }
    this.logger.info(
      `dogstatsd: listening on udp ${host}:${this.boundPort}, receive buffer ${this.grantedRecvBufferSize} bytes granted ` +
        `(${this.options.recvBufferSize ?? DEFAULT_RECV_BUFFER_SIZE} requested)`,
    );
    return { host, port: this.boundPort };
  }

  /**
   * Stops listening. Datagrams already in the kernel buffer are read first: we wait until the
   * socket has been quiet for one event-loop turn with nothing left to deliver, then close.
   */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    const socket = this.socket;
    if (socket === undefined) return Promise.resolve();
    this.closing = (async () => {
      // Each turn the loop delivers what is queued (up to 32 datagrams).
      // A turn can bring nothing while the socket is still readable (the loop polled before
      // the last datagrams arrived): stop after two quiet turns in a row.
      let last = -1;
      let quiet = 0;
      for (let turns = 0; turns < 1000 && quiet < 2; turns++) {
        quiet = this.received === last ? quiet + 1 : 0;
        last = this.received;
        await new Promise((r) => setImmediate(r));
      }
      await new Promise<void>((resolve) => socket.close(() => resolve()));
      this.socket = undefined;
      // Nothing queued for the worker is lost: it parses all of it before close() returns.
      await this.worker?.close();
    })();
    return this.closing;
  }
}

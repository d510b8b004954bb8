import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeNow, type ListeningSocket, listen } from '../http-listen.js';
import { errorMessage, type Logger, noopLogger, OnceLogger } from '../logger.js';
import { parseTelemetryEvent, type TelemetryEvent } from './events.js';

export const DEFAULT_TELEMETRY_PORT = 8999;

export interface TelemetryListenerOptions {
  /** Default 8999, the real extension's port; 0 picks a free one. */
  port?: number;
  /** All interfaces by default: Lambda delivers to the sandbox address, not to loopback. */
  host?: string;
  /** Largest batch body accepted; Lambda's own cap is 1 MiB per delivery. */
  maxBodyBytes?: number;
  /** Parsed events waiting for the consumer; beyond this they are dropped and counted. */
  maxQueuedEvents?: number;
  logger?: Logger;
}

export interface TelemetryListenerStats {
  batches: number;
  events: number;
  unknownType: number;
  malformed: number;
  unparsableBatches: number;
  oversizedBatches: number;
  droppedOverflow: number;
  unknownTypes: Record<string, number>;
}

export type TelemetrySink = (events: TelemetryEvent[]) => void;

/** The Telemetry API destination: answers every delivery at once, then hands events on. */
export class TelemetryListener {
  private server: Server | undefined;
  private adopted: ListeningSocket | undefined;
  private readonly queue: TelemetryEvent[] = [];
  private draining = false;
  private readonly once: OnceLogger;
  private readonly logger: Logger;
  readonly stats: TelemetryListenerStats = {
    batches: 0,
    events: 0,
    unknownType: 0,
    malformed: 0,
    unparsableBatches: 0,
    oversizedBatches: 0,
    droppedOverflow: 0,
    unknownTypes: {},
  };

  constructor(
    private readonly sink: TelemetrySink,
    private readonly options: TelemetryListenerOptions = {},
  ) {
    this.logger = options.logger ?? noopLogger;
    this.once = new OnceLogger(this.logger);
  }

  get port(): number {
    if (this.adopted) return this.adopted.port;
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  /**
   * Takes over a socket already listening, instead of binding one at `start()`; the deliveries it
   * held are handled first. Closing the listener closes it.
   */
  adopt(socket: ListeningSocket): void {
    this.adopted = socket;
    socket.attach((req, res) => this.handle(req, res));
  }

  async start(): Promise<number> {
    if (this.adopted) return this.port;
    const server = createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 60_000;
    this.server = server;
    await listen(server, this.options.port ?? DEFAULT_TELEMETRY_PORT, this.options.host ?? '0.0.0.0');
    return this.port;
  }

  async close(): Promise<void> {
    const { server, adopted } = this;
    if (!server && !adopted) return;
    this.server = undefined;
    this.adopted = undefined;
    if (server) await closeNow(server);
    else await adopted?.close();
    this.drain();
  }

  /** Delivers every queued event now (the app calls it before a flush or at shutdown). */
  drain(): void {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.queue.length);
      try {
        this.sink(batch);
      } catch (err) {
        this.once.warn('sink', `telemetry consumer failed, events skipped: ${errorMessage(err)}`);
      }
    }
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const limit = this.options.maxBodyBytes ?? 4 * 1024 * 1024;
    const chunks: Buffer[] = [];
    let size = 0;
    let oversized = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) oversized = true;
      else chunks.push(chunk);
    });
    req.on('error', () => {});
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('"OK"');
      this.stats.batches++;
      if (oversized) {
        this.stats.oversizedBatches++;
        this.once.warn('oversized', `telemetry batch of ${size} bytes exceeds ${limit}: dropped (counted)`);
        return;
      }
      this.accept(Buffer.concat(chunks).toString('utf8'));
    });
  }

  /** Parses a delivered body event by event; exposed for replaying recorded batches. */
  accept(body: string): void {
    let raw: unknown;
    try {
      raw = JSON.parse(body);
    } catch {
      this.stats.unparsableBatches++;
      this.once.warn('unparsable', 'telemetry batch is not JSON: dropped (counted)');
      return;
    }
    const items = Array.isArray(raw) ? raw : [raw];
    const max = this.options.maxQueuedEvents ?? 10_000;
    for (const item of items) {
      const parsed = parseTelemetryEvent(item);
      if (!parsed.ok) {
        if (parsed.reason === 'unknown-type') {
          this.stats.unknownType++;
          const t = parsed.type ?? '?';
          this.stats.unknownTypes[t] = (this.stats.unknownTypes[t] ?? 0) + 1;
          this.once.warn(
            `unknown:${t}`,
            `telemetry event of unknown type ${JSON.stringify(t)} skipped (counted)`,
          );
        } else {
          this.stats.malformed++;
          this.once.warn(
            'malformed',
            `malformed telemetry event (${parsed.type ?? 'no type'}) skipped (counted)`,
          );
        }
        continue;
      }
      if (this.queue.length >= max) {
        this.stats.droppedOverflow++;
        this.once.warn('overflow', `telemetry queue full (${max} events): events dropped (counted)`);
        continue;
      }
      this.stats.events++;
      this.queue.push(parsed.event);
    }
    this.scheduleDrain();
  }

  private scheduleDrain(): void {
    if (this.draining || this.queue.length === 0) return;
    this.draining = true;
    setImmediate(() => {
      this.draining = false;
      this.drain();
    });
  }
}

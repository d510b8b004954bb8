// Telemetry API 2022-07-01: subscription validation and batched delivery to one subscriber.
import { createHash } from 'node:crypto';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { SandboxLogger, TelemetryEvent, TelemetryType } from './types.js';

export const SCHEMA_VERSIONS = ['2022-07-01', '2022-12-13', '2025-01-29'] as const;
export type SchemaVersion = (typeof SCHEMA_VERSIONS)[number];

export const BUFFERING_LIMITS = {
  maxItems: { min: 1000, max: 10000, default: 1000 },
  maxBytes: { min: 262144, max: 1048576, default: 262144 },
  timeoutMs: { min: 25, max: 30000, default: 1000 },
} as const;

export type TelemetryDestination =
  | { protocol: 'HTTP'; URI: string; port: number; path: string; host: string }
  | { protocol: 'TCP'; port: number };

export interface TelemetrySubscription {
  schemaVersion: SchemaVersion;
  destination: TelemetryDestination;
  types: TelemetryType[];
  buffering: { maxItems: number; maxBytes: number; timeoutMs: number };
}

export type Validation = { ok: true; value: TelemetrySubscription } | { ok: false; message: string };

const TYPES: readonly TelemetryType[] = ['platform', 'function', 'extension'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validates a `PUT /telemetry` body as the platform does (schema versions, types, buffering ranges,
 * a destination on the sandbox host). `requiredSchema` is set in managed-instances mode.
 */
export function validateSubscription(body: unknown, requiredSchema?: SchemaVersion): Validation {
  const fail = (message: string): Validation => ({ ok: false, message });
  if (!isObject(body)) return fail('request body must be a JSON object');
  const { schemaVersion, destination, types, buffering } = body;
  if (typeof schemaVersion !== 'string' || !SCHEMA_VERSIONS.includes(schemaVersion as SchemaVersion)) {
    return fail(`schemaVersion must be one of ${SCHEMA_VERSIONS.join(', ')}`);
  }
  if (requiredSchema && schemaVersion !== requiredSchema) {
    return fail(`schemaVersion must be ${requiredSchema} in this mode`);
  }
  if (!Array.isArray(types) || types.length === 0) return fail('types must be a non-empty array');
  for (const t of types) {
    if (!TYPES.includes(t as TelemetryType)) return fail(`types: unknown type ${JSON.stringify(t)}`);
  }
  if (new Set(types).size !== types.length) return fail('types must not repeat');

  let dest: TelemetryDestination;
  if (!isObject(destination)) return fail('destination must be an object');
  if (destination.protocol === 'HTTP') {
    if (typeof destination.URI !== 'string') return fail('destination.URI must be a string');
    let url: URL;
    try {
      url = new URL(destination.URI);
    } catch {
      return fail('destination.URI is not a valid URI');
    }
    if (url.protocol !== 'http:') return fail('destination.URI must use http');
    if (url.hostname !== 'sandbox' && url.hostname !== 'sandbox.localdomain') {
      return fail('destination.URI host must be sandbox or sandbox.localdomain');
    }
    const port = url.port === '' ? 80 : Number(url.port);
    dest = { protocol: 'HTTP', URI: destination.URI, port, path: url.pathname + url.search, host: url.host };
  } else if (destination.protocol === 'TCP') {
    const port = destination.port;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      return fail('destination.port must be an integer port');
    }
    dest = { protocol: 'TCP', port };
  } else {
    return fail('destination.protocol must be HTTP or TCP');
  }

  const buf = { maxItems: 0, maxBytes: 0, timeoutMs: 0 };
  if (buffering !== undefined && !isObject(buffering)) return fail('buffering must be an object');
  for (const key of ['maxItems', 'maxBytes', 'timeoutMs'] as const) {
    const limits = BUFFERING_LIMITS[key];
    const v = isObject(buffering) ? buffering[key] : undefined;
    if (v === undefined) {
      buf[key] = limits.default;
      continue;
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v < limits.min || v > limits.max) {
      return fail(`buffering.${key} must be an integer in [${limits.min}, ${limits.max}]`);
    }
    buf[key] = v;
  }
  return {
    ok: true,
    value: {
      schemaVersion: schemaVersion as SchemaVersion,
      destination: dest,
      types: types as TelemetryType[],
      buffering: buf,
    },
  };
}

export function telemetryCategory(type: TelemetryEvent['type']): TelemetryType {
  if (type === 'function') return 'function';
  if (type === 'extension') return 'extension';
  return 'platform';
}

export interface SubscriberStats {
  batches: number;
  delivered: number;
  droppedRecords: number;
  droppedBytes: number;
  failures: number;
}

const DROP_REASON =
  'Some logs were dropped because the downstream consumer is slower than the logs production rate';
const RETRY_DELAYS_MS = [50, 200, 500];

/**
 * Buffers the events one extension subscribed to and POSTs them as JSON arrays when `maxItems` or
 * `maxBytes` is reached or `timeoutMs` passes (and on `flush()`, at the end of each invoke). One
 * request is in flight at a time; the queue is bounded and log records past the bound are dropped,
 * then reported with `platform.logsDropped`, as the platform does with a slow subscriber.
 */
export class TelemetrySubscriber {
  readonly stats: SubscriberStats = {
    batches: 0,
    delivered: 0,
    droppedRecords: 0,
    droppedBytes: 0,
    failures: 0,
  };
  private queue: { json: string; bytes: number }[] = [];
  private queuedBytes = 0;
  private pendingDropRecords = 0;
  private pendingDropBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;
  private flushRequested = false;
  private closed = false;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });
  private socket: Socket | undefined;
  private idleWaiters: (() => void)[] = [];
  private readonly maxQueueBytes: number;
  private lastWarn = Number.NEGATIVE_INFINITY;

  constructor(
    readonly extensionName: string,
    readonly subscription: TelemetrySubscription,
    private readonly logger: SandboxLogger,
    private readonly now: () => string = () => new Date().toISOString(),
  ) {
    this.maxQueueBytes = subscription.buffering.maxBytes * 16;
  }

  wants(event: TelemetryEvent): boolean {
    return this.subscription.types.includes(telemetryCategory(event.type));
  }

  push(event: TelemetryEvent): void {
    if (this.closed || !this.wants(event)) return;
    const json = JSON.stringify(event);
    const bytes = Buffer.byteLength(json);
    const isLog = event.type === 'function' || event.type === 'extension';
    if (
      this.queuedBytes + bytes > this.maxQueueBytes &&
      (isLog || this.queuedBytes > this.maxQueueBytes * 2)
    ) {
      this.pendingDropRecords++;
      this.pendingDropBytes += bytes;
      this.stats.droppedRecords++;
      this.stats.droppedBytes += bytes;
      return;
    }
    this.queue.push({ json, bytes });
    this.queuedBytes += bytes;
    this.schedule();
  }

  /** Sends everything queued now (in as many batches as the limits require). */
  flush(): void {
    if (this.closed || this.queue.length === 0) return;
    this.flushRequested = true;
    this.pump();
  }

  /** Resolves once nothing is queued or in flight (or after `timeoutMs`). */
  idle(timeoutMs: number): Promise<void> {
    if (!this.inFlight && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, timeoutMs);
      const self = this;
      function done() {
        clearTimeout(t);
        self.idleWaiters = self.idleWaiters.filter((w) => w !== done);
        resolve();
      }
      this.idleWaiters.push(done);
    });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.queue = [];
    this.queuedBytes = 0;
    this.agent.destroy();
    this.socket?.destroy();
    this.notifyIdle();
  }

  private schedule(): void {
    const { maxItems, maxBytes, timeoutMs } = this.subscription.buffering;
    if (this.queue.length >= maxItems || this.queuedBytes + this.queue.length + 1 >= maxBytes) {
      this.pump();
    } else if (!this.timer && !this.inFlight) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flushRequested = true;
        this.pump();
      }, timeoutMs);
    }
  }

  private takeBatch(): string[] {
    const { maxItems, maxBytes } = this.subscription.buffering;
    const out: string[] = [];
    let size = 2;
    while (this.queue.length > 0 && out.length < maxItems) {
      const next = this.queue[0]!;
      if (out.length > 0 && size + next.bytes + 1 > maxBytes) break;
      this.queue.shift();
      this.queuedBytes -= next.bytes;
      out.push(next.json);
      size += next.bytes + 1;
    }
    return out;
  }

  private pump(): void {
    if (this.inFlight || this.closed || this.queue.length === 0) {
      if (!this.inFlight) this.notifyIdle();
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.takeBatch();
    this.inFlight = true;
    void this.deliver(batch).then((ok) => {
      this.inFlight = false;
      if (ok) {
        this.stats.batches++;
        this.stats.delivered += batch.length;
      } else {
        this.stats.failures++;
        this.stats.droppedRecords += batch.length;
        this.pendingDropRecords += batch.length;
        const bytes = batch.reduce((n, j) => n + Buffer.byteLength(j), 0);
        this.stats.droppedBytes += bytes;
        this.pendingDropBytes += bytes;
      }
      if (ok && this.pendingDropRecords > 0 && this.subscription.types.includes('platform')) {
        const event: TelemetryEvent = {
          time: this.now(),
          type: 'platform.logsDropped',
          record: {
            reason: DROP_REASON,
            droppedRecords: this.pendingDropRecords,
            droppedBytes: this.pendingDropBytes,
          },
        };
        this.pendingDropRecords = 0;
        this.pendingDropBytes = 0;
        const json = JSON.stringify(event);
        this.queue.push({ json, bytes: Buffer.byteLength(json) });
        this.queuedBytes += Buffer.byteLength(json);
      }
      if (this.queue.length === 0) {
        this.flushRequested = false;
        this.notifyIdle();
        return;
      }
      if (this.flushRequested) this.pump();
      else this.schedule();
    });
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private async deliver(batch: string[]): Promise<boolean> {
    const body = this.subscription.destination.protocol === 'TCP' ? '' : `[${batch.join(',')}]`;
    for (let attempt = 0; ; attempt++) {
      if (this.closed) return false;
      const ok =
        this.subscription.destination.protocol === 'TCP'
          ? await this.writeTcp(this.subscription.destination.port, batch)
          : await this.postHttp(this.subscription.destination, body);
      if (ok) return true;
      const delay = RETRY_DELAYS_MS[attempt];
      if (delay === undefined) {
        const now = performance.now();
        if (now - this.lastWarn >= 1000) {
          this.lastWarn = now;
          this.logger.warn(`telemetry: dropped a batch of ${batch.length} for ${this.extensionName}`);
        }
        return false;
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  private postHttp(dest: { port: number; path: string; host: string }, body: string): Promise<boolean> {
    return new Promise((resolve) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: dest.port,
          path: dest.path || '/',
          method: 'POST',
          agent: this.agent,
          headers: {
            Host: dest.host,
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(body),
            'Sequence-Id': createHash('sha256').update(body).digest('base64'),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve((res.statusCode ?? 500) < 300));
          res.on('error', () => resolve(false));
        },
      );
      req.on('error', (err) => {
        this.logger.debug(`telemetry: POST to ${this.extensionName} failed: ${err.message}`);
        resolve(false);
      });
      req.end(body);
    });
  }

  private writeTcp(port: number, batch: string[]): Promise<boolean> {
    return new Promise((resolve) => {
      const write = (s: Socket) => s.write(batch.map((j) => `${j}\n`).join(''), (err) => resolve(!err));
      if (this.socket && !this.socket.destroyed) {
        write(this.socket);
        return;
      }
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        this.socket = s;
        write(s);
      });
      s.once('error', () => {
        s.destroy();
        if (this.socket === s) this.socket = undefined;
        resolve(false);
      });
    });
  }
}

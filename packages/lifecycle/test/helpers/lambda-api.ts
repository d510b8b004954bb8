// A minimal Extensions + Telemetry API peer on loopback, following the documented status codes
// and headers, for the client's unit tests.
import { randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
  /** The client's port: requests with the same one came on the same connection. */
  clientPort: number;
}

export interface FakeLambdaApiOptions {
  registerStatus?: number;
  registerBody?: Record<string, unknown>;
  telemetryStatus?: number;
  telemetryBody?: string;
  /**
   * How many requests that come on a connection used before are dropped (the connection destroyed,
   * unanswered), as a server closing an idle kept-alive connection just as a request comes.
   */
  dropOnReuse?: number;
}

export class FakeLambdaApi {
  readonly requests: Recorded[] = [];
  extensionId = randomUUID();
  /** How many coming `event/next` calls fail with a 500. */
  failNext = 0;
  private server: Server | undefined;
  private readonly events: unknown[] = [];
  private readonly waiting: Array<(e: unknown) => void> = [];
  private readonly seenWaiters: Array<{ pred: (r: Recorded) => boolean; resolve: (r: Recorded) => void }> =
    [];
  subscription: { types: string[]; destination: { URI: string } } | undefined;

  constructor(readonly options: FakeLambdaApiOptions = {}) {}

  get address(): string {
    return `127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async start(): Promise<string> {
    const used = new WeakSet<object>();
    this.server = createServer((req, res) => {
      if (used.has(req.socket) && (this.options.dropOnReuse ?? 0) > 0) {
        this.options.dropOnReuse = (this.options.dropOnReuse ?? 0) - 1;
        req.socket.destroy();
        return;
      }
      used.add(req.socket);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const rec: Recorded = {
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          at: Date.now(),
          clientPort: req.socket.remotePort ?? 0,
        };
        this.requests.push(rec);
        for (const w of [...this.seenWaiters]) {
          if (w.pred(rec)) {
            this.seenWaiters.splice(this.seenWaiters.indexOf(w), 1);
            w.resolve(rec);
          }
        }
        const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
          res.writeHead(status, { 'content-type': 'application/json', ...headers });
          res.end(typeof body === 'string' ? body : JSON.stringify(body));
        };
        const url = rec.url;
        if (url === '/2020-01-01/extension/register' && rec.method === 'POST') {
          const status = this.options.registerStatus ?? 200;
          if (status !== 200) {
            json(status, { errorMessage: 'nope', errorType: 'Extension.RegistrationClosed' });
            return;
          }
          const body: Record<string, unknown> = this.options.registerBody ?? {
            functionName: 'my-function',
            functionVersion: '$LATEST',
            handler: 'index.handler',
          };
          if (String(rec.headers['lambda-extension-accept-feature'] ?? '').includes('accountId')) {
            body['accountId'] ??= '123456789012';
          }
          json(200, body, { 'lambda-extension-identifier': this.extensionId });
          return;
        }
        const id = rec.headers['lambda-extension-identifier'];
        if (id !== this.extensionId) {
          json(403, { errorMessage: 'unknown', errorType: 'Extension.UnknownExtensionIdentifier' });
          return;
        }
        if (url === '/2020-01-01/extension/event/next' && rec.method === 'GET') {
          if (this.failNext > 0) {
            this.failNext--;
            json(500, { errorMessage: 'internal', errorType: 'Runtime.Unknown' });
            return;
          }
          const send = (e: unknown) => json(200, e);
          const next = this.events.shift();
          if (next !== undefined) send(next);
          else this.waiting.push(send);
          return;
        }
        if (url === '/2022-07-01/telemetry' && rec.method === 'PUT') {
          this.subscription = JSON.parse(rec.body);
          const status = this.options.telemetryStatus ?? 200;
          json(status, this.options.telemetryBody ?? '"OK"');
          return;
        }
        if (url === '/2020-01-01/extension/init/error' || url === '/2020-01-01/extension/exit/error') {
          if (!rec.headers['lambda-extension-function-error-type']) {
            json(403, { errorMessage: 'missing', errorType: 'Extension.MissingHeader' });
            return;
          }
          json(202, { status: 'OK' });
          return;
        }
        json(404, { errorMessage: 'not found', errorType: 'NotFound' });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    return this.address;
  }

  /** Queues an event for `event/next`, answering a waiting call at once. */
  push(event: unknown): void {
    const w = this.waiting.shift();
    if (w) w(event);
    else this.events.push(event);
  }

  /** Queues an INVOKE for `requestId` whose deadline is `deadlineInMs` from now. */
  pushInvoke(requestId: string, deadlineInMs = 3000, invokedFunctionArn = 'arn'): void {
    this.push({ eventType: 'INVOKE', requestId, deadlineMs: Date.now() + deadlineInMs, invokedFunctionArn });
  }

  /** Queues a SHUTDOWN whose deadline is 2 s from now. */
  pushShutdown(shutdownReason = 'spindown'): void {
    this.push({ eventType: 'SHUTDOWN', shutdownReason, deadlineMs: Date.now() + 2000 });
  }

  get pendingNext(): number {
    return this.waiting.length;
  }

  /** Resolves when a matching request has been (or is) received. */
  seen(pred: (r: Recorded) => boolean): Promise<Recorded> {
    const found = this.requests.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => this.seenWaiters.push({ pred, resolve }));
  }

  /** Counts `event/next` calls seen so far. */
  nextCalls(): number {
    return this.requests.filter((r) => r.url.endsWith('/event/next')).length;
  }

  async waitNextCalls(n: number): Promise<void> {
    while (this.nextCalls() < n) {
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Delivers a telemetry batch as Lambda would, to the subscribed port on loopback. */
  deliver(events: unknown[]): Promise<{ status: number; body: string }> {
    const uri = this.subscription?.destination.URI;
    if (!uri) throw new Error('not subscribed');
    const port = Number(new URL(uri).port);
    return post(port, '/', JSON.stringify(events));
  }

  async close(): Promise<void> {
    for (const w of this.waiting.splice(0))
      w({ eventType: 'SHUTDOWN', shutdownReason: 'spindown', deadlineMs: Date.now() + 2000 });
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

export function post(
  port: number,
  path: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
  method = 'POST',
): Promise<{ status: number; body: string; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method, headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            headers: res.headers,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export async function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * A socket bound before its owner loaded (as an entry binds the Telemetry listener's): requests wait,
 * unanswered, until a handler is attached, then go to it in order.
 */
export class HeldSocket {
  private readonly held: Array<[IncomingMessage, ServerResponse]> = [];
  private handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  closed = 0;
  private readonly server = createServer((req, res) => {
    if (this.handler) this.handler(req, res);
    else this.held.push([req, res]);
  });

  get port(): number {
    return (this.server.address() as AddressInfo | null)?.port ?? 0;
  }

  get waiting(): number {
    return this.held.length;
  }

  listen(): Promise<number> {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => resolve(this.port)));
  }

  attach(handler: (req: IncomingMessage, res: ServerResponse) => void): void {
    this.handler = handler;
    for (const [req, res] of this.held.splice(0)) handler(req, res);
  }

  close(): Promise<void> {
    this.closed++;
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

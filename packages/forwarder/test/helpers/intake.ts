// A loopback Datadog intake for the forwarder's tests: records every request, decodes its body, and
// plays the faults a test programs (status codes, delays, connection resets, a black hole, a body that never ends).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import zlib from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';

export const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url);
export const CA_FILE = fixture('ca.pem').pathname;

export interface Fault {
  status?: number;
  /** Answer after this many milliseconds. */
  delayMs?: number;
  /** Destroy the connection with a TCP reset instead of answering. */
  reset?: boolean;
  /** Never answer. */
  blackhole?: boolean;
  /** Answer the status line and headers, then never finish the body. */
  stallBody?: boolean;
  headers?: Record<string, string>;
  /** The answer's body instead of the usual JSON. */
  body?: string | Buffer;
  /** A `103 Early Hints` before the answer. */
  earlyHints?: boolean;
}

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Which TCP connection carried it (1 = the first the intake accepted). */
  connection: number;
  at: number;
}

export type Behaviour = (req: ReceivedRequest, index: number) => Fault | undefined;

export async function decodeBody(req: ReceivedRequest): Promise<Buffer> {
  switch (req.headers['content-encoding']) {
    case undefined:
      return req.body;
    case 'gzip':
      return zlib.gunzipSync(req.body);
    case 'deflate':
      return zlib.inflateSync(req.body);
    case 'zstd':
      // fzstd: a pure-JS decoder, independent of the codec the forwarder compresses with.
      return Buffer.from(zstdDecompress(req.body));
    default:
      throw new Error(`unknown content-encoding ${req.headers['content-encoding']}`);
  }
}

export class FakeIntake {
  readonly requests: ReceivedRequest[] = [];
  connections = 0;
  behaviour: Behaviour = () => undefined;
  readonly #server: http.Server;
  readonly #sockets = new Set<Socket>();
  readonly #waiters: Array<() => void> = [];
  #postCount = 0;

  private constructor(server: http.Server) {
    this.#server = server;
  }

  static async start(options: { tls?: boolean } = {}): Promise<FakeIntake> {
    const server = options.tls
      ? https.createServer({
          key: readFileSync(fixture('server.key')),
          cert: readFileSync(fixture('server.pem')),
        })
      : http.createServer();
    const intake = new FakeIntake(server);
    server.keepAliveTimeout = 60_000;
    server.on(options.tls ? 'secureConnection' : 'connection', (socket: Socket) => {
      intake.connections++;
      (socket as Socket & { id?: number }).id = intake.connections;
      intake.#sockets.add(socket);
      socket.on('close', () => intake.#sockets.delete(socket));
    });
    server.on('request', (req, res) => intake.#handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return intake;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  get url(): string {
    const scheme = this.#server instanceof https.Server ? 'https' : 'http';
    return `${scheme}://127.0.0.1:${this.port}`;
  }

  /** POSTs only (warm-up HEADs excluded). */
  get posts(): ReceivedRequest[] {
    return this.requests.filter((r) => r.method === 'POST');
  }

  /** Resolves once `n` POSTs have arrived. */
  async waitForPosts(n: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.posts.length < n) {
      if (Date.now() > deadline) throw new Error(`expected ${n} requests, got ${this.posts.length}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50).unref();
      });
    }
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const received: ReceivedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
        connection: (req.socket as Socket & { id?: number }).id ?? 0,
        at: Date.now(),
      };
      this.requests.push(received);
      const index = received.method === 'POST' ? this.#postCount++ : -1;
      for (const w of this.#waiters.splice(0)) w();
      const fault = received.method === 'POST' ? this.behaviour(received, index) : undefined;
      if (fault?.blackhole) return;
      if (fault?.stallBody) {
        res.writeHead(202, { 'content-type': 'application/json', 'content-length': '1000' });
        res.write('{');
        return;
      }
      const answer = () => {
        if (fault?.reset) {
          req.socket.resetAndDestroy();
          return;
        }
        const status = fault?.status ?? (received.method === 'POST' ? 202 : 404);
        if (fault?.earlyHints) res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
        res.writeHead(status, { 'content-type': 'application/json', ...fault?.headers });
        res.end(fault?.body ?? (status < 300 ? '{}' : `{"errors":["status ${status}"]}`));
      };
      if (fault?.delayMs) setTimeout(answer, fault.delayMs);
      else answer();
    });
  }
}

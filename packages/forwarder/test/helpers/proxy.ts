// A small HTTP CONNECT proxy on loopback: it records each tunnel's target and pipes the bytes.
import http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';

export class ConnectProxy {
  readonly tunnels: string[] = [];
  /** Plain (absolute-form) requests, which this proxy refuses. */
  plainRequests = 0;
  readonly authorizations: Array<string | undefined> = [];
  readonly #server: http.Server;
  readonly #sockets = new Set<Socket>();

  private constructor(server: http.Server) {
    this.#server = server;
  }

  static async start(): Promise<ConnectProxy> {
    const server = http.createServer((_req, res) => {
      proxy.plainRequests++;
      res.writeHead(405);
      res.end();
    });
    const proxy: ConnectProxy = new ConnectProxy(server);
    server.on('connect', (req: http.IncomingMessage, client: Socket, head: Buffer) => {
      proxy.tunnels.push(req.url ?? '');
      proxy.authorizations.push(req.headers['proxy-authorization']);
      const [host, port] = (req.url ?? '').split(':');
      const upstream = net.connect(Number(port), host ?? '127.0.0.1', () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length > 0) upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      proxy.#sockets.add(client);
      proxy.#sockets.add(upstream);
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      upstream.on('error', end);
      client.on('error', end);
      upstream.on('close', end);
      client.on('close', end);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

// A plain node:http client for the intake tests: full control of headers and body, and a
// client-side timeout to observe a black hole.
import http from 'node:http';
import https from 'node:https';

export interface Sent {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json(): unknown;
}

export interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  timeoutMs?: number;
  ca?: string;
  /** Overrides the Host header / TLS server name. */
  servername?: string;
}

export function send(base: string, path: string, opts: SendOptions = {}): Promise<Sent> {
  const url = new URL(path, base);
  const body = typeof opts.body === 'string' ? Buffer.from(opts.body) : (opts.body ?? new Uint8Array(0));
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(
      url,
      {
        method: opts.method ?? 'POST',
        headers: { 'content-length': String(body.length), ...(opts.headers ?? {}) },
        ca: opts.ca,
        servername: opts.servername,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
        });
      },
    );
    req.on('error', reject);
    if (opts.timeoutMs !== undefined) {
      req.setTimeout(opts.timeoutMs, () =>
        req.destroy(Object.assign(new Error('client timeout'), { code: 'ETIMEDOUT' })),
      );
    }
    req.end(body);
  });
}

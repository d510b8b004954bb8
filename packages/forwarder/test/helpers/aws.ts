// Fake Secrets Manager, KMS and SSM on loopback. Every request's SigV4 signature is checked with the
// algorithm written out again here from the AWS documentation, independently of the signing library.
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const CREDENTIALS = {
  accessKeyId: 'AKIDTESTFORWARDER',
  secretAccessKey: 'test/secret+access/key/forwarder0000000',
  sessionToken: 'session-token-for-the-forwarder-tests',
};

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

export interface SignatureCheck {
  ok: boolean;
  reason?: string;
  region?: string;
  service?: string;
}

/** Verifies an AWS Signature Version 4 `Authorization` header against the request as received. */
export function verifySigV4(
  method: string,
  rawPath: string,
  headers: http.IncomingHttpHeaders,
  body: Buffer,
  secretAccessKey: string,
  nowMs: number = Date.now(),
): SignatureCheck {
  const auth = headers.authorization;
  if (typeof auth !== 'string') return { ok: false, reason: 'no Authorization header' };
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
      auth,
    );
  if (!m) return { ok: false, reason: `malformed Authorization: ${auth.slice(0, 40)}` };
  const [, , date, region, service, signedHeaders, signature] = m as unknown as string[];
  const amzDate = headers['x-amz-date'];
  if (typeof amzDate !== 'string' || !amzDate.startsWith(date!)) return { ok: false, reason: 'x-amz-date' };
  const skew = Math.abs(
    Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z')) -
      nowMs,
  );
  if (!(skew < 15 * 60_000)) return { ok: false, reason: 'request time skew' };
  const names = signedHeaders!.split(';');
  if (!names.includes('host') || !names.includes('x-amz-date'))
    return { ok: false, reason: 'host/date unsigned' };
  const [path, query = ''] = rawPath.split('?');
  const canonicalQuery = query.split('&').filter(Boolean).sort().join('&');
  const canonicalHeaders = names
    .map((n) => {
      const v = headers[n];
      const text = Array.isArray(v) ? v.join(',') : (v ?? '');
      return `${n}:${text.trim().replace(/\s+/g, ' ')}\n`;
    })
    .join('');
  const canonicalRequest = [
    method,
    path || '/',
    canonicalQuery,
    canonicalHeaders,
    signedHeaders,
    sha256(body),
  ].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  const kDate = hmac(`AWS4${secretAccessKey}`, date!);
  const kRegion = hmac(kDate, region!);
  const kService = hmac(kRegion, service!);
  const kSigning = hmac(kService, 'aws4_request');
  const expected = createHmac('sha256', kSigning).update(stringToSign).digest('hex');
  if (expected !== signature) return { ok: false, reason: 'signature mismatch', region, service };
  return { ok: true, region: region!, service: service! };
}

export interface AwsCall {
  target: string;
  body: Record<string, unknown>;
  region: string | undefined;
  service: string | undefined;
  signatureOk: boolean;
  reason: string | undefined;
  sessionToken: string | undefined;
  host: string | undefined;
}

export type AwsHandler = (call: AwsCall) => { status: number; body: unknown; delayMs?: number };

export class FakeAws {
  readonly calls: AwsCall[] = [];
  handler: AwsHandler = () => ({ status: 400, body: { __type: 'UnknownOperationException' } });
  readonly #server: http.Server;

  private constructor(server: http.Server) {
    this.#server = server;
  }

  static async start(): Promise<FakeAws> {
    const server = http.createServer();
    const aws = new FakeAws(server);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const check = verifySigV4(
          req.method ?? '',
          req.url ?? '/',
          req.headers,
          body,
          CREDENTIALS.secretAccessKey,
        );
        const token = req.headers['x-amz-security-token'];
        let parsed: Record<string, unknown> = {};
        try {
          parsed = JSON.parse(body.toString('utf8'));
        } catch {}
        const call: AwsCall = {
          target: String(req.headers['x-amz-target'] ?? ''),
          body: parsed,
          region: check.region,
          service: check.service,
          signatureOk: check.ok,
          reason: check.reason,
          sessionToken: typeof token === 'string' ? token : undefined,
          host: req.headers.host,
        };
        aws.calls.push(call);
        const answer =
          check.ok && call.sessionToken === CREDENTIALS.sessionToken
            ? aws.handler(call)
            : {
                status: 403,
                body: { __type: 'InvalidSignatureException', message: check.reason ?? 'token' },
              };
        const send = () => {
          res.writeHead(answer.status, { 'content-type': 'application/x-amz-json-1.1' });
          res.end(JSON.stringify(answer.body));
        };
        const delay = 'delayMs' in answer ? answer.delayMs : undefined;
        if (delay) setTimeout(send, delay);
        else send();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return aws;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** The Lambda environment's credential variables, as the fake AWS expects them. */
export const AWS_ENV = {
  AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
  AWS_SESSION_TOKEN: CREDENTIALS.sessionToken,
  AWS_REGION: 'eu-west-1',
  AWS_LAMBDA_FUNCTION_NAME: 'my-function',
};

// The first thing the extension process does. This module needs only `node:http`, so an entry
// point can import it (through the `./register` export) and register before anything heavy loads.
import { type IncomingHttpHeaders, request } from 'node:http';

export const EXTENSION_NAME = 'datadog-agent';
export const EXTENSIONS_API_VERSION = '2020-01-01';

export type ExtensionEventType = 'INVOKE' | 'SHUTDOWN';

export interface Registration {
  extensionId: string;
  /** From the `accountId` feature; `"none"` when Lambda did not send one (as the real extension). */
  accountId: string;
  functionName?: string;
  functionVersion?: string;
  handler?: string;
  events: ExtensionEventType[];
}

export interface RegisterOptions {
  /** `host:port` of the Lambda API; default `AWS_LAMBDA_RUNTIME_API`. */
  runtimeApi?: string;
  /** Managed-instances mode registers SHUTDOWN only (invocations are driven by telemetry). */
  managedInstances?: boolean;
  name?: string;
  timeoutMs?: number;
}

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export class ExtensionsApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly errorType: string | undefined,
  ) {
    super(message);
    this.name = 'ExtensionsApiError';
  }
}

/** One HTTP exchange with the Lambda API: no proxy, no pooling (connections do not survive a freeze well). */
export function lambdaApiRequest(
  runtimeApi: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
  timeoutMs?: number,
): Promise<HttpResult> {
  const colon = runtimeApi.lastIndexOf(':');
  const host = colon > 0 ? runtimeApi.slice(0, colon) : runtimeApi;
  const port = colon > 0 ? Number(runtimeApi.slice(colon + 1)) : 80;
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(body);
    const req = request(
      {
        host,
        port,
        method,
        path,
        agent: false,
        headers: payload
          ? { ...headers, 'content-type': 'application/json', 'content-length': String(payload.length) }
          : headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (timeoutMs !== undefined) {
      req.setTimeout(timeoutMs, () =>
        req.destroy(new Error(`${method} ${path} timed out after ${timeoutMs} ms`)),
      );
    }
    req.end(payload);
  });
}

export function errorTypeOf(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { errorType?: unknown };
    return typeof parsed.errorType === 'string' ? parsed.errorType : undefined;
  } catch {
    return undefined;
  }
}

/** `POST /2020-01-01/extension/register` as the real extension does it. */
export async function register(options: RegisterOptions = {}): Promise<Registration> {
  const runtimeApi = options.runtimeApi ?? process.env['AWS_LAMBDA_RUNTIME_API'];
  if (!runtimeApi) throw new ExtensionsApiError('AWS_LAMBDA_RUNTIME_API is not set', 0, undefined);
  const events: ExtensionEventType[] = options.managedInstances ? ['SHUTDOWN'] : ['INVOKE', 'SHUTDOWN'];
  const res = await lambdaApiRequest(
    runtimeApi,
    'POST',
    `/${EXTENSIONS_API_VERSION}/extension/register`,
    {
      'lambda-extension-name': options.name ?? EXTENSION_NAME,
      'lambda-extension-accept-feature': 'accountId',
    },
    JSON.stringify({ events }),
    options.timeoutMs,
  );
  const errorType = errorTypeOf(res.body);
  if (res.status !== 200) {
    throw new ExtensionsApiError(
      `register answered ${res.status}${errorType ? ` ${errorType}` : ''}`,
      res.status,
      errorType,
    );
  }
  const id = res.headers['lambda-extension-identifier'];
  const extensionId = Array.isArray(id) ? id[0] : id;
  if (!extensionId) throw new ExtensionsApiError('register answered without an extension id', 200, undefined);
  let info: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(res.body);
    if (parsed && typeof parsed === 'object') info = parsed as Record<string, unknown>;
  } catch {
    // The body is informational; the id in the header is what matters.
  }
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const registration: Registration = {
    extensionId,
    accountId: str(info['accountId']) ?? 'none',
    events,
  };
  const functionName = str(info['functionName']);
  const functionVersion = str(info['functionVersion']);
  const handler = str(info['handler']);
  if (functionName) registration.functionName = functionName;
  if (functionVersion) registration.functionVersion = functionVersion;
  if (handler) registration.handler = handler;
  return registration;
}

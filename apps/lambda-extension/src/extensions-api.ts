// The Extensions API calls the app needs before (and without) the lifecycle package: register, the
// `event/next` long poll. Node built-ins only, so the entry can register before anything heavy loads.
// The shapes follow @serverless-agent/lifecycle's `register` so either can be used by the entry.
import { request } from 'node:http';

export const EXTENSION_NAME = 'datadog-agent';
const API = '2020-01-01';

export interface Registration {
  extensionId: string;
  accountId: string;
  functionName?: string;
  functionVersion?: string;
  handler?: string;
  events: ('INVOKE' | 'SHUTDOWN')[];
}

export interface RegisterOptions {
  runtimeApi?: string;
  managedInstances?: boolean;
  /**
   * Called once the register request is on the wire (or failed): anything loaded before that
   * moment delays the request itself, since the socket connects and writes on later turns.
   */
  onSent?: () => void;
}

export type ExtensionEvent =
  | { eventType: 'INVOKE'; requestId: string; deadlineMs: number; invokedFunctionArn?: string }
  | { eventType: 'SHUTDOWN'; shutdownReason: string; deadlineMs: number };

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(
  runtimeApi: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
  onSent?: () => void,
): Promise<Answer> {
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
        // A fresh connection each time: pooled sockets do not survive a freeze reliably.
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
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', (err) => {
      onSent?.();
      reject(err);
    });
    if (onSent) req.on('finish', onSent);
    req.end(payload);
  });
}

function runtimeApiOf(options: RegisterOptions): string {
  const api = options.runtimeApi ?? process.env.AWS_LAMBDA_RUNTIME_API;
  if (!api) throw new Error('AWS_LAMBDA_RUNTIME_API is not set');
  return api;
}

export async function register(options: RegisterOptions = {}): Promise<Registration> {
  const events: Registration['events'] = options.managedInstances ? ['SHUTDOWN'] : ['INVOKE', 'SHUTDOWN'];
  const res = await call(
    runtimeApiOf(options),
    'POST',
    `/${API}/extension/register`,
    { 'Lambda-Extension-Name': EXTENSION_NAME, 'Lambda-Extension-Accept-Feature': 'accountId' },
    JSON.stringify({ events }),
    options.onSent,
  );
  if (res.status !== 200) throw new Error(`register answered ${res.status}: ${res.body.slice(0, 200)}`);
  const id = res.headers['lambda-extension-identifier'];
  if (typeof id !== 'string' || id === '')
    throw new Error('register answered no Lambda-Extension-Identifier');
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(res.body) as Record<string, unknown>;
  } catch {
    // The identifier is what matters; the body is informational.
  }
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  return {
    extensionId: id,
    accountId: str(body.accountId) ?? 'none',
    functionName: str(body.functionName),
    functionVersion: str(body.functionVersion),
    handler: str(body.handler),
    events,
  };
}

/** Long-polls `event/next`. Throws on a transport error or a non-200 answer. */
export async function nextEvent(extensionId: string, options: RegisterOptions = {}): Promise<ExtensionEvent> {
  const res = await call(runtimeApiOf(options), 'GET', `/${API}/extension/event/next`, {
    'Lambda-Extension-Identifier': extensionId,
  });
  if (res.status !== 200) throw new Error(`event/next answered ${res.status}: ${res.body.slice(0, 200)}`);
  const event = JSON.parse(res.body) as ExtensionEvent;
  if (event.eventType !== 'INVOKE' && event.eventType !== 'SHUTDOWN') {
    throw new Error(
      `event/next gave an unknown event type ${String((event as { eventType: unknown }).eventType)}`,
    );
  }
  return event;
}

export interface TelemetrySubscriptionOptions extends RegisterOptions {
  port: number;
  types: ('platform' | 'function' | 'extension')[];
}

/**
 * Subscribes to the Telemetry API (before the first `next`: it closes afterwards). Resolves with the
 * HTTP status; never throws for an answer (a refused subscription is logged by the caller).
 */
export async function subscribeTelemetry(
  extensionId: string,
  options: TelemetrySubscriptionOptions,
): Promise<{ status: number; body: string }> {
  const body = {
    schemaVersion: options.managedInstances ? '2025-01-29' : '2022-12-13',
    destination: { protocol: 'HTTP', URI: `http://sandbox.localdomain:${options.port}/` },
    types: options.types,
    buffering: { maxItems: 1000, maxBytes: 262144, timeoutMs: 25 },
  };
  const res = await call(
    runtimeApiOf(options),
    'PUT',
    '/2022-07-01/telemetry',
    { 'Lambda-Extension-Identifier': extensionId },
    JSON.stringify(body),
  );
  return { status: res.status, body: res.body };
}

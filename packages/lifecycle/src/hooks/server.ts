// The :8124 hooks the Datadog libraries call. A tracer that gets a 4xx loses its trace context,
// so every body problem is answered 200 `{}` and handled as an empty payload.
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeNow, listen } from '../http-listen.js';
import type {
  InvocationError,
  LifecycleEvent,
  LifecycleListener,
  SpanContext,
} from '../invocation/events.js';
import { errorMessage, type Logger, noopLogger, OnceLogger } from '../logger.js';
import { decodeHeaderValue, spanContextFromHeaders, startResponseHeaders } from './headers.js';

export const DEFAULT_HOOKS_PORT = 8124;
export const MAX_HOOK_BODY_BYTES = 6 * 1024 * 1024;
export const REQUEST_ID_HEADER = 'lambda-runtime-aws-request-id';

/**
 * Trace-context extraction from a trigger event and its headers; owned by trace-intake, injected by
 * the app. It may answer later (the app's trace pipeline can still be loading): the hook's answer
 * waits for it, as the tracer waits for the answer.
 */
export type ContextExtractor = (
  event: unknown,
  headers: IncomingHttpHeaders,
  requestId: string | undefined,
) => SpanContext | undefined | Promise<SpanContext | undefined>;

/** What the hooks need of the invocation processor. */
export interface HookTarget {
  readonly currentRequestId: string | undefined;
  publish(event: LifecycleEvent): void;
  invocationErrored(requestId: string | undefined, time?: number): void;
  /**
   * The invocation events, whose INVOKEs a start-invocation without a request id is paired with
   * (first in, first out). Without it, such a call goes with the invocation most recently started.
   */
  subscribe?(listener: LifecycleListener): () => void;
}

export interface HooksServerOptions {
  port?: number;
  host?: string;
  extractContext?: ContextExtractor;
  /** `/lambda/flush`: the app flushes everything; the answer waits for it. */
  onFlush?: () => Promise<void> | void;
  logger?: Logger;
  now?: () => number;
  maxBodyBytes?: number;
}

export interface HooksStats {
  startInvocations: number;
  endInvocations: number;
  flushes: number;
  hellos: number;
  malformedBodies: number;
  oversizedBodies: number;
  extractorErrors: number;
  notFound: number;
}

interface StartRecord {
  requestId: string | undefined;
  spanContext: SpanContext | undefined;
  /** Its universalStart, held until the INVOKE it pairs with gives it a request id. */
  unpublished?: LifecycleEvent & { type: 'universalStart' };
}

const MAX_PENDING_STARTS = 100;
const MAX_UNPAIRED_INVOKES = 100;

export class HooksServer {
  private server: Server | undefined;
  private readonly logger: Logger;
  private readonly once: OnceLogger;
  private readonly now: () => number;
  private readonly starts: StartRecord[] = [];
  /** INVOKEs no start-invocation has claimed yet, oldest first (only with a subscribable target). */
  private readonly unpairedInvokes: string[] = [];
  /** Request ids a start-invocation named before its INVOKE arrived. */
  private readonly claimedEarly = new Set<string>();
  private readonly fifo: boolean;
  readonly stats: HooksStats = {
    startInvocations: 0,
    endInvocations: 0,
    flushes: 0,
    hellos: 0,
    malformedBodies: 0,
    oversizedBodies: 0,
    extractorErrors: 0,
    notFound: 0,
  };

  constructor(
    private readonly target: HookTarget,
    private readonly options: HooksServerOptions = {},
  ) {
    this.logger = options.logger ?? noopLogger;
    this.once = new OnceLogger(this.logger);
    this.now = options.now ?? Date.now;
    this.fifo = target.subscribe !== undefined;
    target.subscribe?.((event) => {
      if (event.type === 'invocationStart') this.onInvoke(event.requestId);
    });
  }

  /** An INVOKE: the oldest start-invocation still waiting for one takes it, else it waits for one. */
  private onInvoke(requestId: string): void {
    if (this.claimedEarly.delete(requestId)) return;
    const waiting = this.starts.find((s) => s.unpublished);
    if (waiting?.unpublished) {
      const event = waiting.unpublished;
      waiting.unpublished = undefined;
      waiting.requestId = requestId;
      event.requestId = requestId;
      this.target.publish(event);
      return;
    }
    this.unpairedInvokes.push(requestId);
    if (this.unpairedInvokes.length > MAX_UNPAIRED_INVOKES) this.unpairedInvokes.shift();
  }

  /** The request a start-invocation belongs to: its header's, else the oldest unclaimed INVOKE's. */
  private pairStart(headerId: string | undefined): string | undefined {
    if (!this.fifo) return headerId ?? this.target.currentRequestId;
    if (headerId !== undefined) {
      const i = this.unpairedInvokes.indexOf(headerId);
      if (i >= 0) this.unpairedInvokes.splice(i, 1);
      else {
        this.claimedEarly.add(headerId);
        if (this.claimedEarly.size > MAX_UNPAIRED_INVOKES)
          this.claimedEarly.delete(this.claimedEarly.values().next().value as string);
      }
      return headerId;
    }
    return this.unpairedInvokes.shift();
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  async start(): Promise<number> {
    const server = createServer((req, res) => {
      this.route(req, res).catch((err) => {
        this.once.warn('route', `hook ${req.url} failed: ${errorMessage(err)}`);
        if (!res.headersSent) answer(res, 200, {});
      });
    });
    this.server = server;
    await listen(server, this.options.port ?? DEFAULT_HOOKS_PORT, this.options.host ?? '127.0.0.1');
    return this.port;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await closeNow(server);
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0];
    switch (path) {
      case '/lambda/start-invocation':
        if (req.method !== 'POST') break;
        return this.startInvocation(req, res);
      case '/lambda/end-invocation':
        if (req.method !== 'POST') break;
        return this.endInvocation(req, res);
      case '/lambda/flush':
        return this.flush(req, res);
      case '/lambda/hello':
        await readBody(req, 0);
        this.stats.hellos++;
        this.once.warn('hello', '/lambda/hello is deprecated: the Datadog library in use is old');
        answer(res, 200, {});
        return;
      default:
        break;
    }
    await readBody(req, 0);
    this.stats.notFound++;
    answer(res, 404, { error: 'not found' });
  }

  private async payload(req: IncomingMessage, hook: string): Promise<unknown> {
    const limit = this.options.maxBodyBytes ?? MAX_HOOK_BODY_BYTES;
    const body = await readBody(req, limit);
    if (body.oversized) {
      this.stats.oversizedBodies++;
      this.once.warn(
        `oversized:${hook}`,
        `${hook} body over ${limit} bytes: processed as an empty payload (counted)`,
      );
      return {};
    }
    if (body.text.trim() === '') return {};
    try {
      return JSON.parse(body.text);
    } catch {
      this.stats.malformedBodies++;
      this.once.warn(
        `malformed:${hook}`,
        `${hook} body is not JSON: processed as an empty payload (counted)`,
      );
      return {};
    }
  }

  private async startInvocation(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const event = await this.payload(req, 'start-invocation');
    const time = this.now();
    this.stats.startInvocations++;
    // Without the header the call pairs with the next INVOKE, first in first out (the hook can beat
    // its INVOKE, and the invocation most recently started may be the previous one).
    const requestId = this.pairStart(headerValue(req.headers, REQUEST_ID_HEADER));
    let spanContext: SpanContext | undefined;
    if (this.options.extractContext) {
      try {
        spanContext = await this.options.extractContext(event, req.headers, requestId);
      } catch (err) {
        this.stats.extractorErrors++;
        this.once.warn('extractor', `trace context extraction failed: ${errorMessage(err)}`);
      }
    }
    const out: LifecycleEvent & { type: 'universalStart' } = {
      type: 'universalStart',
      time,
      event,
      headers: req.headers,
    };
    if (requestId) out.requestId = requestId;
    if (spanContext) out.spanContext = spanContext;
    const record: StartRecord = { requestId, spanContext };
    if (requestId === undefined && this.fifo) record.unpublished = out;
    this.starts.push(record);
    if (this.starts.length > MAX_PENDING_STARTS) {
      const dropped = this.starts.shift();
      if (dropped?.unpublished) this.target.publish(dropped.unpublished);
    }
    if (!record.unpublished) this.target.publish(out);
    answer(res, 200, {}, spanContext ? startResponseHeaders(spanContext) : {});
  }

  private async endInvocation(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const response = await this.payload(req, 'end-invocation');
    const time = this.now();
    this.stats.endInvocations++;
    const h = req.headers;
    const headerId = headerValue(h, REQUEST_ID_HEADER);
    const start = this.takeStart(headerId);
    if (start?.unpublished) {
      // its INVOKE never came before the end: the start goes out as it is
      this.target.publish(start.unpublished);
      start.unpublished = undefined;
    }
    const requestId = headerId ?? start?.requestId ?? this.target.currentRequestId;
    const out: LifecycleEvent = { type: 'universalEnd', time, response, headers: h };
    if (requestId) out.requestId = requestId;
    const spanContext = start?.spanContext ?? spanContextFromHeaders(h);
    if (spanContext) out.spanContext = spanContext;
    const spanId = headerValue(h, 'x-datadog-span-id');
    if (spanId && /^\d+$/.test(spanId)) out.spanId = BigInt(spanId);
    if (response && typeof response === 'object' && !Array.isArray(response)) {
      const code = (response as Record<string, unknown>)['statusCode'];
      if (typeof code === 'number' && Number.isInteger(code)) out.statusCode = code;
    }
    const error = errorFromHeaders(h);
    if (error) out.error = error;
    if (error || (out.statusCode !== undefined && isServerError(out.statusCode))) {
      this.target.invocationErrored(requestId, time);
    }
    this.target.publish(out);
    answer(res, 200, {});
  }

  private takeStart(requestId: string | undefined): StartRecord | undefined {
    const i = requestId === undefined ? 0 : this.starts.findIndex((s) => s.requestId === requestId);
    if (i < 0 || i >= this.starts.length) return undefined;
    return this.starts.splice(i, 1)[0];
  }

  private async flush(req: IncomingMessage, res: ServerResponse): Promise<void> {
    await readBody(req, 0);
    this.stats.flushes++;
    try {
      await this.options.onFlush?.();
    } catch (err) {
      this.once.warn('flush', `flush requested on /lambda/flush failed: ${errorMessage(err)}`);
    }
    answer(res, 200, {});
  }
}

function answer(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** Reads the whole body; beyond `limit` bytes it keeps draining but keeps nothing. */
function readBody(req: IncomingMessage, limit: number): Promise<{ text: string; oversized: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let oversized = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (oversized) return;
      if (size > limit) {
        oversized = limit > 0;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => resolve({ text: '', oversized }));
    req.on('end', () =>
      resolve({ text: oversized ? '' : Buffer.concat(chunks).toString('utf8'), oversized }),
    );
  });
}

export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? undefined : s;
}

/**
 * The error headers' rules: `x-datadog-invocation-error` counts only as `true`; the mere presence
 * of the msg/type/stack headers counts too; each is base64 when it decodes cleanly, raw otherwise.
 */
export function errorFromHeaders(h: IncomingHttpHeaders): InvocationError | undefined {
  const flag = headerValue(h, 'x-datadog-invocation-error');
  const msg = h['x-datadog-invocation-error-msg'];
  const type = h['x-datadog-invocation-error-type'];
  const stack = h['x-datadog-invocation-error-stack'];
  const present = msg !== undefined || type !== undefined || stack !== undefined;
  if (flag?.toLowerCase() !== 'true' && !present) return undefined;
  const error: InvocationError = {};
  const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const m = one(msg);
  const t = one(type);
  const s = one(stack);
  if (m !== undefined) error.message = decodeHeaderValue(m);
  if (t !== undefined) error.type = decodeHeaderValue(t);
  if (s !== undefined) error.stack = decodeHeaderValue(s);
  return error;
}

/** As the real extension: a three-digit code starting with 5 (600+ is no HTTP status at all). */
function isServerError(code: number): boolean {
  return code >= 500 && code <= 599;
}

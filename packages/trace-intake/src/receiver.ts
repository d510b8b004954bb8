// The fastify server tracers talk to on 127.0.0.1:8126: traces (v0.3/v0.4/v0.5), client stats,
// /info, and the proxy routes, each body-limited and counted; bad input is a 4xx, never a crash.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { type TraceAgent, tracerHeadersFrom } from './agent.js';
import { readBody } from './body.js';
import { DecodeError, decodeJsonTraces, decodeV05 } from './decode.js';
import { type Answer, hotRouteListener, type TraceVersion } from './hot-routes.js';
import { decodeClientStats } from './stats.js';
import type { EndpointKind, OutgoingPayload, Span } from './types.js';

/** The proxy routes of the Lambda extension: what each forwards to (for the forwarder's URL table). */
export const PROXY_ROUTES: { path: string; kind: EndpointKind; backend: string; intakePath: string }[] = [
  {
    path: '/v0.1/pipeline_stats',
    kind: 'pipeline_stats',
    backend: 'trace.agent',
    intakePath: '/api/v0.1/pipeline_stats',
  },
  {
    path: '/profiling/v1/input',
    kind: 'profiling',
    backend: 'intake.profile',
    intakePath: '/api/v2/profile',
  },
  {
    path: '/evp_proxy/v2/api/v2/llmobs',
    kind: 'llmobs',
    backend: 'llmobs-intake',
    intakePath: '/api/v2/llmobs',
  },
  {
    path: '/evp_proxy/v2/api/intake/llm-obs/v1/eval-metric',
    kind: 'llmobs_eval',
    backend: 'api',
    intakePath: '/api/intake/llm-obs/v1/eval-metric',
  },
  {
    path: '/evp_proxy/v2/api/intake/llm-obs/v2/eval-metric',
    kind: 'llmobs_eval',
    backend: 'api',
    intakePath: '/api/intake/llm-obs/v2/eval-metric',
  },
  {
    path: '/debugger/v1/input',
    kind: 'debugger_logs',
    backend: 'http-intake.logs',
    intakePath: '/api/v2/logs',
  },
  {
    path: '/debugger/v2/input',
    kind: 'debugger',
    backend: 'debugger-intake',
    intakePath: '/api/v2/debugger',
  },
  {
    path: '/debugger/v1/diagnostics',
    kind: 'debugger',
    backend: 'debugger-intake',
    intakePath: '/api/v2/debugger',
  },
  {
    path: '/telemetry/proxy/api/v2/apmtelemetry',
    kind: 'apm_telemetry',
    backend: 'instrumentation-telemetry-intake',
    intakePath: '/api/v2/apmtelemetry',
  },
];

/** Header carrying the intake path of a proxied payload (the forwarder maps kind + path to a URL). */
export const PROXY_PATH_HEADER = 'X-Serverless-Agent-Intake-Path';

const TRACE_ENDPOINTS = new Map<string, TraceVersion>([
  ['/v0.3/traces', 'v0.3'],
  ['/v0.4/traces', 'v0.4'],
  ['/v0.5/traces', 'v0.5'],
]);
const STATS_ENDPOINT = '/v0.6/stats';
// /info lists what we serve; the telemetry proxy is served but not advertised, as the extension does
const ADVERTISED = [
  '/v0.4/traces',
  '/v0.5/traces',
  STATS_ENDPOINT,
  '/info',
  ...PROXY_ROUTES.map((r) => r.path).filter((p) => !p.startsWith('/telemetry/')),
];

export interface ReceiverOptions {
  host: string;
  port: number;
  maxTraceBodyBytes: number;
  maxOtherBodyBytes: number;
  /** Proxied requests go here; this package does no outbound HTTP. */
  onProxy?: (payload: OutgoingPayload) => void;
  /** Tags sent as `X-Datadog-Additional-Tags` on proxied requests. */
  additionalTags?: Record<string, string>;
  /** Runs after each accepted trace request (the app may flush on it). */
  onTraces?: () => void;
}

export interface TraceReceiver {
  /**
   * The fastify instance, built on first use: by this getter, `listen()`, or `handle` for a request
   * the hot trace routes leave to it.
   */
  readonly app: FastifyInstance;
  /** Whether the fastify instance has been built. */
  readonly appBuilt: boolean;
  /**
   * A request listener for a server of the caller's: the hot trace routes, then fastify, built (and
   * made ready) on the first request that needs it; requests meanwhile wait for it, in order.
   */
  readonly handle: (req: IncomingMessage, res: ServerResponse) => void;
  listen(): Promise<{ host: string; port: number }>;
  close(): Promise<void>;
  /** The /info body we answer with. */
  readonly info: Record<string, unknown>;
}

const DROPPED_HEADERS = new Set([
  'host',
  'content-length',
  'connection',
  'transfer-encoding',
  'keep-alive',
  'dd-api-key',
]);

const KEEP_ALIVE_MS = 60_000;
// Requests held by `handle` while fastify is made ready (tracers send a handful; the excess is 503).
const MAX_WAITING_FOR_APP = 512;
// What fastify answers while it closes (its `return503OnClosing`).
const UNAVAILABLE = '{"error":"Service Unavailable","message":"Service Unavailable","statusCode":503}';

export function createTraceReceiver(agent: TraceAgent, opts: ReceiverOptions): TraceReceiver {
  let closing = false;
  const info = {
    version: agent.agentVersion,
    git_commit: '',
    endpoints: ADVERTISED,
    client_drop_p0s: false,
    span_meta_structs: true,
    long_running_spans: false,
    config: {
      default_env: agent.opts.env ?? 'none',
      // no sampling here: the tracer decides, every trace is kept
      target_tps: 0,
      max_eps: 0,
      receiver_port: opts.port,
      receiver_socket: '',
      connection_limit: 0,
      receiver_timeout: 0,
      max_request_bytes: opts.maxTraceBodyBytes,
      statsd_port: 8125,
      max_memory: 0,
      max_cpu: 0,
      analyzed_spans_by_service: {},
      obfuscation: {
        elastic_search: agent.opts.obfuscation.elasticsearch.enabled,
        mongo: agent.opts.obfuscation.mongodb.enabled,
        sql_exec_plan: false,
        sql_exec_plan_normalize: false,
        http: {
          remove_query_string: agent.opts.obfuscation.http.removeQueryString,
          remove_path_digits: agent.opts.obfuscation.http.removePathDigits,
        },
        remove_stack_traces: agent.opts.obfuscation.removeStackTraces,
        redis: {
          enabled: agent.opts.obfuscation.redis.enabled,
          remove_all_args: agent.opts.obfuscation.redis.removeAllArgs,
        },
        memcached: {
          enabled: agent.opts.obfuscation.memcached.enabled,
          keep_command: agent.opts.obfuscation.memcached.keepCommand,
        },
      },
    },
  };
  const infoBody = JSON.stringify(info);
  const state = createHash('sha256').update(infoBody).digest('hex');
  const ratesBody = JSON.stringify({ rate_by_service: { 'service:,env:': 1 } });
  const additionalTags = Object.entries(opts.additionalTags ?? {})
    .map(([k, v]) => `${k}:${v}`)
    .join(',');

  const failure = (method: string, url: string, err: Error & { statusCode?: number }): Answer => {
    const status = err.statusCode ?? 500;
    if (status === 413) {
      agent.counters.tooLarge++;
      agent.log.warn('too-large', `${method} ${url}: body over the limit, rejected with 413`);
    } else if (status >= 400 && status < 500) {
      agent.counters.decodeErrors++;
      agent.log.warn('bad-request', `${method} ${url}: ${err.message}`);
    } else {
      agent.log.warn('internal', `${method} ${url}: ${err.message}`);
    }
    return {
      status,
      contentType: 'text/plain',
      body: status === 413 ? 'payload too large\n' : `${err.message}\n`,
      close: true,
    };
  };
  const text = (status: number, body: string): Answer => ({ status, contentType: 'text/plain', body });
  const rates: Answer = { status: 200, contentType: 'application/json; charset=utf-8', body: ratesBody };
  const serveTraces = (
    version: TraceVersion,
    req: { method?: string; url?: string; headers: IncomingMessage['headers'] },
    body: Buffer,
    lent = false,
  ): Answer => {
    agent.counters.requests++;
    const ct = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const badBody = (err: unknown) => {
      agent.counters.decodeErrors++;
      const msg = err instanceof DecodeError ? err.message : `decode failed: ${(err as Error).message}`;
      agent.log.warn('decode', `${req.method} ${req.url}: ${msg} (${body.length} bytes)`);
      return text(400, `${msg}\n`);
    };
    // v0.5 and JSON are decoded here into strings and numbers, nothing of the body kept; v0.3/v0.4
    // msgpack goes to the agent as bytes (handleV04), told whether the bytes are lent
    let traces: Span[][] | undefined;
    try {
      if (version === 'v0.5') traces = decodeV05(body);
      else if (ct === 'application/json' || ct === 'text/json') traces = decodeJsonTraces(body);
    } catch (err) {
      return badBody(err);
    }
    let accepted: boolean;
    try {
      const header = tracerHeadersFrom(req.headers);
      accepted = traces ? agent.handleTraces(traces, header) : agent.handleV04(body, header, lent);
    } catch (err) {
      if (err instanceof DecodeError) return badBody(err);
      agent.log.warn('process', `${req.method} ${req.url}: processing failed: ${(err as Error).message}`);
      return text(500, 'processing failed\n');
    }
    opts.onTraces?.();
    if (!accepted && req.headers['datadog-send-real-http-status']) {
      return text(429, 'too many spans buffered\n');
    }
    return version === 'v0.3' ? text(200, 'OK\n') : rates;
  };

  const hot = hotRouteListener({
    paths: TRACE_ENDPOINTS,
    limit: opts.maxTraceBodyBytes,
    headers: [
      ['datadog-agent-version', agent.agentVersion],
      ['datadog-agent-state', state],
    ],
    serve: serveTraces,
    failed: (req, err) => failure(req.method ?? '', req.url ?? '', err),
    crashed: (req, err) => {
      agent.log.warn('internal', `${req.method} ${req.url}: ${(err as Error).message}`);
      return text(500, 'processing failed\n');
    },
  });

  // fastify serves what the hot routes leave to it; built on first need (`app`, `handle`, `listen`).
  const buildApp = (): FastifyInstance => {
    const app = Fastify({
      logger: false,
      bodyLimit: opts.maxTraceBodyBytes,
      // tracers keep connections alive across invocations; a frozen sandbox must not leave them half-open
      keepAliveTimeout: KEEP_ALIVE_MS,
      forceCloseConnections: true,
      // the trace routes are served before fastify routes the request (src/hot-routes.ts)
      serverFactory: (handler) => {
        const server = createServer((req, res) => {
          if (closing || !hot(req, res)) handler(req, res);
        });
        // what fastify sets on a server it creates itself (its request and connection timeouts are 0)
        server.keepAliveTimeout = KEEP_ALIVE_MS;
        server.requestTimeout = 0;
        server.setTimeout(0);
        return server;
      },
    });
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (req, payload, done) =>
      readBody(
        payload,
        req.headers['content-length'],
        req.routeOptions.bodyLimit ?? opts.maxTraceBodyBytes,
        done,
      ),
    );
    // a callback hook: an async one costs every request a promise
    app.addHook('onSend', (_req, reply, payload, done) => {
      reply.header('Datadog-Agent-Version', agent.agentVersion);
      reply.header('Datadog-Agent-State', state);
      done(null, payload);
    });
    app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
      const a = failure(req.method, req.url, err);
      reply.code(a.status).type(a.contentType).send(a.body);
    });
    app.setNotFoundHandler((req, reply) => {
      reply.code(404).type('text/plain').send(`${req.url} not found\n`);
    });

    const bodyOf = (req: FastifyRequest): Buffer => (Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));

    // the same routes for what the hot routes leave to fastify
    for (const [path, v] of TRACE_ENDPOINTS) {
      app.route({
        method: ['PUT', 'POST'],
        url: path,
        handler: async (req, reply) => {
          const a = serveTraces(v, req, bodyOf(req));
          return reply.code(a.status).type(a.contentType).send(a.body);
        },
      });
    }

    app.route({
      method: ['PUT', 'POST'],
      url: STATS_ENDPOINT,
      bodyLimit: opts.maxOtherBodyBytes,
      handler: async (req, reply) => {
        agent.counters.requests++;
        const body = bodyOf(req);
        try {
          agent.handleClientStats(decodeClientStats(body));
        } catch (err) {
          agent.counters.decodeErrors++;
          agent.log.warn('stats-decode', `${req.url}: ${(err as Error).message}`);
          return reply
            .code(400)
            .type('text/plain')
            .send(`${(err as Error).message}\n`);
        }
        return reply.code(200).send();
      },
    });

    app.all('/info', async (_req, reply) => reply.code(200).type('application/json').send(infoBody));
    // legacy no-ops the Agent still answers
    for (const p of ['/v0.3/services', '/v0.4/services']) {
      app.route({
        method: ['PUT', 'POST'],
        url: p,
        handler: async (_req, reply) => reply.code(200).send('OK\n'),
      });
    }

    for (const r of PROXY_ROUTES) {
      app.route({
        method: ['POST', 'PUT'],
        url: r.path,
        bodyLimit: opts.maxOtherBodyBytes,
        handler: async (req, reply) => {
          agent.counters.proxyRequests++;
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(req.headers)) {
            if (v === undefined || DROPPED_HEADERS.has(k)) continue;
            headers[k] = Array.isArray(v) ? v.join(', ') : v;
          }
          if (additionalTags) headers['X-Datadog-Additional-Tags'] = additionalTags;
          headers[PROXY_PATH_HEADER] = r.intakePath;
          const contentType = headers['content-type'] ?? 'application/octet-stream';
          delete headers['content-type'];
          const payload: OutgoingPayload = {
            kind: r.kind,
            body: bodyOf(req),
            contentType,
            headers,
            items: 1,
          };
          try {
            opts.onProxy?.(payload);
          } catch (err) {
            agent.log.warn('proxy', `${r.path}: forwarding failed: ${(err as Error).message}`);
          }
          return reply.code(r.kind === 'apm_telemetry' ? 202 : 200).send('');
        },
      });
    }

    return app;
  };

  let app: FastifyInstance | undefined;
  const theApp = () => {
    app ??= buildApp();
    return app;
  };
  // Requests `handle` leaves to fastify wait here until it is ready (its build, then avvio's boot).
  let ready: 'no' | 'pending' | 'yes' | 'failed' = 'no';
  const waiting: [IncomingMessage, ServerResponse][] = [];
  const unavailable = (res: ServerResponse) => {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(503, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(UNAVAILABLE),
    });
    res.end(UNAVAILABLE);
  };
  const failedApp = (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    if (res.headersSent || res.destroyed) return;
    res.writeHead(500, { 'content-type': 'text/plain', connection: 'close' });
    res.end('receiver unavailable\n');
  };
  const makeReady = () => {
    ready = 'pending';
    let instance: FastifyInstance;
    try {
      instance = theApp();
    } catch (err) {
      ready = 'failed';
      agent.log.warn('internal', `the receiver's router could not be built: ${(err as Error).message}`);
      for (const [req, res] of waiting.splice(0)) failedApp(req, res);
      return;
    }
    instance.ready().then(
      () => {
        ready = 'yes';
        for (const [req, res] of waiting.splice(0)) instance.routing(req, res);
      },
      (err: Error) => {
        ready = 'failed';
        agent.log.warn('internal', `the receiver's router could not start: ${err.message}`);
        for (const [req, res] of waiting.splice(0)) failedApp(req, res);
      },
    );
  };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    if (!closing && hot(req, res)) return;
    if (ready === 'yes') return app!.routing(req, res);
    // Never built and closing: what fastify answers then, without building it for that.
    if (closing && app === undefined) {
      req.resume();
      return unavailable(res);
    }
    if (ready === 'failed') return failedApp(req, res);
    if (waiting.length >= MAX_WAITING_FOR_APP) {
      req.resume();
      return unavailable(res);
    }
    waiting.push([req, res]);
    if (ready === 'no') makeReady();
  };

  return {
    get app() {
      return theApp();
    },
    get appBuilt() {
      return app !== undefined;
    },
    handle,
    info,
    async listen() {
      const instance = theApp();
      await instance.listen({ host: opts.host, port: opts.port });
      const addr = instance.server.address();
      const port = typeof addr === 'object' && addr ? addr.port : opts.port;
      return { host: opts.host, port };
    },
    async close() {
      closing = true;
      if (app) await app.close();
    },
  };
}

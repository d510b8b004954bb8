// DatadogIntake: a fake Datadog on loopback that decodes and validates what the agent sends, records
// it for tests, and misbehaves on request (fault injection).
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecompressError, decompress, parseContentEncoding } from './decompress.js';
import { type FaultHandle, FaultRule, type FaultSpec } from './faults.js';
import { type DecodeResult, PayloadError } from './payloads.js';
import { DEFAULT_LIMITS, findRoute, INTAKE_PATHS, type PayloadLimit } from './routes.js';
import { hostServes, parseDestination, siteCertificateHostnames } from './sites.js';
import { DEFAULT_CERT_HOSTNAMES, makeTestCertificate, type TestCertificate } from './tls-cert.js';
import type {
  CheckRunRecord,
  DistributionRecord,
  EventRecord,
  IntakeKind,
  LogRecord,
  MetricPointRecord,
  RecordedRequest,
  SpanRecord,
  StatsRecord,
} from './types.js';

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

const noopLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** The key the intake accepts unless told otherwise (32 hex characters, like a real API key). */
export const DEFAULT_INTAKE_API_KEY = '0123456789abcdef0123456789abcdef';

export interface IntakeOptions {
  /** Address to bind; loopback by default. */
  host?: string;
  /** HTTP port; 0 (default) asks the OS for a free one. */
  port?: number;
  /** Also serve HTTPS with a certificate made for this run. Default false. */
  https?: boolean;
  /** HTTPS port; 0 (default) asks the OS for a free one. */
  httpsPort?: number;
  /** Extra names for the server certificate (the site hosts and loopback are always in it). */
  tlsHostnames?: string[];
  /** Accepted API keys, or `'any'` to accept every non-empty key. Default [DEFAULT_INTAKE_API_KEY]. */
  apiKeys?: readonly string[] | 'any';
  /** Payload limits per endpoint kind, merged over DEFAULT_LIMITS. */
  limits?: Partial<Record<IntakeKind, Partial<PayloadLimit>>>;
  /** Most log entries in one array (the API's 1000). */
  maxLogsPerPayload?: number;
  /** Requests kept; older ones are dropped (and counted in `droppedRequests`). Default 10 000. */
  maxRecordedRequests?: number;
  /** Items (points, sketches, logs, spans, ...) kept per kind; older ones are dropped. Default 1 000 000. */
  maxRecordedItems?: number;
  /** Refuse (404) payloads sent to a known Datadog host that does not serve them. Default true. */
  checkDestination?: boolean;
  /** Clock (ms since epoch), for the metrics time-window check. */
  now?: () => number;
  logger?: Logger;
}

export interface WaitOptions {
  /** Default 5000 ms. */
  timeoutMs?: number;
  /** Named in the timeout error. */
  description?: string;
}

type Filter<T> = string | RegExp | ((item: T) => boolean);

const DRAIN_CAP = 64 * 1024 * 1024;

/** Headers whose values are credentials: recorded redacted only. */
const SECRET_HEADERS = new Set(['dd-api-key', 'dd-application-key', 'authorization', 'proxy-authorization']);

export function redactApiKey(key: string): string {
  return key.length > 5 ? `***${key.slice(-5)}` : '***';
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export class DatadogIntake {
  private readonly opts: Required<Omit<IntakeOptions, 'limits' | 'logger' | 'now' | 'tlsHostnames'>>;
  private readonly limits: Record<IntakeKind, PayloadLimit>;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly emitter = new EventEmitter();
  private readonly httpServer: http.Server;
  private httpsServer: https.Server | undefined;
  private certificate: TestCertificate | undefined;
  private caDir: string | undefined;
  private readonly tlsHostnames: string[];
  private acceptedKeys: Set<string> | 'any';
  private readonly rules: FaultRule[] = [];
  private nextFaultId = 1;
  private nextRequestId = 1;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly sockets = new Set<Socket>();
  private started = false;
  /** Ports as bound at start, so URLs stay readable after stop(). */
  private boundPort = 0;
  private boundHttpsPort: number | undefined;
  private stopped = false;

  private readonly recorded: RecordedRequest[] = [];
  private readonly rawKeys = new WeakMap<RecordedRequest, string>();
  private readonly store = {
    metrics: [] as MetricPointRecord[],
    distributions: [] as DistributionRecord[],
    checks: [] as CheckRunRecord[],
    events: [] as EventRecord[],
    logs: [] as LogRecord[],
    spans: [] as SpanRecord[],
    stats: [] as StatsRecord[],
    agentPayloads: [] as Record<string, unknown>[],
  };
  /** Requests dropped from the record because of `maxRecordedRequests`. */
  droppedRequests = 0;
  /** Items dropped from the query lists because of `maxRecordedItems`. */
  droppedItems = 0;

  constructor(options: IntakeOptions = {}) {
    this.opts = {
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 0,
      https: options.https ?? false,
      httpsPort: options.httpsPort ?? 0,
      apiKeys: options.apiKeys ?? [DEFAULT_INTAKE_API_KEY],
      maxLogsPerPayload: options.maxLogsPerPayload ?? 1000,
      maxRecordedRequests: options.maxRecordedRequests ?? 10_000,
      maxRecordedItems: options.maxRecordedItems ?? 1_000_000,
      checkDestination: options.checkDestination ?? true,
    };
    this.acceptedKeys = this.opts.apiKeys === 'any' ? 'any' : new Set(this.opts.apiKeys);
    this.limits = { ...DEFAULT_LIMITS };
    for (const [kind, l] of Object.entries(options.limits ?? {})) {
      const k = kind as IntakeKind;
      this.limits[k] = { ...DEFAULT_LIMITS[k], ...l };
    }
    this.logger = options.logger ?? noopLogger;
    this.now = options.now ?? Date.now;
    this.tlsHostnames = [
      ...DEFAULT_CERT_HOSTNAMES,
      ...siteCertificateHostnames(),
      ...(options.tlsHostnames ?? []),
    ];
    this.httpServer = http.createServer((req, res) => this.handle(req, res, false));
    this.trackSockets(this.httpServer);
    // Acting as an HTTPS forward proxy: CONNECT tunnels end in our own TLS server, so a client that
    // trusts `ca` can be pointed at the real site host names through `proxyUrl`.
    this.httpServer.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) =>
      this.tunnel(req, socket, head),
    );
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  async start(): Promise<this> {
    if (this.started) return this;
    this.started = true;
    await listen(this.httpServer, this.opts.port, this.opts.host);
    this.boundPort = (this.httpServer.address() as AddressInfo).port;
    if (this.opts.https) {
      this.certificate = makeTestCertificate(this.tlsHostnames);
      this.httpsServer = https.createServer(
        { cert: this.certificate.cert, key: this.certificate.key },
        (req, res) => this.handle(req, res, true),
      );
      this.trackSockets(this.httpsServer);
      await listen(this.httpsServer, this.opts.httpsPort, this.opts.host);
      this.boundHttpsPort = (this.httpsServer.address() as AddressInfo).port;
    }
    this.logger.info(
      `datadog intake listening on ${this.url}${this.httpsServer ? ` and ${this.httpsUrl}` : ''}`,
    );
    return this;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.sockets) s.destroy();
    const close = (server: http.Server | https.Server | undefined) =>
      new Promise<void>((resolve) => {
        if (!server?.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      });
    await Promise.all([close(this.httpServer), close(this.httpsServer)]);
    if (this.caDir) rmSync(this.caDir, { recursive: true, force: true });
    this.emitter.emit('record');
  }

  /** `await using intake = await startIntake()` support. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  get port(): number {
    if (!this.started) throw new Error('the intake is not started');
    return this.boundPort;
  }

  /** Base URL of the plain HTTP listener, e.g. `http://127.0.0.1:41234`. */
  get url(): string {
    return `http://${hostForUrl(this.opts.host)}:${this.port}`;
  }

  /** Base URL of the HTTPS listener (only with `https: true`). */
  get httpsUrl(): string {
    if (!this.httpsServer) throw new Error('the intake was started without https: true');
    return `https://${hostForUrl(this.opts.host)}:${this.boundHttpsPort}`;
  }

  get httpsPort(): number | undefined {
    return this.boundHttpsPort;
  }

  /** The URL to use as an HTTP(S) proxy (the plain listener answers CONNECT and absolute-form requests). */
  get proxyUrl(): string {
    return this.url;
  }

  /** PEM of the CA that signed the HTTPS certificate: give it to clients as their trusted CA. */
  get ca(): string {
    if (!this.certificate) throw new Error('the intake was started without https: true');
    return this.certificate.ca;
  }

  /** PEM of the HTTPS server certificate. */
  get cert(): string {
    if (!this.certificate) throw new Error('the intake was started without https: true');
    return this.certificate.cert;
  }

  /**
   * A file holding the CA PEM (public, no key), for clients that take a path such as
   * `DD_TLS_CERT_FILE` or `NODE_EXTRA_CA_CERTS`. Made on first use, removed by `stop()`.
   */
  get caFile(): string {
    const ca = this.ca;
    if (!this.caDir) {
      this.caDir = mkdtempSync(join(tmpdir(), 'dd-intake-ca-'));
      writeFileSync(join(this.caDir, 'ca.pem'), ca);
    }
    return join(this.caDir, 'ca.pem');
  }

  /**
   * `DD_*` variables that point an agent at this intake. Direct (default): every intake URL
   * override set to `url` (or `httpsUrl` with `tls`, plus `DD_TLS_CERT_FILE`). With `site`, the
   * agent keeps the real site host names and reaches us as its HTTPS proxy (`DD_PROXY_HTTPS`).
   */
  agentEnv(options: { tls?: boolean; site?: string } = {}): Record<string, string> {
    const env: Record<string, string> = { DD_API_KEY: this.apiKey };
    if (options.site) {
      env['DD_SITE'] = options.site;
      env['DD_PROXY_HTTPS'] = this.proxyUrl;
      env['DD_TLS_CERT_FILE'] = this.caFile;
      return env;
    }
    const base = options.tls ? this.httpsUrl : this.url;
    env['DD_DD_URL'] = base;
    env['DD_APM_DD_URL'] = base;
    env['DD_LOGS_CONFIG_LOGS_DD_URL'] = base;
    if (options.tls) env['DD_TLS_CERT_FILE'] = this.caFile;
    return env;
  }

  /** The first accepted API key (the one tests usually configure their client with). */
  get apiKey(): string {
    if (this.acceptedKeys === 'any') return DEFAULT_INTAKE_API_KEY;
    return [...this.acceptedKeys][0] ?? DEFAULT_INTAKE_API_KEY;
  }

  /** Replaces the accepted API keys (e.g. to test a key rotation). */
  setApiKeys(keys: readonly string[] | 'any'): void {
    this.acceptedKeys = keys === 'any' ? 'any' : new Set(keys);
  }

  // ---- faults ------------------------------------------------------------------------------

  /** Adds a fault rule; the newest matching rule wins. Returns a handle to inspect or remove it. */
  fault(spec: FaultSpec): FaultHandle {
    const rule = new FaultRule(this.nextFaultId++, spec, (r) => {
      const i = this.rules.indexOf(r);
      if (i >= 0) this.rules.splice(i, 1);
    });
    this.rules.push(rule);
    return rule;
  }

  clearFaults(): void {
    for (const r of [...this.rules]) r.remove();
  }

  // ---- queries -----------------------------------------------------------------------------

  /** Every recorded request (newest last), optionally only those with this path/kind/key/status/destination. */
  requests(filter?: {
    path?: string;
    kind?: IntakeKind;
    apiKey?: string;
    status?: number;
    destination?: string;
  }): RecordedRequest[] {
    if (!filter) return [...this.recorded];
    return this.recorded.filter(
      (r) =>
        (filter.destination === undefined || r.destination === filter.destination.toLowerCase()) &&
        (filter.path === undefined || r.path === filter.path) &&
        (filter.kind === undefined || r.kind === filter.kind) &&
        (filter.status === undefined || r.status === filter.status) &&
        (filter.apiKey === undefined || this.rawKeys.get(r) === filter.apiKey),
    );
  }

  /** Series points the intake accepted, flattened (one entry per point). */
  metrics(filter?: Filter<MetricPointRecord>): MetricPointRecord[] {
    return select(this.store.metrics, filter, (m) => m.metric);
  }

  /** Sketches the intake accepted, with count/sum/min/max and quantile estimates. */
  distributions(filter?: Filter<DistributionRecord>): DistributionRecord[] {
    return select(this.store.distributions, filter, (d) => d.metric);
  }

  checks(filter?: Filter<CheckRunRecord>): CheckRunRecord[] {
    return select(this.store.checks, filter, (c) => c.check);
  }

  events(filter?: Filter<EventRecord>): EventRecord[] {
    return select(this.store.events, filter, (e) => e.title);
  }

  /** Accepted log entries as sent; a string/RegExp filter matches the message (or nested message.message). */
  logs(filter?: Filter<LogRecord>): LogRecord[] {
    return select(this.store.logs, filter, logMessage);
  }

  /** Accepted spans, flattened, with their chunk/tracer/agent context; a string filter matches the span name. */
  spans(filter?: Filter<SpanRecord>): SpanRecord[] {
    return select(this.store.spans, filter, (s) => s.name);
  }

  /** The decoded AgentPayload of every accepted traces request. */
  agentPayloads(): Record<string, unknown>[] {
    return [...this.store.agentPayloads];
  }

  /** Accepted APM stats groups with bucket and payload context; a string filter matches the resource. */
  stats(filter?: Filter<StatsRecord>): StatsRecord[] {
    return select(this.store.stats, filter, (s) => String(s.group['Resource'] ?? ''));
  }

  /**
   * Calls `listener` with every request once it is answered (or reset / black-holed). Returns a
   * function that unsubscribes. Use `formatRequest` for a printable line.
   */
  onRequest(listener: (record: RecordedRequest) => void): () => void {
    const wrapped = (r: RecordedRequest | undefined) => {
      if (r) listener(r);
    };
    this.emitter.on('record', wrapped);
    return () => this.emitter.off('record', wrapped);
  }

  /** Where the intake listens and what it serves, for printing (the API key is redacted). */
  describe(): {
    url: string;
    httpsUrl: string | undefined;
    proxyUrl: string;
    apiKey: string;
    paths: readonly string[];
  } {
    return {
      url: this.url,
      httpsUrl: this.httpsServer ? this.httpsUrl : undefined,
      proxyUrl: this.proxyUrl,
      apiKey: this.acceptedKeys === 'any' ? 'any' : redactApiKey(this.apiKey),
      paths: INTAKE_PATHS,
    };
  }

  /** Forgets everything recorded (faults stay). */
  clear(): void {
    this.recorded.length = 0;
    for (const list of Object.values(this.store)) list.length = 0;
  }

  /**
   * Resolves with the predicate's first truthy result. The predicate runs now and again each time
   * a request is recorded, so the wait ends as soon as the data is there; it rejects after
   * `timeoutMs` with a summary of what did arrive.
   */
  waitFor<T>(
    predicate: (intake: this) => T | undefined | null | false,
    options: WaitOptions = {},
  ): Promise<T> {
    const timeoutMs = options.timeoutMs ?? 5000;
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (fn: () => void) => {
        this.emitter.off('record', check);
        if (timer) clearTimeout(timer);
        fn();
      };
      const check = () => {
        let value: T | undefined | null | false;
        try {
          value = predicate(this);
        } catch (err) {
          finish(() => reject(err));
          return;
        }
        if (value) finish(() => resolve(value as T));
        else if (this.stopped) finish(() => reject(new Error(`intake stopped while waiting for ${what()}`)));
      };
      const what = () => options.description ?? 'the predicate';
      timer = setTimeout(
        () =>
          finish(() =>
            reject(
              new Error(`timed out after ${timeoutMs} ms waiting for ${what()}; received: ${this.summary()}`),
            ),
          ),
        timeoutMs,
      );
      this.emitter.on('record', check);
      check();
    });
  }

  /** Waits until at least `count` accepted points of `metric` arrived; resolves with them. */
  waitForMetric(
    metric: string,
    options: WaitOptions & { count?: number } = {},
  ): Promise<MetricPointRecord[]> {
    const count = options.count ?? 1;
    return this.waitFor(
      (i) => {
        const m = i.metrics(metric);
        return m.length >= count && m;
      },
      { description: `${count} point(s) of ${metric}`, ...options },
    );
  }

  /** Waits until at least `count` accepted log entries match; resolves with them. */
  waitForLogs(count = 1, filter?: Filter<LogRecord>, options: WaitOptions = {}): Promise<LogRecord[]> {
    return this.waitFor(
      (i) => {
        const l = i.logs(filter);
        return l.length >= count && l;
      },
      { description: `${count} log(s)`, ...options },
    );
  }

  /** Waits until at least `count` accepted spans match; resolves with them. */
  waitForSpans(count = 1, filter?: Filter<SpanRecord>, options: WaitOptions = {}): Promise<SpanRecord[]> {
    return this.waitFor(
      (i) => {
        const l = i.spans(filter);
        return l.length >= count && l;
      },
      { description: `${count} span(s)`, ...options },
    );
  }

  /** Waits until at least `count` sketches of `metric` arrived; resolves with them. */
  waitForDistribution(
    metric: string,
    options: WaitOptions & { count?: number } = {},
  ): Promise<DistributionRecord[]> {
    const count = options.count ?? 1;
    return this.waitFor(
      (i) => {
        const d = i.distributions(metric);
        return d.length >= count && d;
      },
      { description: `${count} sketch(es) of ${metric}`, ...options },
    );
  }

  /** Waits until at least `count` requests match the filter; resolves with them. */
  waitForRequests(
    count: number,
    filter?: Parameters<DatadogIntake['requests']>[0],
    options: WaitOptions = {},
  ): Promise<RecordedRequest[]> {
    return this.waitFor(
      (i) => {
        const r = i.requests(filter);
        return r.length >= count && r;
      },
      { description: `${count} request(s) matching ${JSON.stringify(filter ?? {})}`, ...options },
    );
  }

  /** One line per kind: how many requests, by status. API keys never appear here. */
  summary(): string {
    const byKind = new Map<string, Map<string, number>>();
    for (const r of this.recorded) {
      const k = r.kind ?? r.path;
      const statuses = byKind.get(k) ?? new Map<string, number>();
      const s = r.status === undefined ? (r.fault ?? 'no answer') : String(r.status);
      statuses.set(s, (statuses.get(s) ?? 0) + 1);
      byKind.set(k, statuses);
    }
    if (byKind.size === 0) return 'no requests';
    return [...byKind]
      .map(([k, st]) => `${k}: ${[...st].map(([s, n]) => `${n}×${s}`).join(', ')}`)
      .join('; ');
  }

  // ---- request handling --------------------------------------------------------------------

  private trackSockets(server: http.Server | https.Server): void {
    // Keep idle connections longer than clients do (undici: 4 s), as the real intakes' load
    // balancers do, so a client never races a server-side close on a pooled connection.
    server.keepAliveTimeout = 30_000;
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  private tunnel(req: IncomingMessage, socket: Socket, head: Buffer): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    if (!this.httpsServer) {
      socket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n');
      this.logger.warn(`CONNECT ${req.url} refused: the intake was started without https`);
      return;
    }
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) socket.unshift(head);
    this.httpsServer.emit('connection', socket);
  }

  private handle(req: IncomingMessage, res: ServerResponse, tls: boolean): void {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= DRAIN_CAP) chunks.push(c);
      else req.destroy();
    });
    req.on('error', () => {});
    req.on('end', () => {
      this.process(req, res, Buffer.concat(chunks), size, tls).catch((err) => {
        this.logger.error(`intake failed on ${req.method} ${req.url}: ${(err as Error).message}`);
        if (!res.headersSent) reply(res, 500, { errors: ['internal error'] });
      });
    });
  }

  private async process(
    req: IncomingMessage,
    res: ServerResponse,
    raw: Buffer,
    wireBytes: number,
    tls: boolean,
  ): Promise<void> {
    const target = new URL(req.url ?? '/', 'http://intake.invalid');
    // Absolute-form targets come from clients using us as a plain HTTP proxy.
    const absolute = /^https?:\/\//i.test(req.url ?? '');
    const destination = (
      absolute ? target.hostname : hostOnly(headerValue(req.headers.host) ?? '')
    ).toLowerCase();
    const path = target.pathname;
    const queryKey = target.searchParams.get('api_key') ?? undefined;
    const headerKey = headerValue(req.headers['dd-api-key']);
    const apiKey = headerKey ?? queryKey;
    if (queryKey !== undefined) target.searchParams.set('api_key', redactApiKey(queryKey));
    const route = findRoute(path);
    const keyAccepted =
      apiKey !== undefined && apiKey !== '' && (this.acceptedKeys === 'any' || this.acceptedKeys.has(apiKey));
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined) continue;
      const value = Array.isArray(v) ? v.join(', ') : v;
      headers[k] = SECRET_HEADERS.has(k) ? redactApiKey(value) : value;
    }
    const record: RecordedRequest = {
      id: this.nextRequestId++,
      receivedAt: this.now(),
      answeredAt: undefined,
      method: req.method ?? 'GET',
      path,
      url: `${path}${target.search}`,
      destination,
      site: parseDestination(destination),
      headers,
      apiKey: {
        present: apiKey !== undefined,
        accepted: keyAccepted,
        redacted: apiKey && redactApiKey(apiKey),
      },
      kind: route?.kind,
      contentType: headerValue(req.headers['content-type']) ?? '',
      contentEncoding: headerValue(req.headers['content-encoding']) ?? '',
      bodyBytes: wireBytes,
      decodedBytes: 0,
      status: undefined,
      responseBody: undefined,
      fault: undefined,
      error: undefined,
      body: new Uint8Array(0),
      decoded: undefined,
      items: 0,
      tls,
    };
    if (apiKey !== undefined) this.rawKeys.set(record, apiKey);

    const rule = this.matchFault({ path, method: record.method, destination, apiKey });
    const spec = rule?.spec as (FaultSpec & Partial<Record<'status' | 'delayMs', number>>) | undefined;
    if (spec?.delayMs) await this.sleep(spec.delayMs);
    if (this.stopped) return;

    // Decode even when a fault will answer, so tests can inspect what a refused request carried.
    const outcome = this.evaluate(record, route, raw, keyAccepted, apiKey);

    if (rule && spec) {
      record.fault = rule.describe();
      if ('blackhole' in spec && spec.blackhole) {
        this.logger.debug(`${record.method} ${record.url}: ${record.fault}`);
        this.keep(record);
        return; // never answer; the socket is destroyed when the client gives up or we stop
      }
      if ('reset' in spec && spec.reset) {
        this.keep(record);
        resetSocket(req.socket);
        return;
      }
      if ('loseAnswer' in spec && spec.loseAnswer) {
        // Accepted like a normal answer would be; only the answer never reaches the client.
        if (outcome.result && outcome.status >= 200 && outcome.status < 300)
          this.accept(outcome.result, record);
        else record.error = outcome.error;
        this.keep(record);
        resetSocket(req.socket);
        return;
      }
      if (spec.status !== undefined) {
        const s = spec as { status: number; body?: string; headers?: Record<string, string> };
        record.status = s.status;
        record.answeredAt = this.now();
        record.error = `${record.fault}`;
        record.responseBody = s.body ?? JSON.stringify({ errors: [http.STATUS_CODES[s.status] ?? 'fault'] });
        this.keep(record);
        res.writeHead(s.status, { 'content-type': 'application/json', ...(s.headers ?? {}) });
        res.end(record.responseBody);
        return;
      }
      // A delay-only fault falls through to the normal answer.
    }

    record.status = outcome.status;
    record.answeredAt = this.now();
    record.responseBody = outcome.body;
    record.error = outcome.error;
    if (outcome.result && outcome.status >= 200 && outcome.status < 300) this.accept(outcome.result, record);
    this.keep(record);
    this.logger.debug(`${record.method} ${record.url} → ${outcome.status}`);
    res.writeHead(outcome.status, { 'content-type': 'application/json' });
    res.end(outcome.body);
  }

  private evaluate(
    record: RecordedRequest,
    route: ReturnType<typeof findRoute>,
    raw: Buffer,
    keyAccepted: boolean,
    apiKey: string | undefined,
  ): { status: number; body: string; error?: string; result?: DecodeResult } {
    const refuse = (status: number, error: string) => ({
      status,
      error,
      body: JSON.stringify({ errors: [error] }),
    });
    if (!route) return refuse(404, `no intake at ${record.path}`);
    if (record.method !== route.method) return refuse(405, `${record.path} takes ${route.method}`);
    const dest = record.site;
    if (this.opts.checkDestination && dest && !hostServes(dest, route.kind))
      return refuse(404, `${record.destination} does not serve ${record.path}`);
    if (!keyAccepted) {
      if (apiKey === undefined || apiKey === '') return refuse(route.missingKeyStatus, 'API key is missing');
      return refuse(403, 'Forbidden');
    }
    if (!route.decode) return { status: route.successStatus, body: route.successBody(undefined) };
    const limit = this.limits[route.kind];
    if (record.bodyBytes > limit.compressed)
      return refuse(413, `payload of ${record.bodyBytes} bytes exceeds ${limit.compressed} bytes`);
    const encoding = parseContentEncoding(record.contentEncoding);
    if (!encoding) return refuse(415, `unsupported Content-Encoding ${record.contentEncoding}`);
    let body: Uint8Array;
    try {
      body = decompress(raw, encoding, limit.decompressed);
    } catch (err) {
      if (err instanceof DecompressError) return refuse(err.status, err.message);
      throw err;
    }
    record.body = body;
    record.decodedBytes = body.length;
    let result: DecodeResult;
    try {
      result = route.decode(body, {
        requestId: record.id,
        contentType: record.contentType,
        nowSeconds: Math.floor(this.now() / 1000),
        maxLogsPerPayload: this.opts.maxLogsPerPayload,
        maxLogEntryBytes: 1024 * 1024,
      });
    } catch (err) {
      if (err instanceof PayloadError) return refuse(err.status, err.message);
      throw err;
    }
    record.decoded = result.decoded;
    return { status: route.successStatus, body: route.successBody(result), result };
  }

  private accept(result: DecodeResult, record: RecordedRequest): void {
    record.items = result.items;
    const s = this.store;
    const add = <T>(list: T[], items: readonly T[] | undefined) => {
      if (!items) return;
      for (const item of items) list.push(item);
      const excess = list.length - this.opts.maxRecordedItems;
      if (excess > 0) {
        list.splice(0, excess);
        this.droppedItems += excess;
      }
    };
    add(s.metrics, result.metrics);
    add(s.distributions, result.distributions);
    add(s.checks, result.checks);
    add(s.events, result.events);
    add(s.logs, result.logs);
    add(s.spans, result.spans);
    if (result.spans)
      add(s.agentPayloads, [{ ...(result.decoded as Record<string, unknown>), requestId: record.id }]);
    add(s.stats, result.stats);
  }

  private keep(record: RecordedRequest): void {
    this.recorded.push(record);
    while (this.recorded.length > this.opts.maxRecordedRequests) {
      this.recorded.shift();
      this.droppedRequests++;
    }
    this.emitter.emit('record', record);
  }

  private matchFault(facts: Parameters<FaultRule['matches']>[0]): FaultRule | undefined {
    for (let i = this.rules.length - 1; i >= 0; i--) {
      const rule = this.rules[i]!;
      if (rule.matches(facts) && rule.take()) return rule;
    }
    return undefined;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }
}

function select<T>(list: readonly T[], filter: Filter<T> | undefined, key: (item: T) => string): T[] {
  if (filter === undefined) return [...list];
  if (typeof filter === 'function') return list.filter(filter);
  if (typeof filter === 'string') return list.filter((x) => key(x) === filter);
  return list.filter((x) => filter.test(key(x)));
}

function logMessage(l: LogRecord): string {
  const m = l['message'];
  if (typeof m === 'string') return m;
  if (typeof m === 'object' && m !== null && typeof (m as Record<string, unknown>)['message'] === 'string')
    return (m as Record<string, unknown>)['message'] as string;
  return '';
}

function resetSocket(socket: Socket): void {
  try {
    // An RST rather than a FIN: the client sees ECONNRESET, as with a load balancer dropping it.
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function hostOnly(host: string): string {
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'));
  const i = host.lastIndexOf(':');
  return i >= 0 ? host.slice(0, i) : host;
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function listen(server: http.Server | https.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** One printable line per request, e.g. `#3 POST /api/v2/logs logs zstd 812 B → 202 (2 items)`. */
export function formatRequest(r: RecordedRequest): string {
  const answer =
    r.status !== undefined
      ? String(r.status)
      : r.fault?.includes('reset') || r.fault?.includes('lost answer')
        ? 'reset'
        : 'no answer (black hole)';
  const parts = [
    `#${r.id}`,
    r.method,
    r.destination && !/^(127\.|localhost$|::1$)/.test(r.destination) ? `${r.destination}${r.url}` : r.url,
    r.kind ?? 'unknown',
    r.contentEncoding || 'identity',
    `${r.bodyBytes} B`,
    `→ ${answer}`,
  ];
  if (r.items) parts.push(`(${r.items} item${r.items === 1 ? '' : 's'})`);
  if (r.fault) parts.push(`[${r.fault}]`);
  else if (r.error) parts.push(`[${r.error}]`);
  return parts.join(' ');
}

/** Starts an intake and resolves once it listens (see IntakeOptions). */
export async function startIntake(options: IntakeOptions = {}): Promise<DatadogIntake> {
  return new DatadogIntake(options).start();
}

import { type ApiKeyOptions, ApiKeyProvider, type ApiKeyState } from './api-key.js';
import { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF, retryAfterMs, sleep } from './backoff.js';
import { type CompressionOptions, CompressionPolicy, DEFAULT_COMPRESSION } from './compression.js';
import { ConnectionManager, type TlsSettings } from './connections.js';
import { Deadline, SharedCap } from './deadline.js';
import {
  type AdditionalEndpoints,
  additionalFor,
  additionalUrl,
  DEFAULT_SITE,
  type EndpointConfig,
  intakeUrl,
  isEndpointKind,
  isOpwDestination,
  NO_ADDITIONAL_ENDPOINTS,
} from './endpoints.js';
import { Exchange } from './exchange.js';
import { FreezeDetector } from './freeze.js';
import { type DestinationHealth, type HealthListener, HealthTracker } from './health.js';
import { RedactingLogger } from './redact.js';
import { RetryBuffer } from './retry-buffer.js';
import {
  type Clock,
  type EndpointKind,
  type Logger,
  monotonicClock,
  type OutgoingPayload,
  type PayloadCodec,
  silentLogger,
} from './types.js';

export interface ForwarderOptions {
  endpoints: EndpointConfig;
  additionalEndpoints: AdditionalEndpoints;
  apiKey: ApiKeyOptions;
  compression: CompressionOptions;
  /** HTTPS proxy for every Datadog destination (`DD_PROXY_HTTPS` / `HTTPS_PROXY`), unless `NO_PROXY` names the site. */
  proxy?: string;
  tls: TlsSettings;
  /** Attempts per request within one flush (the first one included). */
  maxAttempts: number;
  backoff: BackoffOptions;
  /** Cap on one flush's requests (`DD_FLUSH_TIMEOUT`); the caller's deadline usually ends them sooner. */
  requestTimeoutMs: number;
  /** Bound of the retry buffer, in compressed bytes. */
  retryBufferBytes: number;
  /** Consecutive failures after which a destination is unhealthy. */
  unhealthyAfter: number;
  /** How long a blocking flush waits for an unhealthy destination (its probe), at most. */
  unhealthyWaitMs: number;
  /** Sockets idle longer than this are not reused. */
  idleSocketMs: number;
  /** A jump in monotonic time larger than this between two observations is a freeze. */
  freezeGapMs: number;
  /** How often the freeze detector observes the clock while the process runs; 0 = only at each flush. */
  freezeTickMs: number;
  connectionsPerHost: number;
  connectTimeoutMs: number;
  /** Deadline of the warm-up requests opened during init. */
  warmUpTimeoutMs: number;
  userAgent: string;
  logger?: Logger;
  clock?: Clock;
  random?: () => number;
}

export const DEFAULT_OPTIONS: Omit<ForwarderOptions, 'apiKey'> = {
  endpoints: { site: DEFAULT_SITE },
  additionalEndpoints: NO_ADDITIONAL_ENDPOINTS,
  compression: DEFAULT_COMPRESSION,
  tls: { rejectUnauthorized: true },
  maxAttempts: 3,
  backoff: DEFAULT_BACKOFF,
  requestTimeoutMs: 30_000,
  retryBufferBytes: 15 * 1024 * 1024,
  unhealthyAfter: 3,
  unhealthyWaitMs: 250,
  idleSocketMs: 5_000,
  freezeGapMs: 1_500,
  freezeTickMs: 500,
  connectionsPerHost: 2,
  connectTimeoutMs: 5_000,
  warmUpTimeoutMs: 5_000,
  userAgent: 'serverless-agent-forwarder/0.1.0',
};

export interface SendOptions {
  /** Nothing the forwarder does for this call outlives it. */
  signal: AbortSignal;
  /**
   * The function waits for this flush (end-of-invocation or periodic): an unhealthy destination then gets
   * `unhealthyWaitMs` at most, and its data stays in the retry buffer.
   */
  blocking?: boolean;
}

export type DropReason =
  | 'buffer_overflow'
  | 'forbidden'
  | 'rejected'
  | 'too_large'
  | 'no_api_key'
  | 'unreliable_endpoint'
  | 'unknown_kind'
  | 'closed';

export interface FlushResult {
  /** Requests accepted by a destination (one payload to two destinations counts twice). */
  delivered: number;
  /** Requests left in the retry buffer for the next flush. */
  buffered: number;
  /** Requests dropped, by reason. */
  dropped: Partial<Record<DropReason, number>>;
}

/**
 * The aggregate the flush strategy reads, shaped as its `backend-health` event: healthy while every
 * destination is; `unhealthyBudgetMs` is how long a blocking flush waits on an unhealthy one.
 */
export interface BackendHealthEvent {
  type: 'backend-health';
  healthy: boolean;
  unhealthyBudgetMs: number;
}

export interface DestinationStats {
  destination: string;
  deliveredRequests: number;
  deliveredItems: number;
  deliveredBytes: number;
  retries: number;
  healthy: boolean;
}

export interface ForwarderStats {
  destinations: DestinationStats[];
  dropped: Record<DropReason, { requests: number; items: number }>;
  retryBuffer: { requests: number; bytes: number; maxBytes: number };
  apiKey: ApiKeyState;
  /** The zstd implementation in use: `native`, `wasm`, or `none` (gzip instead). */
  zstd: string;
  /** Times every socket was discarded after a freeze. */
  freezes: number;
}

interface Destination {
  id: string;
  url: URL;
  /** `url`'s origin and path with query, read once (URL getters cost more than the rest of a lookup). */
  origin: string;
  path: string;
  /** Undefined: the main API key (resolved); else the additional endpoint's own key. */
  apiKey: string | undefined;
  reliable: boolean;
  /** An Observability Pipelines Worker: the body goes uncompressed, without `DD-PROTOCOL`. */
  plain: boolean;
  stats: DestinationStats;
}

interface Request {
  destination: Destination;
  kind: EndpointKind;
  body: Uint8Array;
  /** Flat (`[name, value, ...]`, lower-case names), without the API key, which each attempt adds. */
  headers: string[];
  items: number;
  firstTriedAt: number;
  split: (() => OutgoingPayload[] | undefined) | undefined;
  depth: number;
}

type Outcome =
  | { type: 'delivered' }
  | { type: 'dropped'; reason: DropReason }
  | { type: 'buffer' }
  | { type: 'split'; parts: OutgoingPayload[] };

// The outcomes without data, made once (a send should allocate no more than it must).
const DELIVERED: Outcome = Object.freeze({ type: 'delivered' });
const BUFFER: Outcome = Object.freeze({ type: 'buffer' });

const MAX_SPLIT_DEPTH = 8;
const RETRYABLE_STATUS = (s: number) => s === 408 || s === 429 || s >= 500;

const drain = (res: { body: { dump(): Promise<void> } }) => {
  res.body.dump().catch(() => {});
};

function flatHeaders(headers: Record<string, string>): string[] {
  const list: string[] = [];
  for (const k of Object.keys(headers)) list.push(k, headers[k]!);
  return list;
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: string }).code;
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return [err.message, code, cause?.code ?? cause?.message].filter(Boolean).join(' / ');
}

/**
 * Delivers payloads to the Datadog intakes: compression, a retry budget bounded by each call's deadline,
 * a bounded retry buffer, dual shipping and per-destination health. It never looks inside a payload.
 */
export class Forwarder {
  readonly #o: ForwarderOptions;
  readonly #logger: RedactingLogger;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #compression: CompressionPolicy;
  readonly #connections: ConnectionManager;
  readonly #apiKey: ApiKeyProvider;
  readonly #health: HealthTracker;
  readonly #buffer: RetryBuffer<Request>;
  readonly #freeze: FreezeDetector;
  readonly #cap: SharedCap;
  readonly #destinations = new Map<string, Destination>();
  readonly #byKind = new Map<EndpointKind, Destination[]>();
  readonly #dropped = {} as Record<DropReason, { requests: number; items: number }>;
  readonly #backendListeners = new Set<(e: BackendHealthEvent) => void>();
  #backendHealthy = true;
  #warmedOrigins: string[] | undefined;
  #freezes = 0;
  #closed = false;
  #noKeyLogged = false;
  /** Destinations (by id) whose 403 was logged: kept here, not on the destination, which a query string copies. */
  readonly #warned403 = new Set<string>();
  readonly #headerLists = new Map<string | undefined, Map<string, string[]>>();
  /** Each header list with the key its last attempt carried; weak, as a payload's own list lives with it. */
  readonly #keyedHeaders = new WeakMap<string[], string[]>();

  constructor(options: ForwarderOptions) {
    this.#o = options;
    this.#logger = new RedactingLogger(options.logger ?? silentLogger);
    this.#clock = options.clock ?? monotonicClock;
    this.#random = options.random ?? Math.random;
    this.#compression = new CompressionPolicy(options.compression);
    this.#connections = new ConnectionManager({
      ...(options.proxy ? { proxy: options.proxy } : {}),
      tls: options.tls,
      idleMs: options.idleSocketMs,
      connectionsPerHost: options.connectionsPerHost,
      connectTimeoutMs: options.connectTimeoutMs,
      clock: this.#clock,
    });
    this.#health = new HealthTracker(options.unhealthyAfter);
    this.#buffer = new RetryBuffer<Request>(options.retryBufferBytes);
    this.#health.onChange(() => this.#publishBackendHealth());
    this.#freeze = new FreezeDetector(this.#clock, options.freezeGapMs);
    this.#cap = new SharedCap(options.requestTimeoutMs);
    for (const r of [
      'buffer_overflow',
      'forbidden',
      'rejected',
      'too_large',
      'no_api_key',
      'unreliable_endpoint',
      'unknown_kind',
      'closed',
    ] as DropReason[])
      this.#dropped[r] = { requests: 0, items: 0 };
    if (options.proxy) {
      // Proxy credentials are secrets too.
      const { password } = new URL(options.proxy);
      if (password) {
        this.#logger.addSecret(password);
        this.#logger.addSecret(decodeURIComponent(password));
      }
    }
    for (const list of Object.values(options.additionalEndpoints)) {
      for (const e of list) this.#logger.addSecret(e.apiKey);
    }
    this.#apiKey = new ApiKeyProvider(options.apiKey, this.#logger, this.#clock);
    this.#apiKey.onKey((k) => this.#logger.addSecret(k));
    // Resolution starts now and runs beside start-up; nothing waits for it but a send that needs the key.
    this.#apiKey.start();
    this.#freeze.start(options.freezeTickMs, () => this.#afterFreeze());
    this.#logger.debug(
      `forwarder: site ${options.endpoints.site}, ${options.proxy ? 'through a proxy' : 'direct'}, ` +
        `zstd ${this.#compression.zstdImplementation}, retry buffer ${options.retryBufferBytes} bytes`,
    );
  }

  /**
   * Opens the connections (TLS included, `connectionsPerHost` per host) to every destination during init,
   * and loads the codecs, so that the first flush pays for neither. Resolves to the number of sockets
   * opened. Failures are logged at debug level: the first flush then just connects.
   */
  async warmUp(deadline: AbortSignal = AbortSignal.timeout(this.#o.warmUpTimeoutMs)): Promise<number> {
    const call = new Deadline(this.#o.warmUpTimeoutMs, deadline);
    const origins = new Set<string>();
    for (const kind of ['series', 'logs', 'traces'] as EndpointKind[]) {
      for (const d of this.#destinationsFor(kind)) origins.add(d.url.origin);
    }
    this.#warmedOrigins = [...origins];
    const [, ...opened] = await Promise.allSettled([
      this.#compression.prepare(),
      ...this.#warmedOrigins.flatMap((origin) => this.#openAll(origin, call)),
    ]);
    call.dispose();
    // Time spent warming up is not a freeze.
    this.#freeze.observe();
    return opened.filter((r) => r.status === 'fulfilled').length;
  }

  /** Sends one payload (after what waits in the retry buffer). */
  send(payload: OutgoingPayload, options: SendOptions): Promise<FlushResult> {
    return this.flush([payload], options);
  }

  /**
   * Sends what waits in the retry buffer first, then `payloads`, to every destination of each payload's kind.
   * Resolves by the deadline of `options.signal` at the latest; what is not delivered by then is buffered.
   */
  async flush(payloads: OutgoingPayload[], callOptions: SendOptions): Promise<FlushResult> {
    const result: FlushResult = { delivered: 0, buffered: 0, dropped: {} };
    if (this.#closed) {
      for (const p of payloads) this.#drop(result, 'closed', p.items ?? 0);
      return result;
    }
    // Compression first: a large payload's goes to the thread pool, so that the bookkeeping below runs
    // beside it (a small one's is done on the loop by now, which is the faster way for it).
    const only = payloads.length === 1 ? payloads[0] : undefined;
    let fresh: Request[] | Promise<Request[]>;
    try {
      fresh = only
        ? this.#isKnown(only, result)
          ? this.#requestsFor(only, undefined, 0)
          : []
        : Promise.all(
            payloads.filter((p) => this.#isKnown(p, result)).map((p) => this.#requestsFor(p, undefined, 0)),
          ).then((lists) => lists.flat());
    } catch (err) {
      this.#logger.error(`flush failed unexpectedly: ${errorText(err)}`);
      return result;
    }
    if (this.#freeze.observe()) this.#afterFreeze();
    // It listens to the caller's signal once the first request is on its way.
    const deadline = new Deadline(this.#cap, callOptions.signal, true);
    try {
      const requests = Array.isArray(fresh) ? fresh : await fresh;
      // The common case, one request to a healthy destination with nothing buffered, goes straight to
      // delivery: every async step skipped is a few microseconds of a send that takes about a millisecond.
      const first = requests[0];
      if (
        first &&
        requests.length === 1 &&
        this.#buffer.size === 0 &&
        this.#health.isHealthy(first.destination.id)
      ) {
        const max = this.#o.maxAttempts;
        const more = this.#settle(first, await this.#attempts(first, deadline, max), deadline, max, result);
        if (more) await more;
      } else await this.#flush(requests, deadline, callOptions.blocking === true, result);
    } catch (err) {
      // A bug of ours must not become the function's problem: log it, keep going.
      this.#logger.error(`flush failed unexpectedly: ${errorText(err)}`);
    } finally {
      deadline.dispose();
    }
    return result;
  }

  #isKnown(p: OutgoingPayload, result: FlushResult): boolean {
    if (isEndpointKind(p?.kind)) return true;
    this.#drop(result, 'unknown_kind', p?.items ?? 0);
    if (this.#dropped.unknown_kind.requests === 1)
      this.#logger.warn(
        `dropping a payload of unknown kind ${JSON.stringify(p?.kind)} (counted as unknown_kind)`,
      );
    return false;
  }

  async #flush(fresh: Request[], deadline: Deadline, blocking: boolean, result: FlushResult): Promise<void> {
    const waiting = this.#buffer.size === 0 ? [] : this.#buffer.takeAll();
    if (waiting.length === 0 && fresh.length === 1) {
      await this.#flushDestination(fresh[0]!.destination, fresh, deadline, blocking, result);
      return;
    }
    // By id: a request with a query string carries a copy of its destination, which is still the same one
    // (one probe while it is unhealthy, not one per query string).
    const byDestination = new Map<string, { d: Destination; list: Request[] }>();
    for (const r of waiting.length === 0 ? fresh : [...waiting, ...fresh]) {
      const group = byDestination.get(r.destination.id);
      if (group) group.list.push(r);
      else byDestination.set(r.destination.id, { d: r.destination, list: [r] });
    }
    await Promise.all(
      [...byDestination.values()].map(({ d, list }) =>
        this.#flushDestination(d, list, deadline, blocking, result),
      ),
    );
  }

  /** True when every destination is healthy; what the flush strategy reads. */
  get healthy(): boolean {
    return this.#health.snapshot().every((s) => s.healthy);
  }

  health(): DestinationHealth[] {
    return this.#health.snapshot();
  }

  /** Hears every change of a destination's health. Returns the unsubscribe function. */
  onHealthChange(listener: HealthListener): () => void {
    return this.#health.onChange(listener);
  }

  /**
   * Hears every change of the aggregate health, as the flush strategy's `backend-health` event
   * (`driver.send(event)`). Returns the unsubscribe function.
   */
  onBackendHealth(listener: (event: BackendHealthEvent) => void): () => void {
    this.#backendListeners.add(listener);
    return () => this.#backendListeners.delete(listener);
  }

  #publishBackendHealth(): void {
    const healthy = this.healthy;
    if (healthy === this.#backendHealthy) return;
    this.#backendHealthy = healthy;
    const event: BackendHealthEvent = {
      type: 'backend-health',
      healthy,
      unhealthyBudgetMs: this.#o.unhealthyWaitMs,
    };
    for (const l of this.#backendListeners) {
      try {
        l(event);
      } catch (err) {
        this.#logger.warn(`a backend-health listener threw: ${errorText(err)}`);
      }
    }
  }

  get apiKeyState(): ApiKeyState {
    return this.#apiKey.state;
  }

  stats(): ForwarderStats {
    const b = this.#buffer.stats();
    return {
      destinations: [...this.#destinations.values()].map((d) => ({
        ...d.stats,
        healthy: this.#health.isHealthy(d.id),
      })),
      dropped: structuredClone(this.#dropped),
      retryBuffer: { requests: b.requests, bytes: b.bytes, maxBytes: this.#buffer.maxBytes },
      apiKey: this.#apiKey.state,
      zstd: this.#compression.zstdImplementation,
      freezes: this.#freezes,
    };
  }

  /** Throws every socket away, as after a freeze (for an app that knows a thaw happened). */
  discardConnections(): void {
    this.#connections.discardAll();
  }

  /** Stops the forwarder. What still waits in the retry buffer is dropped and counted (`closed`). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#freeze.stop();
    const left = this.#buffer.takeAll();
    for (const r of left) {
      this.#dropped.closed.requests++;
      this.#dropped.closed.items += r.items;
    }
    if (left.length > 0) this.#logger.warn(`closing with ${left.length} request(s) undelivered; dropped`);
    await Promise.all([this.#connections.close(), this.#apiKey.close()]);
  }

  #afterFreeze(): void {
    this.#freezes++;
    this.#logger.debug('thaw detected: discarding every socket');
    this.#connections.discardAll();
    // Re-open in the background so the end-of-invocation flush finds a connection ready.
    const origins = this.#warmedOrigins;
    if (origins && !this.#closed) {
      const deadline = new Deadline(this.#o.warmUpTimeoutMs);
      const opening = origins.flatMap((origin) => this.#openAll(origin, deadline));
      Promise.allSettled(opening).then(() => deadline.dispose());
    }
  }

  /** As many concurrent warm-up requests as sockets a flush may use, so the pool opens them all. */
  #openAll(origin: string, deadline: Deadline): Promise<void>[] {
    return Array.from({ length: this.#o.connectionsPerHost }, () => this.#open(origin, deadline));
  }

  async #open(origin: string, deadline: Deadline): Promise<void> {
    const dispatcher = this.#connections.acquire(origin);
    try {
      // GET / carries no key and no data; its only purpose is the socket (and TLS session) it leaves open.
      // (Not HEAD: undici closes the connection after a HEAD.)
      const res = await deadline.race(
        dispatcher.request({
          origin,
          path: '/',
          method: 'GET',
          headers: { 'user-agent': this.#o.userAgent },
          signal: deadline,
        }),
        drain,
      );
      await res.body.dump();
    } catch (err) {
      this.#logger.debug(`warm-up of ${origin} failed: ${errorText(err)}`);
      throw err;
    } finally {
      this.#connections.release(origin);
    }
  }

  /**
   * What compresses `kind`'s bodies as this forwarder would (see `PayloadCodec`), or undefined when
   * they go uncompressed to some destination: no codec for the kind, or an Observability Pipelines
   * Worker, which gets the builder's own bytes.
   */
  payloadCodec(kind: EndpointKind): PayloadCodec | undefined {
    for (const d of this.#destinationsFor(kind)) if (d.plain) return undefined;
    const { codec, level } = this.#compression.select(kind);
    const { encoding, compressSync, decompressSync } = codec;
    if (!encoding || !compressSync || !decompressSync) return undefined;
    return {
      encoding,
      compress: (data) => {
        try {
          return compressSync.call(codec, data, level);
        } catch {
          return undefined; // the forwarder tries again at the flush, and says why if it fails there
        }
      },
      decompress: (data) => {
        const out = decompressSync.call(codec, data);
        if (!out) throw new Error(`${codec.kind} is not loaded`);
        return out;
      },
    };
  }

  #destinationsFor(kind: EndpointKind): Destination[] {
    let list = this.#byKind.get(kind);
    if (list) return list;
    const plain = isOpwDestination(kind, this.#o.endpoints);
    list = [this.#destination(intakeUrl(kind, this.#o.endpoints), undefined, true, 0, plain)];
    for (const [i, e] of additionalFor(kind, this.#o.additionalEndpoints).entries()) {
      list.push(this.#destination(additionalUrl(kind, e), e.apiKey, e.reliable, i + 1, false));
    }
    this.#byKind.set(kind, list);
    return list;
  }

  #destination(
    url: string,
    apiKey: string | undefined,
    reliable: boolean,
    index: number,
    plain: boolean,
  ): Destination {
    // One destination per URL and key: each retries, buffers and is healthy on its own.
    const id = index === 0 ? url : `${url}#${index}`;
    let d = this.#destinations.get(id);
    if (!d) {
      const parsed = new URL(url);
      d = {
        id,
        url: parsed,
        origin: parsed.origin,
        path: parsed.pathname + parsed.search,
        apiKey,
        reliable,
        plain,
        stats: {
          destination: id,
          deliveredRequests: 0,
          deliveredItems: 0,
          deliveredBytes: 0,
          retries: 0,
          healthy: true,
        },
      };
      this.#destinations.set(id, d);
      this.#health.register(id);
    }
    return d;
  }

  /**
   * The requests for one payload, one per destination. Synchronous when the payload is compressed on the
   * event loop (or not at all), so that a small send awaits nothing before its request is on its way.
   */
  #requestsFor(
    p: OutgoingPayload,
    only: Destination | undefined,
    depth: number,
  ): Request[] | Promise<Request[]> {
    const destinations = only ? [only] : this.#destinationsFor(p.kind);
    const extra = p.headers;
    // Without headers of the builder's own (the common case), the header list is one of a few, made once.
    const headers: Record<string, string> | undefined = extra
      ? { 'content-type': p.contentType, 'user-agent': this.#o.userAgent }
      : undefined;
    if (extra && headers) for (const k of Object.keys(extra)) headers[k.toLowerCase()] = extra[k]!;
    const preEncoded = headers?.['content-encoding'] !== undefined;
    let anyIntake = false;
    for (const d of destinations) if (!d.plain) anyIntake = true;
    if (preEncoded || !anyIntake) return this.#build(p, destinations, headers, depth, p.body, undefined);
    const { codec, level } = this.#compression.select(p.kind);
    const encoding = codec.encoding;
    if (!encoding) return this.#build(p, destinations, headers, depth, p.body, undefined);
    const failed = (err: unknown): Request[] => {
      // As the Lambda extension does: an uncompressed payload is better than none.
      this.#logger.warn(`${codec.kind} compression failed, sending uncompressed: ${errorText(err)}`);
      return this.#build(p, destinations, headers, depth, p.body, undefined);
    };
    try {
      const onLoop = codec.compressSync !== undefined && this.#compression.takeSyncBudget(p.body.byteLength);
      const out = onLoop ? codec.compressSync?.(p.body, level) : undefined;
      if (out) return this.#build(p, destinations, headers, depth, out, encoding);
      return codec
        .compress(p.body, level)
        .then((body) => this.#build(p, destinations, headers, depth, body, encoding), failed);
    } catch (err) {
      return failed(err);
    }
  }

  #build(
    p: OutgoingPayload,
    destinations: Destination[],
    headers: Record<string, string> | undefined,
    depth: number,
    body: Uint8Array,
    encoding: string | undefined,
  ): Request[] {
    // What an Observability Pipelines Worker gets: the builder's bytes, without the intake's protocol header.
    let plainHeaders: string[] | undefined;
    for (const d of destinations) {
      if (!d.plain || plainHeaders) continue;
      if (headers) {
        const copy = { ...headers };
        delete copy['dd-protocol'];
        plainHeaders = flatHeaders(copy);
      } else plainHeaders = this.#commonHeaders(p.contentType, undefined);
    }
    let intakeHeaders: string[];
    if (headers) {
      if (encoding) headers['content-encoding'] = encoding;
      intakeHeaders = flatHeaders(headers);
    } else intakeHeaders = this.#commonHeaders(p.contentType, encoding);
    const now = this.#clock.now();
    const query = p.query ? `?${p.query.replace(/^\?/, '')}` : '';
    const items = p.items ?? 0;
    const split = p.split;
    const requests: Request[] = [];
    for (const destination of destinations) {
      requests.push({
        destination: query ? this.#withQuery(destination, query) : destination,
        kind: p.kind,
        body: destination.plain ? p.body : body,
        headers: destination.plain && plainHeaders ? plainHeaders : intakeHeaders,
        items,
        firstTriedAt: now,
        split,
        depth,
      });
    }
    return requests;
  }

  /** The header list of a payload with no headers of its own, by content type and encoding, made once. */
  #commonHeaders(contentType: string, encoding: string | undefined): string[] {
    // By encoding, then content type: two lookups of strings the builders keep, no key to build.
    let byType = this.#headerLists.get(encoding);
    if (!byType) {
      byType = new Map();
      this.#headerLists.set(encoding, byType);
    }
    let list = byType.get(contentType);
    if (!list) {
      list = ['content-type', contentType, 'user-agent', this.#o.userAgent];
      if (encoding) list.push('content-encoding', encoding);
      // Bounded by the content types the builders use; a stray one per call would still be a few entries.
      if (byType.size < 64) byType.set(contentType, list);
    }
    return list;
  }

  /** `headers` and the API key, made once per list and key (undici only reads the list it is given). */
  #withKey(headers: string[], apiKey: string): string[] {
    let keyed = this.#keyedHeaders.get(headers);
    if (keyed?.[keyed.length - 1] !== apiKey) {
      keyed = headers.concat('dd-api-key', apiKey);
      this.#keyedHeaders.set(headers, keyed);
    }
    return keyed;
  }

  #withQuery(d: Destination, query: string): Destination {
    // Proxied routes keep the tracer's query string; the destination (health, stats) stays the route's.
    const url = new URL(d.url.pathname + query, d.origin);
    return { ...d, url, path: url.pathname + url.search, stats: d.stats };
  }

  async #flushDestination(
    d: Destination,
    requests: Request[],
    deadline: Deadline,
    blocking: boolean,
    result: FlushResult,
  ): Promise<void> {
    let rest = requests;
    if (!this.#health.isHealthy(d.id)) {
      // One probe; a blocking flush gives it `unhealthyWaitMs` at most, then leaves the data buffered.
      const [probe, ...others] = rest;
      if (!probe) return;
      const probeDeadline = blocking ? new Deadline(this.#o.unhealthyWaitMs, deadline) : deadline;
      try {
        await this.#deliver(probe, probeDeadline, 1, result);
      } finally {
        if (probeDeadline !== deadline) probeDeadline.dispose();
      }
      if (!this.#health.isHealthy(d.id)) {
        for (const r of others) this.#keep(r, result);
        return;
      }
      rest = others;
    }
    if (rest.length === 1) await this.#deliver(rest[0]!, deadline, this.#o.maxAttempts, result);
    else await Promise.all(rest.map((r) => this.#deliver(r, deadline, this.#o.maxAttempts, result)));
  }

  async #deliver(r: Request, deadline: Deadline, maxAttempts: number, result: FlushResult): Promise<void> {
    const more = this.#settle(
      r,
      await this.#attempts(r, deadline, maxAttempts),
      deadline,
      maxAttempts,
      result,
    );
    if (more) await more;
  }

  /** Accounts for a request's outcome; only a split has more to send (and so returns a promise). */
  #settle(
    r: Request,
    outcome: Outcome,
    deadline: Deadline,
    maxAttempts: number,
    result: FlushResult,
  ): Promise<void> | undefined {
    switch (outcome.type) {
      case 'delivered':
        result.delivered++;
        r.destination.stats.deliveredRequests++;
        r.destination.stats.deliveredItems += r.items;
        r.destination.stats.deliveredBytes += r.body.byteLength;
        return;
      case 'dropped':
        this.#drop(result, outcome.reason, r.items);
        return;
      case 'buffer':
        this.#keep(r, result);
        return;
      case 'split':
        return Promise.all(outcome.parts.map((p) => this.#requestsFor(p, r.destination, r.depth + 1))).then(
          (parts) =>
            Promise.all(parts.flat().map((part) => this.#deliver(part, deadline, maxAttempts, result))).then(
              () => undefined,
            ),
        );
    }
  }

  #keep(r: Request, result: FlushResult): void {
    if (!r.destination.reliable) {
      this.#drop(result, 'unreliable_endpoint', r.items);
      return;
    }
    // The split closure holds the uncompressed payload, which the byte bound does not count: let it go.
    // (A buffered request answered 413 later is dropped as too large.)
    r.split = undefined;
    const dropped = this.#buffer.push(r);
    result.buffered++;
    for (const old of dropped) {
      if (old === r) result.buffered--;
      this.#drop(result, 'buffer_overflow', old.items);
    }
    if (dropped.length > 0)
      this.#logger.warn(
        `retry buffer full (${this.#buffer.maxBytes} bytes): dropped ${dropped.length} oldest request(s)`,
      );
  }

  #drop(result: FlushResult, reason: DropReason, items: number): void {
    result.dropped[reason] = (result.dropped[reason] ?? 0) + 1;
    this.#dropped[reason].requests++;
    this.#dropped[reason].items += items;
  }

  async #attempts(r: Request, deadline: Deadline, maxAttempts: number): Promise<Outcome> {
    const d = r.destination;
    for (let attempt = 1; ; attempt++) {
      if (deadline.aborted) return BUFFER;
      const apiKey = d.apiKey ?? this.#apiKey.ready() ?? (await this.#apiKey.get(deadline.signal));
      if (!apiKey) {
        if (this.#apiKey.state !== 'failed') return BUFFER;
        if (!this.#noKeyLogged) {
          this.#noKeyLogged = true;
          this.#logger.error('no API key: dropping data for the Datadog intake (counted as no_api_key)');
        }
        return { type: 'dropped', reason: 'no_api_key' };
      }

      let status: number;
      let retryAfter: string | undefined;
      let failure: string;
      const origin = d.origin;
      const dispatcher = this.#connections.acquire(origin);
      try {
        const answer = await new Exchange(
          dispatcher,
          {
            origin,
            path: d.path,
            method: 'POST',
            headers: this.#withKey(r.headers, apiKey),
            body: r.body,
          },
          deadline,
        ).promise;
        status = answer.status;
        retryAfter = answer.retryAfter;
        failure = `HTTP ${status}`;
      } catch (err) {
        status = 0;
        failure = errorText(err);
        if (deadline.aborted) {
          this.#health.failure(d.id);
          return BUFFER;
        }
      } finally {
        this.#connections.release(origin);
      }

      if (status >= 200 && status < 300) {
        this.#health.success(d.id);
        return DELIVERED;
      }
      // Any answer that is not a retryable failure shows the backend up.
      if (status !== 0 && !RETRYABLE_STATUS(status)) this.#health.success(d.id);
      if (status === 403) {
        if (!this.#warned403.has(d.id)) {
          this.#warned403.add(d.id);
          this.#logger.error(
            `${d.url.host} answered 403 Forbidden: the API key is not valid for this site; ` +
              'check DD_API_KEY (or its secret) and DD_SITE. Data for it is dropped.',
          );
        }
        if (d.apiKey === undefined) this.#apiKey.invalidate();
        return { type: 'dropped', reason: 'forbidden' };
      }
      if (status === 413) {
        const parts = r.depth < MAX_SPLIT_DEPTH ? r.split?.() : undefined;
        if (parts && parts.length > 0) return { type: 'split', parts };
        this.#logger.warn(`${d.url.host} answered 413 for ${r.kind} and it cannot be split: dropped`);
        return { type: 'dropped', reason: 'too_large' };
      }
      if (status !== 0 && !RETRYABLE_STATUS(status)) {
        this.#logger.warn(`${d.url.host} rejected a ${r.kind} payload: HTTP ${status}; dropped`);
        return { type: 'dropped', reason: 'rejected' };
      }

      this.#health.failure(d.id);
      if (attempt >= maxAttempts) {
        this.#logger.debug(`${d.url.host}: ${failure} after ${attempt} attempt(s); kept for the next flush`);
        return BUFFER;
      }
      d.stats.retries++;
      const backoff = backoffDelay(attempt, this.#o.backoff, this.#random);
      const told = retryAfterMs(retryAfter, Date.now());
      await sleep(Math.max(backoff, Math.min(told ?? 0, this.#o.backoff.maxMs)), deadline.signal);
    }
  }
}

export function createForwarder(options: ForwarderOptions): Forwarder {
  return new Forwarder(options);
}

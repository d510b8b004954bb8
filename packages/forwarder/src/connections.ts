import { type Dispatcher, Pool, ProxyAgent } from 'undici';
import type { Clock } from './types.js';

export interface TlsSettings {
  /** False with `DD_SKIP_SSL_VALIDATION`. */
  rejectUnauthorized: boolean;
  /** Replaces the default trust store when set (it then includes the defaults and the extra CAs). */
  ca?: string[];
}

export interface ConnectionOptions {
  /** HTTPS proxy URL for every Datadog destination, if any. */
  proxy?: string;
  tls: TlsSettings;
  /** Sockets idle longer than this are not reused. */
  idleMs: number;
  /** Parallel sockets per host. */
  connectionsPerHost: number;
  connectTimeoutMs: number;
  clock: Clock;
}

interface Slot {
  dispatcher: Dispatcher;
  inFlight: number;
  lastDone: number;
}

/**
 * One keep-alive pool per host (or one proxy agent, which keeps its own pool per host behind the tunnel).
 * A pool is replaced, never reused, when it sat idle past the cap or when the process was frozen: a
 * half-open socket behind a NAT would otherwise stall a blocking flush until its deadline.
 */
export class ConnectionManager {
  readonly #options: ConnectionOptions;
  readonly #slots = new Map<string, Slot>();
  #proxy: Slot | undefined;
  #closed = false;

  constructor(options: ConnectionOptions) {
    this.#options = options;
  }

  get proxied(): boolean {
    return this.#options.proxy !== undefined;
  }

  /** The dispatcher for `origin`, fresh if the previous one went stale. Pair with `release(origin)`. */
  acquire(origin: string): Dispatcher {
    if (this.#closed) throw new Error('forwarder closed');
    const now = this.#options.clock.now();
    let slot = this.#options.proxy ? this.#proxy : this.#slots.get(origin);
    if (slot && slot.inFlight === 0 && now - slot.lastDone > this.#options.idleMs) {
      this.#drop(slot);
      slot = undefined;
    }
    if (!slot) {
      slot = { dispatcher: this.#create(origin), inFlight: 0, lastDone: now };
      if (this.#options.proxy) this.#proxy = slot;
      else this.#slots.set(origin, slot);
    }
    slot.inFlight++;
    return slot.dispatcher;
  }

  release(origin: string): void {
    const slot = this.#options.proxy ? this.#proxy : this.#slots.get(origin);
    if (!slot) return;
    slot.inFlight = Math.max(0, slot.inFlight - 1);
    slot.lastDone = this.#options.clock.now();
  }

  /** Throws every socket away (after a freeze). Requests in flight on them fail and are retried. */
  discardAll(): void {
    for (const slot of this.#slots.values()) this.#drop(slot);
    this.#slots.clear();
    if (this.#proxy) this.#drop(this.#proxy);
    this.#proxy = undefined;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const all = [...this.#slots.values(), ...(this.#proxy ? [this.#proxy] : [])];
    this.#slots.clear();
    this.#proxy = undefined;
    await Promise.all(all.map((s) => s.dispatcher.destroy().catch(() => {})));
  }

  #drop(slot: Slot): void {
    slot.dispatcher.destroy().catch(() => {});
  }

  #create(origin: string): Dispatcher {
    const o = this.#options;
    const connect = {
      rejectUnauthorized: o.tls.rejectUnauthorized,
      ...(o.tls.ca ? { ca: o.tls.ca } : {}),
      timeout: o.connectTimeoutMs,
    };
    const common = {
      connections: o.connectionsPerHost,
      keepAliveTimeout: o.idleMs,
      keepAliveMaxTimeout: o.idleMs,
      // The intake answers fast; a slow answer is bounded by the caller's deadline instead.
      headersTimeout: 0,
      bodyTimeout: 0,
    };
    if (o.proxy) {
      // The proxy itself, when reached over TLS, is trusted as the intakes are.
      return new ProxyAgent({ uri: o.proxy, requestTls: connect, proxyTls: connect, ...common });
    }
    return new Pool(origin, { ...common, connect });
  }
}

import { EventEmitter, setMaxListeners } from 'node:events';

/**
 * One call's deadline: it passes at the first of the caller's signal (or an enclosing deadline) and
 * `capMs`. It is what the call's requests get as their `signal` (undici takes an `EventEmitter` with
 * `aborted` and `reason` as well as an `AbortSignal`), and everything the call awaits races it
 * through `race`, a set entry each. Node's own `AbortSignal` costs about 10 µs to create and a few
 * to listen to, which showed in the overhead of a small send; a real one is made only for the paths
 * that need it (`signal`: waiting for the API key, a retry's backoff).
 */
export class Deadline extends EventEmitter {
  #aborted = false;
  #reason: unknown = undefined;
  #controller: AbortController | undefined;
  readonly #racers = new Set<(reason: unknown) => void>();
  readonly #parent: AbortSignal | Deadline | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #cap: SharedCap | undefined;
  /** When the cap passes, in `performance.now()` milliseconds. */
  readonly endsAt: number;
  readonly #onParentAbort = (): void => this.#abort(this.#parent?.reason);

  /** `cap`: milliseconds (a timer of its own), or a cap shared with the other calls of its kind. */
  constructor(cap: number | SharedCap, parent?: AbortSignal | Deadline) {
    super();
    // Every request of the call listens: past EventEmitter's default of 10 that is by design.
    this.setMaxListeners(0);
    this.#parent = parent;
    this.endsAt = performance.now() + (typeof cap === 'number' ? cap : cap.ms);
    if (parent?.aborted) {
      this.#abort(parent.reason);
      return;
    }
    if (typeof cap === 'number') {
      this.#timer = setTimeout(() => this.expire(), cap);
      this.#timer.unref();
    } else {
      this.#cap = cap;
      cap.add(this);
    }
    // No `once`: dispose removes the listener, and aborting twice is a no-op (the option costs more).
    if (parent instanceof Deadline) parent.on('abort', this.#onParentAbort);
    else parent?.addEventListener('abort', this.#onParentAbort);
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): unknown {
    return this.#reason;
  }

  /** An `AbortSignal` that aborts with this deadline, made on first use. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      setMaxListeners(0, this.#controller.signal);
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /**
   * Settles with `work`, or rejects with the deadline's reason as soon as it passes, whether or not the
   * dispatcher honours the signal in every state (a proxy that never answers CONNECT, for one). What
   * arrives after that is handed to `release` (a response body is drained so its socket is freed).
   */
  race<T>(work: Promise<T>, release?: (late: T) => void): Promise<T> {
    if (this.#aborted) {
      abandon(work, release);
      return Promise.reject(this.#reason);
    }
    return new Promise<T>((resolve, reject) => {
      const racer = (reason: unknown): void => {
        abandon(work, release);
        reject(reason);
      };
      this.#racers.add(racer);
      work.then(
        (v) => {
          this.#racers.delete(racer);
          resolve(v);
        },
        (e) => {
          this.#racers.delete(racer);
          reject(e);
        },
      );
    });
  }

  /** Passes the deadline now, as its cap does. */
  expire(): void {
    this.#abort(new DOMException('request timeout', 'TimeoutError'));
  }

  /** Stops the timer and stops listening to the parent; call when the call is over. */
  dispose(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#cap?.delete(this);
    const parent = this.#parent;
    if (parent instanceof Deadline) parent.removeListener('abort', this.#onParentAbort);
    else parent?.removeEventListener('abort', this.#onParentAbort);
  }

  #abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.dispose();
    // The call's own awaits first: they only settle promises, so nothing below can keep them waiting.
    const racers = [...this.#racers];
    this.#racers.clear();
    for (const r of racers) r(reason);
    this.#controller?.abort(reason);
    this.emit('abort');
  }
}

function abandon<T>(work: Promise<T>, release: ((late: T) => void) | undefined): void {
  work.then((late) => release?.(late)).catch(() => {});
}

/**
 * The cap all calls of one kind share (a flush's `requestTimeoutMs`): capped alike, they end in the
 * order they began, so one timer, armed for the oldest, serves them all instead of one per call.
 */
export class SharedCap {
  readonly ms: number;
  readonly #live = new Set<Deadline>();
  #timer: NodeJS.Timeout | undefined;

  constructor(ms: number) {
    this.ms = ms;
  }

  add(d: Deadline): void {
    this.#live.add(d);
    if (this.#timer === undefined) this.#arm(this.ms);
  }

  delete(d: Deadline): void {
    this.#live.delete(d);
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => this.#expire(), ms);
    this.#timer.unref();
  }

  #expire(): void {
    this.#timer = undefined;
    const now = performance.now();
    for (const d of this.#live) {
      if (d.endsAt > now) {
        this.#arm(d.endsAt - now);
        return;
      }
      this.#live.delete(d);
      d.expire();
    }
  }
}

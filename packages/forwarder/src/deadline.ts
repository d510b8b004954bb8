import { setMaxListeners } from 'node:events';

type Listener = () => void;

/**
 * One call's deadline: it passes at the first of the caller's signal (or an enclosing deadline) and
 * `capMs`. A POST listens to it (`Exchange`); a warm-up request gets it as its undici `signal`: undici
 * takes any object with `on`, `once`, `removeListener`, `aborted` and `reason`, and this one is that and
 * no more (an `EventEmitter` or Node's own `AbortSignal` cost microseconds to create and to listen to,
 * which showed in the overhead of a small send). What else the call awaits races it through `race`. A
 * real `AbortSignal` is made only for the paths that need one (`signal`: waiting for the API key, a
 * retry's backoff).
 */
export class Deadline {
  #aborted = false;
  #reason: unknown = undefined;
  #controller: AbortController | undefined;
  /** Racers and undici's listeners alike: usually one or two, so an array, not a set. */
  #listeners: Listener[] = [];
  readonly #parent: AbortSignal | Deadline | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #cap: SharedCap | undefined;
  /** When the cap passes, in `performance.now()` milliseconds. */
  readonly endsAt: number;
  readonly #onParentAbort = (): void => this.#abort(this.#parent?.reason);
  #listening = false;

  /**
   * `cap`: milliseconds (a timer of its own), or a cap shared with the other calls of its kind.
   * `deferListening`: listen to a parent `AbortSignal` only at the first `listen()` (or `race`, or
   * `signal`), not now. Listening to an `AbortSignal` costs microseconds, which a call that sends
   * nothing (all dropped, or its deadline already passed) never pays. Until then `aborted` reads the
   * parent itself, so nothing is missed.
   */
  constructor(cap: number | SharedCap, parent?: AbortSignal | Deadline, deferListening = false) {
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
    if (parent instanceof Deadline) {
      // An enclosing deadline that has not listened yet must now, or this one would never hear it.
      parent.listen();
      if (parent.aborted) {
        this.#abort(parent.reason);
        return;
      }
      this.#listening = true;
      parent.on('abort', this.#onParentAbort);
    } else if (!deferListening) this.listen();
  }

  /** Starts listening to the parent `AbortSignal` (once; see the constructor's `deferListening`). */
  listen(): void {
    if (this.#listening || this.#aborted) return;
    this.#listening = true;
    const parent = this.#parent;
    if (!parent) return;
    if (parent.aborted) {
      this.#abort(parent.reason);
      return;
    }
    // No `once`: dispose removes the listener, and aborting twice is a no-op (the option costs more).
    (parent as AbortSignal).addEventListener('abort', this.#onParentAbort);
  }

  /** Listens for the abort (the only event there is); undici calls this. */
  on(_event: 'abort', listener: Listener): this {
    if (this.#aborted) return this;
    this.#listeners.push(listener);
    return this;
  }

  /** The same as `on`: a deadline aborts once. */
  once(event: 'abort', listener: Listener): this {
    return this.on(event, listener);
  }

  addListener(event: 'abort', listener: Listener): this {
    return this.on(event, listener);
  }

  removeListener(_event: 'abort', listener: Listener): this {
    const list = this.#listeners;
    const i = list.lastIndexOf(listener);
    if (i === list.length - 1) list.pop();
    else if (i >= 0) list.splice(i, 1);
    return this;
  }

  off(event: 'abort', listener: Listener): this {
    return this.removeListener(event, listener);
  }

  get aborted(): boolean {
    if (!this.#aborted && !this.#listening && this.#parent?.aborted) this.#abort(this.#parent.reason);
    return this.#aborted;
  }

  get reason(): unknown {
    return this.#reason;
  }

  /** An `AbortSignal` that aborts with this deadline, made on first use. */
  get signal(): AbortSignal {
    this.listen();
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
    this.listen();
    if (this.#aborted) {
      abandon(work, release);
      return Promise.reject(this.#reason);
    }
    return new Promise<T>((resolve, reject) => {
      const racer = (): void => {
        abandon(work, release);
        reject(this.#reason);
      };
      this.#listeners.push(racer);
      work.then(
        (v) => {
          this.removeListener('abort', racer);
          resolve(v);
        },
        (e) => {
          this.removeListener('abort', racer);
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
    if (!this.#listening) return;
    this.#listening = false;
    const parent = this.#parent;
    if (parent instanceof Deadline) parent.removeListener('abort', this.#onParentAbort);
    else parent?.removeEventListener('abort', this.#onParentAbort);
  }

  #abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.dispose();
    // In the order they came; each only settles a promise or cancels a request, so none can hold up the rest.
    const listeners = this.#listeners;
    this.#listeners = [];
    for (const l of listeners) {
      try {
        l();
      } catch {
        // One listener's failure must not keep the others from hearing the abort.
      }
    }
    this.#controller?.abort(reason);
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

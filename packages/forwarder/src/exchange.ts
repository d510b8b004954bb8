import type { Dispatcher } from 'undici';
import type { Deadline } from './deadline.js';

/** What an intake answered: all the forwarder reads of a response. */
export interface Answer {
  status: number;
  /** `Retry-After`, read only from an answer that is not a success. */
  retryAfter: string | undefined;
}

/** As undici's `body.dump()`: a longer answer is not read to its end; its socket is closed instead. */
const DISCARD_LIMIT = 128 * 1024;

type Abort = (reason?: Error) => void;

/**
 * One request to an intake, as an undici dispatch handler. The forwarder needs the status (and
 * `Retry-After`), never the body, so no response stream, header object or promise of undici's is made:
 * the body is counted and discarded as it arrives, and the call settles when it ends.
 *
 * It settles by the deadline whatever state undici is in: before the request is written (waiting for a
 * socket, a connect, a proxy's tunnel) undici has no way to cancel it, so the deadline rejects at once and
 * the request is cancelled when undici starts it; after that the deadline cancels it (its socket is
 * closed). A body cut short by the deadline or a reset leaves the status as it was answered.
 */
export class Exchange {
  readonly promise: Promise<Answer>;
  #resolve!: (answer: Answer) => void;
  #reject!: (err: unknown) => void;
  readonly #deadline: Deadline;
  #abort: Abort | undefined;
  #settled = false;
  #status = 0;
  #retryAfter: string | undefined;
  #bodyBytes = 0;
  readonly #onDeadline = (): void => {
    const abort = this.#abort;
    this.#finish(this.#deadline.reason);
    abort?.(this.#deadline.reason as Error);
  };

  constructor(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions, deadline: Deadline) {
    this.#deadline = deadline;
    this.promise = new Promise<Answer>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    deadline.listen();
    if (deadline.aborted) {
      this.#settled = true;
      this.#reject(deadline.reason);
      return;
    }
    deadline.on('abort', this.#onDeadline);
    // A dispatcher that refuses the request at once says so through `onError`.
    dispatcher.dispatch(options, this);
  }

  onConnect(abort: Abort): void {
    if (this.#settled) abort(this.#deadline.reason as Error);
    else this.#abort = abort;
  }

  onHeaders(status: number, rawHeaders: Buffer[] | string[] | null): boolean {
    // An informational answer (1xx) is followed by the real one.
    if (status < 200) return true;
    this.#status = status;
    if (status >= 300 && rawHeaders) this.#retryAfter = retryAfterOf(rawHeaders);
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.#bodyBytes += chunk.length;
    if (this.#bodyBytes > DISCARD_LIMIT && !this.#settled) {
      this.#finish(undefined);
      this.#abort?.(new Error('answer body too long; not read'));
    }
    return true;
  }

  onComplete(): void {
    this.#finish(undefined);
  }

  onError(err: Error): void {
    this.#finish(err);
  }

  /** With an answer's status, that status; else `err`. */
  #finish(err: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#deadline.removeListener('abort', this.#onDeadline);
    if (this.#status !== 0) this.#resolve({ status: this.#status, retryAfter: this.#retryAfter });
    else this.#reject(err);
  }
}

function retryAfterOf(raw: Buffer[] | string[]): string | undefined {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 11 && text(name).toLowerCase() === 'retry-after') return text(raw[i + 1]!);
  }
  return undefined;
}

const text = (v: Buffer | string): string => (typeof v === 'string' ? v : v.toString('latin1'));

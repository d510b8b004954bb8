import type { Clock } from './types.js';

/**
 * Sees a freeze after the fact: a Lambda sandbox frozen between invocations runs no code, so the first
 * observation after a thaw finds a jump in monotonic time larger than anything a running process shows
 * between two observations (the ticker below keeps them close while the process runs).
 */
export class FreezeDetector {
  readonly #clock: Clock;
  readonly #gapMs: number;
  #last: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(clock: Clock, gapMs: number) {
    this.#clock = clock;
    this.#gapMs = gapMs;
    this.#last = clock.now();
  }

  /** Keeps observations close while the process runs; unref'd, so it never holds the process open. */
  start(tickMs: number, onFreeze: () => void): void {
    if (tickMs <= 0 || this.#timer) return;
    this.#timer = setInterval(() => {
      if (this.observe()) onFreeze();
    }, tickMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** True when a freeze happened since the previous observation. */
  observe(): boolean {
    const now = this.#clock.now();
    const gap = now - this.#last;
    this.#last = now;
    return gap > this.#gapMs;
  }
}

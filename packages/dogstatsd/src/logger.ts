/** Synchronous logger: a Lambda freeze or exit must not eat buffered lines. */
export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export const noopLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/**
 * Lets one warning through per interval and counts what it held back, so a client that sends
 * garbage at 100k lines/s costs a counter increment per line, not a log line.
 */
export class RateLimitedWarn {
  private lastAt = Number.NEGATIVE_INFINITY;
  private suppressed = 0;

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs: number,
    private readonly now: () => number,
  ) {}

  warn(msg: string): void {
    const t = this.now();
    if (t - this.lastAt < this.intervalMs) {
      this.suppressed++;
      return;
    }
    const extra = this.suppressed > 0 ? ` (${this.suppressed} similar messages suppressed)` : '';
    this.suppressed = 0;
    this.lastAt = t;
    this.logger.warn(msg + extra);
  }
}

import type { Logger } from './types.js';

/**
 * Logs a given kind of problem at most once per interval, with a count of what was suppressed, so
 * bad input can never flood the function's own logs.
 */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  warn(key: string, msg: string): void {
    this.emit('warn', key, msg);
  }

  error(key: string, msg: string): void {
    this.emit('error', key, msg);
  }

  private emit(level: 'warn' | 'error', key: string, msg: string): void {
    const t = this.now();
    const seen = this.last.get(key);
    if (seen && t - seen.at < this.intervalMs) {
      seen.suppressed++;
      return;
    }
    const suffix = seen && seen.suppressed > 0 ? ` (${seen.suppressed} similar messages suppressed)` : '';
    this.last.set(key, { at: t, suppressed: 0 });
    this.logger[level](msg + suffix);
  }
}

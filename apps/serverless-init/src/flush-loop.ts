import {
  FlushCore,
  type FlushEvent,
  type FlushOutcome,
  fromEnv as flushFromEnv,
  parseFlushStrategy,
} from '@serverless-agent/flush-strategy';
import type { Env } from './config.js';
import type { Logger } from './logger.js';

/**
 * The flush interval: serverless-init's 3 s ticker (the flush-strategy's `timer` mode), unless
 * DD_SERVERLESS_FLUSH_STRATEGY asks for `periodically,N` or `continuously,N` (a container is never
 * frozen, so either means a background flush every N ms).
 */
export function flushIntervalFromEnv(env: Env, logger: Logger): number {
  const base = flushFromEnv(env, logger, { platform: 'serverless-init' });
  const fallback = base.strategy.kind === 'timer' ? base.strategy.intervalMs : 3_000;
  const raw = env.DD_SERVERLESS_FLUSH_STRATEGY;
  if (raw === undefined || raw === '') return fallback;
  const parsed = parseFlushStrategy(raw);
  if (parsed.ok && (parsed.value.kind === 'periodically' || parsed.value.kind === 'continuously')) {
    return Math.max(100, parsed.value.intervalMs);
  }
  logger.warn(
    `DD_SERVERLESS_FLUSH_STRATEGY=${JSON.stringify(raw)}: a container flushes on a timer; only periodically,N and continuously,N change it (using ${fallback} ms)`,
  );
  return fallback;
}

export interface FlushLoopOptions {
  intervalMs: number;
  /** One flush of everything buffered, to the forwarder. */
  flush: () => Promise<void>;
  logger: Logger;
  now?: () => number;
}

/**
 * Drives the flush-strategy core in its timer mode with one real timer: a background flush each
 * interval, a tick skipped while the previous flush is still out.
 */
export class FlushLoop {
  private readonly core: FlushCore;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Map<number, Promise<void>>();
  private stopped = false;
  private extra = 0;
  private readonly now: () => number;

  constructor(private readonly options: FlushLoopOptions) {
    this.now = options.now ?? Date.now;
    this.core = new FlushCore({
      strategy: { kind: 'timer', intervalMs: options.intervalMs },
      clock: this.now,
      logger: options.logger,
    });
  }

  start(): void {
    this.feed({ type: 'extension-started' });
  }

  private feed(event: FlushEvent): void {
    if (this.stopped && event.type !== 'flush-finished') return;
    for (const d of this.core.handle(event)) {
      if (d.type === 'arm-timer') {
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.feed({ type: 'timer' }), Math.max(0, d.at - this.now()));
        // The loop must not keep the process alive on its own.
        this.timer.unref();
      } else if (d.type === 'flush-background' || d.type === 'flush-blocking') {
        this.run(d.id);
      }
    }
  }

  private run(id: number): Promise<void> {
    const started = this.now();
    const done = this.options
      .flush()
      .then(
        (): FlushOutcome => 'success',
        (err: Error): FlushOutcome => {
          this.options.logger.warn(`flush failed: ${err.message}`);
          return 'failure';
        },
      )
      .then((outcome) => {
        this.inFlight.delete(id);
        this.feed({ type: 'flush-finished', id, outcome, durationMs: this.now() - started });
      });
    this.inFlight.set(id, done);
    return done;
  }

  /** A flush outside the timer (SIGTERM). */
  flushNow(): Promise<void> {
    // Ids below zero never collide with the core's.
    return this.run(-++this.extra);
  }

  /** Resolves once no flush is out. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight.values()]);
  }

  /** No more timer flushes; the final flush is the caller's, inside its per-kind budgets. */
  stop(deadlineMs: number = this.now()): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.core.handle({ type: 'shutdown', deadlineMs });
  }
}

// Runs the flush strategy's decisions with the app's own timer: the core decides, this waits.
import type { FlushCore, FlushDecision, FlushEvent, FlushOutcome } from '@serverless-agent/flush-strategy';

export class FlushDriver {
  private readonly inFlight = new Map<number, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly core: FlushCore,
    private readonly flush: (force: boolean) => Promise<FlushOutcome>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Feeds one event; resolves with the decisions once any blocking flush is done (or out of budget). */
  async send(event: FlushEvent): Promise<readonly FlushDecision[]> {
    const decisions = this.core.handle(event);
    const waits: Promise<void>[] = [];
    let budgetMs = 0;
    for (const d of decisions) {
      switch (d.type) {
        case 'arm-timer':
          clearTimeout(this.timer);
          if (this.closed) break;
          this.timer = setTimeout(() => void this.send({ type: 'timer' }), Math.max(0, d.at - this.now()));
          this.timer.unref();
          break;
        case 'flush-blocking':
          waits.push(...this.inFlight.values(), this.start(d.id, event.type === 'shutdown'));
          budgetMs = d.budgetMs;
          break;
        case 'flush-background':
          void this.start(d.id, false);
          break;
        case 'nothing':
          break;
      }
    }
    if (waits.length > 0) {
      // A plain timer, cleared: aborting a timers/promises sleep makes an AbortError, which the
      // first time costs about a millisecond on the first invocation's path to `next`.
      let budget: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled(waits),
        new Promise<void>((resolve) => {
          budget = setTimeout(resolve, Math.max(0, budgetMs));
        }),
      ]);
      clearTimeout(budget);
    }
    return decisions;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private start(id: number, force: boolean): Promise<void> {
    const startedAt = this.now();
    const done = this.flush(force)
      .catch((): FlushOutcome => 'failure')
      .then((outcome) => {
        this.inFlight.delete(id);
        void this.send({ type: 'flush-finished', id, outcome, durationMs: this.now() - startedAt });
      });
    this.inFlight.set(id, done);
    return done;
  }
}

/** True when the decisions ask the app to hold `next` until the runtime is done (the End flush). */
export function waitsForRuntimeDone(decisions: readonly FlushDecision[]): boolean {
  return decisions.some((d) => d.type === 'nothing' && d.reason === 'wait-for-runtime-done');
}

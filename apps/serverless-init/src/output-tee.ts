import type { OutputTee } from './supervisor.js';

/** Output waiting for the log pipeline (while it loads, or while it lags); past it, chunks are dropped and counted. */
export const MAX_QUEUED_OUTPUT_BYTES = 8 * 1024 * 1024;
/** Below this backlog the pipeline takes everything at once; above it, it is held to a CPU share. */
const PRESSURE_BYTES = 256 * 1024;
/** Share of the thread the log pipeline may take while the child writes faster than it can process. */
const LOG_CPU_SHARE = 0.15;
const TURN_MS = 1;

const NEWLINE = Buffer.from('\n');

function deliver(target: OutputTee, item: { err: boolean; chunk: Buffer; gapBefore: boolean }): void {
  // Lines were lost just before: end the partial one rather than join it to a later fragment.
  if (item.gapBefore) target.stdout(NEWLINE);
  if (item.err) target.stderr(item.chunk);
  else target.stdout(item.chunk);
}

/**
 * The copy of the child's output meant for Datadog. The user's streams never wait for it: chunks
 * are queued (bounded) and handed to the log pipeline between I/O turns. The child starts before
 * the pipeline is loaded, so early output waits here too. A child writing faster than logs can be
 * processed gets its output passed through at full speed and the excess log lines dropped and
 * counted, as Datadog's wrapper drops when its 10 000-message channel is full.
 */
export class HeldTee implements OutputTee {
  private queue: { err: boolean; chunk: Buffer; gapBefore: boolean }[] = [];
  private head = 0;
  private queuedBytes = 0;
  private target: OutputTee | undefined;
  private closed = false;
  private scheduled = false;
  private lastTurnEnd = 0;
  private lastTurnUsed = 0;
  private gapPending = false;
  droppedBytes = 0;
  droppedChunks = 0;

  constructor(private readonly now: () => number = () => performance.now()) {}

  stdout = (chunk: Buffer): void => this.take(false, chunk);
  stderr = (chunk: Buffer): void => this.take(true, chunk);

  private take(err: boolean, chunk: Buffer): void {
    if (this.closed) return;
    if (this.queuedBytes + chunk.length > MAX_QUEUED_OUTPUT_BYTES) {
      this.droppedBytes += chunk.length;
      this.droppedChunks++;
      this.gapPending = true;
      return;
    }
    this.queue.push({ err, chunk, gapBefore: this.gapPending });
    this.gapPending = false;
    this.queuedBytes += chunk.length;
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.scheduled || !this.target) return;
    this.scheduled = true;
    if (delayMs <= 0) setImmediate(this.turn);
    else setTimeout(this.turn, delayMs);
  }

  private readonly turn = (): void => {
    this.scheduled = false;
    const target = this.target;
    if (!target) return;
    const pressure = this.queuedBytes > PRESSURE_BYTES;
    const start = this.now();
    if (pressure) {
      // Rest long enough that the pipeline's share of the thread stays under LOG_CPU_SHARE
      // (a turn takes at least one chunk, which may take longer than TURN_MS).
      const rest = this.lastTurnUsed * (1 / LOG_CPU_SHARE - 1) - (start - this.lastTurnEnd);
      if (rest > 0) {
        this.schedule(rest);
        return;
      }
    }
    do {
      const item = this.queue[this.head++];
      if (!item) break;
      this.queuedBytes -= item.chunk.length;
      deliver(target, item);
    } while (this.head < this.queue.length && (!pressure || this.now() - start < TURN_MS));
    if (this.head >= this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.lastTurnEnd = this.now();
    this.lastTurnUsed = this.lastTurnEnd - start;
    if (this.queue.length > this.head) this.schedule(0);
  };

  attach(target: OutputTee): void {
    this.target = target;
    this.schedule(0);
  }

  /**
   * What is queued, now (the child has exited: the final flush follows), for at most `budgetMs`;
   * what is left after it is dropped and counted.
   */
  drain(budgetMs = Number.POSITIVE_INFINITY): void {
    const target = this.target;
    if (!target) return;
    const start = this.now();
    let i = this.head;
    for (; i < this.queue.length && this.now() - start < budgetMs; i++) deliver(target, this.queue[i]!);
    for (; i < this.queue.length; i++) {
      this.droppedChunks++;
      this.droppedBytes += this.queue[i]!.chunk.length;
    }
    this.queue = [];
    this.head = 0;
    this.queuedBytes = 0;
  }

  /** No pipeline will come (logs off, or they could not load): stop holding. */
  discard(): void {
    this.closed = true;
    this.queue = [];
    this.head = 0;
    this.queuedBytes = 0;
  }
}

import type { OutputTee } from './supervisor.js';

/** What is held for the log pipeline while it loads; past it, chunks are counted and dropped. */
export const MAX_HELD_OUTPUT_BYTES = 16 * 1024 * 1024;

/**
 * The copy of the child's output meant for Datadog. The child starts before the logs pipeline is
 * loaded, so early output is held (bounded) and replayed, in order, once the pipeline attaches.
 * The user's own streams never wait for this.
 */
export class HeldTee implements OutputTee {
  private held: { err: boolean; chunk: Buffer }[] = [];
  private heldBytes = 0;
  private target: OutputTee | undefined;
  private closed = false;
  droppedBytes = 0;

  stdout = (chunk: Buffer): void => this.take(false, chunk);
  stderr = (chunk: Buffer): void => this.take(true, chunk);

  private take(err: boolean, chunk: Buffer): void {
    if (this.target) {
      if (err) this.target.stderr(chunk);
      else this.target.stdout(chunk);
      return;
    }
    if (this.closed) return;
    if (this.heldBytes + chunk.length > MAX_HELD_OUTPUT_BYTES) {
      this.droppedBytes += chunk.length;
      return;
    }
    this.held.push({ err, chunk });
    this.heldBytes += chunk.length;
  }

  attach(target: OutputTee): void {
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    for (const { err, chunk } of held) {
      if (err) target.stderr(chunk);
      else target.stdout(chunk);
    }
    this.target = target;
  }

  /** No pipeline will come (logs could not load): stop holding. */
  discard(): void {
    this.closed = true;
    this.held = [];
    this.heldBytes = 0;
  }
}

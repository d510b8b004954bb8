import type { OutputTee } from './supervisor.js';

/** Output held while the log pipeline loads; past it, chunks are dropped and counted. */
export const MAX_QUEUED_OUTPUT_BYTES = 8 * 1024 * 1024;

const NEWLINE = Buffer.from('\n');

/**
 * The copy of the child's output meant for Datadog, from the spawn on. The child starts before the
 * log pipeline is loaded: until it attaches, chunks wait here (bounded, the excess dropped and
 * counted); then they, and every later chunk, go straight to it. The pipeline's side only copies a
 * chunk and returns (the processing runs on its own thread), so the user's streams never wait.
 */
export class HeldTee implements OutputTee {
  private queue: { err: boolean; chunk: Buffer; gapBefore: boolean; release: (() => void) | undefined }[] =
    [];
  private queuedBytes = 0;
  private target: OutputTee | undefined;
  private closed = false;
  private gapPending = false;
  droppedBytes = 0;
  droppedChunks = 0;

  stdout = (chunk: Buffer, release?: () => void): void => this.take(false, chunk, release);
  stderr = (chunk: Buffer, release?: () => void): void => this.take(true, chunk, release);

  private take(err: boolean, chunk: Buffer, release: (() => void) | undefined): void {
    if (this.closed) return;
    if (this.target) {
      if (err) this.target.stderr(chunk, release);
      else this.target.stdout(chunk, release);
      return;
    }
    if (this.queuedBytes + chunk.length > MAX_QUEUED_OUTPUT_BYTES) {
      this.droppedBytes += chunk.length;
      this.droppedChunks++;
      this.gapPending = true;
      release?.();
      return;
    }
    this.queue.push({ err, chunk, gapBefore: this.gapPending, release });
    this.gapPending = false;
    this.queuedBytes += chunk.length;
  }

  /** Copies the relay dropped before they reached here: counted with ours. */
  lost(chunks: number, bytes: number): void {
    this.droppedChunks += chunks;
    this.droppedBytes += bytes;
  }

  /** Hands what was held, then every later chunk, to the pipeline. */
  attach(target: OutputTee): void {
    if (this.closed) return;
    const held = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    for (const item of held) {
      // Lines were lost just before: end the partial one rather than join it to a later fragment.
      if (item.gapBefore) target.stdout(NEWLINE);
      if (item.err) target.stderr(item.chunk, item.release);
      else target.stdout(item.chunk, item.release);
    }
    if (this.gapPending) {
      target.stdout(NEWLINE);
      this.gapPending = false;
    }
    this.target = target;
  }

  /**
   * No pipeline will come (logs off, or they could not load): stop holding. What was held, and what
   * comes later, is never released, so the relay soon stops copying for nobody.
   */
  discard(): void {
    this.closed = true;
    this.queue = [];
    this.queuedBytes = 0;
  }
}

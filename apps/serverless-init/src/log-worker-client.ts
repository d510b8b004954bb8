import type { OutgoingPayload } from '@serverless-agent/logs';
import {
  FROM_STDERR,
  type FromWorker,
  GAP_BEFORE,
  type LogWorkerData,
  type ToWorker,
  type WorkerBatch,
} from './log-worker.js';
import type { Logger } from './logger.js';
import type { OutputTee } from './supervisor.js';

/** Output handed to the log thread and not yet processed; past it, chunks are dropped and counted. */
export const MAX_IN_FLIGHT_BYTES = 8 * 1024 * 1024;
/** A flush the log thread does not answer in this time yields nothing (its events wait for the next). */
const FLUSH_TIMEOUT_MS = 1_000;

/** The part of `worker_threads.Worker` used here. */
export interface WorkerLike {
  postMessage(msg: ToWorker, transfer?: readonly ArrayBuffer[]): void;
  on(event: 'message', listener: (msg: FromWorker) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
  terminate(): Promise<number>;
  unref(): void;
}

/** Where the log thread's script is: a file beside ours, or its source (inside the executable). */
export type WorkerScript = { path: string } | { code: string };

export function startLogThread(script: WorkerScript, data: LogWorkerData): WorkerLike {
  // Not a dynamic import: the executable compiles the agent without an import callback.
  const { Worker } = process.getBuiltinModule('node:worker_threads');
  // Its stdio is not piped to ours: piping makes `process.stdout` here, whose libuv handle turns our
  // stdout non-blocking for the relay threads that write to it. The thread prints nothing (it logs
  // through messages; its errors arrive as 'error' events).
  const options = { workerData: data, stdout: true, stderr: true };
  const worker =
    'code' in script ? new Worker(script.code, { ...options, eval: true }) : new Worker(script.path, options);
  worker.stdout.resume();
  worker.stderr.resume();
  return worker as unknown as WorkerLike;
}

/**
 * The pass-through's side of the log thread. `stdout`/`stderr` only copy the chunk into the turn's
 * batch (one memcpy; the stream's buffer is never shared with another thread) and return; once per
 * event-loop turn the batch goes to the thread in one message, its buffer transferred. What the
 * thread has not processed yet is bounded; beyond it chunks are dropped and counted, never waited
 * for, as Datadog's wrapper drops when its channel is full.
 */
export class LogWorkerClient implements OutputTee {
  private pending: Uint8Array[] = [];
  private pendingParts: number[] = [];
  private pendingReleases: (() => void)[] = [];
  private pendingBytes = 0;
  private inFlight = 0;
  /** The batches posted and not acked yet, oldest first, with the releases of their chunks. */
  private unacked: { bytes: number; releases: (() => void)[] }[] = [];
  private ackedAhead = 0;
  private gapPending = false;
  private scheduled = false;
  private broken = false;
  private nextId = 1;
  private readonly waiting = new Map<number, (msg: FromWorker) => void>();
  droppedChunks = 0;
  droppedBytes = 0;

  constructor(
    private readonly worker: WorkerLike,
    private readonly logger: Logger,
    private readonly maxInFlightBytes = MAX_IN_FLIGHT_BYTES,
  ) {
    worker.unref();
    worker.on('message', (msg) => this.onMessage(msg));
    worker.on('error', (err) => {
      this.logger.error(
        `logs: the log thread failed; the command's output is no longer shipped: ${err.message}`,
      );
      this.fail();
    });
    worker.on('exit', (code) => {
      if (!this.broken)
        this.logger.error(
          `logs: the log thread stopped (exit ${code}); the command's output is no longer shipped`,
        );
      this.fail();
    });
  }

  stdout = (chunk: Buffer, release?: () => void): void => this.take(chunk, 0, release);
  stderr = (chunk: Buffer, release?: () => void): void => this.take(chunk, FROM_STDERR, release);

  private take(chunk: Buffer, flags: number, release: (() => void) | undefined): void {
    if (this.broken) {
      // Not released: the thread is gone, and the relay had better stop copying for it.
      this.droppedChunks++;
      this.droppedBytes += chunk.length;
      return;
    }
    if (this.inFlight + this.pendingBytes + chunk.length > this.maxInFlightBytes) {
      this.droppedChunks++;
      this.droppedBytes += chunk.length;
      this.gapPending = true;
      release?.();
      return;
    }
    if (release) this.pendingReleases.push(release);
    this.pending.push(chunk);
    this.pendingParts.push(chunk.length, flags | (this.gapPending ? GAP_BEFORE : 0));
    this.gapPending = false;
    this.pendingBytes += chunk.length;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.post);
    }
  }

  private readonly post = (): void => {
    this.scheduled = false;
    if (this.pending.length === 0 || this.broken) return;
    const buf = new Uint8Array(this.pendingBytes);
    let offset = 0;
    for (const c of this.pending) {
      buf.set(c, offset);
      offset += c.length;
    }
    const parts = this.pendingParts;
    this.inFlight += this.pendingBytes;
    this.unacked.push({ bytes: this.pendingBytes, releases: this.pendingReleases });
    this.pending = [];
    this.pendingParts = [];
    this.pendingReleases = [];
    this.pendingBytes = 0;
    this.worker.postMessage({ t: 'data', buf, parts }, [buf.buffer]);
  };

  private onMessage(msg: FromWorker): void {
    switch (msg.t) {
      case 'ack':
        this.inFlight = Math.max(0, this.inFlight - msg.bytes);
        this.releaseAcked(msg.bytes);
        return;
      case 'log':
        this.logger[msg.level](msg.msg);
        return;
      case 'ended':
        // What the thread did not process in its budget is dropped: all of it is done with.
        this.releaseAll();
        this.answer(msg);
        return;
      case 'flushed':
        this.answer(msg);
        return;
    }
  }

  private answer(msg: FromWorker & { id: number }): void {
    const resolve = this.waiting.get(msg.id);
    this.waiting.delete(msg.id);
    resolve?.(msg);
  }

  /** The thread acks whole batches, oldest first. */
  private releaseAcked(bytes: number): void {
    let left = this.ackedAhead + bytes;
    while (this.unacked.length > 0 && this.unacked[0]!.bytes <= left) {
      const batch = this.unacked.shift()!;
      left -= batch.bytes;
      for (const release of batch.releases) release();
    }
    this.ackedAhead = left;
  }

  private releaseAll(): void {
    for (const batch of this.unacked.splice(0)) for (const release of batch.releases) release();
    for (const release of this.pendingReleases.splice(0)) release();
    this.ackedAhead = 0;
  }

  private request(msg: (id: number) => ToWorker, timeoutMs: number): Promise<FromWorker | undefined> {
    if (this.broken) return Promise.resolve(undefined);
    this.post();
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve(undefined);
      }, timeoutMs);
      this.waiting.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.worker.postMessage(msg(id));
    });
  }

  /** The log events made so far, as payloads for the forwarder. */
  async flush(timeoutMs = FLUSH_TIMEOUT_MS): Promise<OutgoingPayload[]> {
    const reply = await this.request((id) => ({ t: 'flush', id }), timeoutMs);
    return reply?.t === 'flushed' ? reply.batches.map(toPayload) : [];
  }

  /**
   * The child has exited: the thread processes its backlog for at most `budgetMs` (what is left is
   * dropped and counted) and ships the last line even without its newline.
   */
  async finish(budgetMs: number): Promise<void> {
    const reply = await this.request((id) => ({ t: 'end', id, budgetMs }), budgetMs + FLUSH_TIMEOUT_MS);
    if (reply?.t === 'ended') {
      this.droppedChunks += reply.droppedChunks;
      this.droppedBytes += reply.droppedBytes;
    }
  }

  async close(): Promise<void> {
    this.broken = true;
    await this.worker.terminate().catch(() => 0);
  }

  private fail(): void {
    if (this.broken) return;
    this.broken = true;
    this.droppedBytes += this.pendingBytes + this.inFlight;
    this.droppedChunks += this.pendingParts.length / 2;
    this.pending = [];
    this.pendingParts = [];
    this.pendingBytes = 0;
    this.inFlight = 0;
    this.releaseAll();
    for (const resolve of this.waiting.values()) resolve({ t: 'ack', bytes: 0 });
    this.waiting.clear();
  }
}

/** A batch back from the thread; on a 413 it splits in two by its events. */
function toPayload(b: WorkerBatch): OutgoingPayload {
  return {
    kind: 'logs',
    body: b.body,
    contentType: b.contentType,
    headers: b.headers,
    items: b.items,
    split: () => splitBatch(b),
  };
}

function splitBatch(b: WorkerBatch): OutgoingPayload[] | undefined {
  let events: unknown[];
  try {
    events = JSON.parse(Buffer.from(b.body.buffer, b.body.byteOffset, b.body.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(events) || events.length < 2) return undefined;
  const mid = events.length >>> 1;
  return [events.slice(0, mid), events.slice(mid)].map((half) =>
    toPayload({
      body: new Uint8Array(Buffer.from(JSON.stringify(half), 'utf8')),
      contentType: b.contentType,
      headers: b.headers,
      items: half.length,
    }),
  );
}

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
  const worker =
    'code' in script
      ? new Worker(script.code, { eval: true, workerData: data })
      : new Worker(script.path, { workerData: data });
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
  private pendingBytes = 0;
  private inFlight = 0;
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

  stdout = (chunk: Buffer): void => this.take(chunk, 0);
  stderr = (chunk: Buffer): void => this.take(chunk, FROM_STDERR);

  private take(chunk: Buffer, flags: number): void {
    if (this.broken) {
      this.droppedChunks++;
      this.droppedBytes += chunk.length;
      return;
    }
    if (this.inFlight + this.pendingBytes + chunk.length > this.maxInFlightBytes) {
      this.droppedChunks++;
      this.droppedBytes += chunk.length;
      this.gapPending = true;
      return;
    }
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
    this.pending = [];
    this.pendingParts = [];
    this.pendingBytes = 0;
    this.worker.postMessage({ t: 'data', buf, parts }, [buf.buffer]);
  };

  private onMessage(msg: FromWorker): void {
    switch (msg.t) {
      case 'ack':
        this.inFlight = Math.max(0, this.inFlight - msg.bytes);
        return;
      case 'log':
        this.logger[msg.level](msg.msg);
        return;
      case 'flushed':
      case 'ended': {
        const resolve = this.waiting.get(msg.id);
        this.waiting.delete(msg.id);
        resolve?.(msg);
        return;
      }
    }
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

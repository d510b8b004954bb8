import {
  ChildOutputLogs,
  LogPipeline,
  type LogStatus,
  fromEnv as logsFromEnv,
  type OutgoingPayload,
} from '@serverless-agent/logs';
import type { Env } from './config.js';
import type { Logger } from './logger.js';

/**
 * The log processing of the child's output, on its own thread: lines → log events → batches. The
 * thread that passes the output through only copies chunks here, so it never waits for this work.
 */

/** Flags of one chunk inside a `data` message. */
export const FROM_STDERR = 1;
/** Output was dropped just before this chunk: the partial line before the gap is ended first. */
export const GAP_BEFORE = 2;

export type ToWorker =
  /** Chunks of one turn, back to back in `buf`; `parts` holds [length, flags] pairs. */
  | { t: 'data'; buf: Uint8Array; parts: number[] }
  | { t: 'flush'; id: number }
  /** The child exited: process the backlog for at most `budgetMs`, then ship the last partial line. */
  | { t: 'end'; id: number; budgetMs: number };

/** A `/api/v2/logs` body, its events counted (the split for a 413 is rebuilt on the other side). */
export interface WorkerBatch {
  body: Uint8Array;
  contentType: string;
  headers: Record<string, string>;
  items: number;
}

export type FromWorker =
  /** Bytes processed (or dropped here) since the last ack: the sender's budget for more. */
  | { t: 'ack'; bytes: number }
  | { t: 'flushed'; id: number; batches: WorkerBatch[] }
  | { t: 'ended'; id: number; droppedChunks: number; droppedBytes: number }
  | { t: 'log'; level: keyof Logger; msg: string };

export interface LogWorkerData {
  env: Env;
  /** `ddsource` when DD_SOURCE is unset: the platform's. */
  defaultSource: string;
  tags: Record<string, string>;
  /** Share of a core the processing may take while the child writes faster than it can follow. */
  cpuShare: number;
}

/** Above this backlog the processing is held to its CPU share; below it, it takes everything at once. */
const PRESSURE_BYTES = 256 * 1024;
const TURN_MS = 2;
const NEWLINE = new Uint8Array([10]);

/**
 * The thread's logic, free of the thread (tests drive it directly): queues what arrives, processes
 * it in turns held to `cpuShare` of the thread under a flood, and answers flushes between turns.
 */
export class LogWorkerCore {
  private readonly pipeline: LogPipeline;
  private readonly output: ChildOutputLogs;
  private queue: { buf: Uint8Array; parts: number[] }[] = [];
  private queuedBytes = 0;
  private scheduled = false;
  private lastTurnEnd = 0;
  private lastTurnUsed = 0;
  private ended = false;

  constructor(
    data: LogWorkerData,
    private readonly send: (msg: FromWorker, transfer?: ArrayBuffer[]) => void,
    private readonly now: () => number = () => performance.now(),
  ) {
    const logger: Logger = {
      debug: (msg) => send({ t: 'log', level: 'debug', msg }),
      info: (msg) => send({ t: 'log', level: 'info', msg }),
      warn: (msg) => send({ t: 'log', level: 'warn', msg }),
      error: (msg) => send({ t: 'log', level: 'error', msg }),
    };
    const config = logsFromEnv(data.env, logger, { target: 'serverless-init' });
    this.pipeline = new LogPipeline({
      source: config.source ?? data.defaultSource,
      service: config.service,
      tags: data.tags,
      rules: config.rules,
      logger,
    });
    const p = this.pipeline;
    this.output = new ChildOutputLogs((line: string, status: LogStatus) => p.submit(line, status));
    this.share = data.cpuShare;
  }

  private readonly share: number;

  receive(msg: ToWorker): void {
    switch (msg.t) {
      case 'data':
        if (this.ended) return;
        this.queue.push({ buf: msg.buf, parts: msg.parts });
        this.queuedBytes += msg.buf.length;
        this.schedule(0);
        return;
      case 'flush':
        this.replyFlush(msg.id);
        return;
      case 'end':
        this.end(msg.id, msg.budgetMs);
        return;
    }
  }

  private schedule(delayMs: number): void {
    if (this.scheduled) return;
    this.scheduled = true;
    if (delayMs <= 0) setImmediate(this.turn);
    else setTimeout(this.turn, delayMs);
  }

  private readonly turn = (): void => {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const start = this.now();
    const pressure = this.queuedBytes > PRESSURE_BYTES;
    if (pressure) {
      // Rest so that the processing's share of the thread stays under `share`: the process's
      // other threads (the pass-through, the user's command) keep the cores.
      const rest = this.lastTurnUsed * (1 / this.share - 1) - (start - this.lastTurnEnd);
      if (rest > 0) {
        this.schedule(rest);
        return;
      }
    }
    let bytes = 0;
    do {
      const item = this.queue.shift()!;
      this.process(item);
      bytes += item.buf.length;
    } while (this.queue.length > 0 && this.now() - start < TURN_MS);
    this.queuedBytes -= bytes;
    this.send({ t: 'ack', bytes });
    this.lastTurnEnd = this.now();
    this.lastTurnUsed = this.lastTurnEnd - start;
    if (this.queue.length > 0) this.schedule(0);
  };

  private process(item: { buf: Uint8Array; parts: number[] }): void {
    const { buf, parts } = item;
    let offset = 0;
    for (let i = 0; i < parts.length; i += 2) {
      const length = parts[i]!;
      const flags = parts[i + 1]!;
      const chunk = buf.subarray(offset, offset + length);
      offset += length;
      try {
        if (flags & GAP_BEFORE) this.output.stdout(NEWLINE);
        if (flags & FROM_STDERR) this.output.stderr(chunk);
        else this.output.stdout(chunk);
      } catch (err) {
        this.send({ t: 'log', level: 'error', msg: `logs: a chunk could not be processed: ${String(err)}` });
      }
    }
  }

  private replyFlush(id: number): void {
    const batches = this.pipeline.flush().map(toBatch);
    this.send(
      { t: 'flushed', id, batches },
      batches.map((b) => b.body.buffer as ArrayBuffer),
    );
  }

  private end(id: number, budgetMs: number): void {
    this.ended = true;
    const start = this.now();
    while (this.queue.length > 0 && this.now() - start < budgetMs) this.process(this.queue.shift()!);
    let droppedChunks = 0;
    let droppedBytes = 0;
    for (const item of this.queue) {
      droppedChunks += item.parts.length / 2;
      droppedBytes += item.buf.length;
    }
    this.queue = [];
    this.queuedBytes = 0;
    this.output.end();
    this.send({ t: 'ended', id, droppedChunks, droppedBytes });
  }
}

/** A payload's body in its own ArrayBuffer, so it can be handed over without a copy. */
function toBatch(p: OutgoingPayload): WorkerBatch {
  const own =
    p.body.byteOffset === 0 && p.body.buffer.byteLength === p.body.byteLength
      ? p.body
      : new Uint8Array(p.body);
  return { body: own, contentType: p.contentType, headers: { ...(p.headers ?? {}) }, items: p.items ?? 0 };
}

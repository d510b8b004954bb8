import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type {
  Aggregator,
  AggregatorStats,
  FlushOptions,
  FlushVisitor,
  RemoteAggregation,
  Sample,
  Serie,
} from './aggregator.js';
import { RateLimitedWarn } from './logger.js';
import { createRing, DEFAULT_RING_BYTES, type RingBuffers, RingReader, RingWriter } from './ring.js';
import { AgentSketch } from './sketch.js';
import { type FromWorker, STAT_KEYS, type ToWorker, type WorkerData } from './worker-protocol.js';

export interface ParseWorkerOptions {
  /** Bytes of the queue between the socket and the worker; a datagram that finds it full is dropped and counted. */
  queueBytes?: number;
}

/** The built worker beside this module; from the sources (tests), the built one in `dist/`. */
function workerFile(): URL | undefined {
  for (const rel of ['./parse-worker.js', '../dist/parse-worker.js']) {
    const url = new URL(rel, import.meta.url);
    if (existsSync(fileURLToPath(url))) return url;
  }
  return undefined;
}

interface PendingFlush {
  visitor: FlushVisitor;
  options: FlushOptions;
  resolve: () => void;
  /** The flush that ends the worker (all buckets, after the server closed). */
  last: boolean;
}

/**
 * The socket thread's side of a parser worker: queues each datagram into the shared ring, sends
 * submits and flush requests, and hands what comes back to the aggregator's callers. If the
 * worker dies, it says so once and gives the aggregator back its in-thread parsing, with what
 * was still queued.
 */
export class ParseWorkerLink implements RemoteAggregation {
  private readonly ring: RingBuffers;
  private readonly writer: RingWriter;
  private readonly statsBuffer = new SharedArrayBuffer(8 * STAT_KEYS.length);
  private readonly published = new Float64Array(this.statsBuffer);
  private readonly worker: Worker;
  private readonly pending = new Map<number, PendingFlush>();
  private readonly drains = new Map<number, () => void>();
  private readonly fullLog: RateLimitedWarn;
  private seq = 0;
  /** running → closed (the server stopped; the worker still holds contexts) → handed back. */
  private state: 'running' | 'closed' | 'handedBack' = 'running';
  /** The worker's counters already added to the aggregator's own. */
  private counted: AggregatorStats | undefined;
  private ended = false;

  private constructor(
    private readonly aggregator: Aggregator,
    file: URL,
    options: ParseWorkerOptions,
  ) {
    this.ring = createRing(options.queueBytes ?? DEFAULT_RING_BYTES);
    this.writer = new RingWriter(this.ring);
    const workerOptions = aggregator.workerOptions()!;
    this.fullLog = new RateLimitedWarn(aggregator.log, 10_000, aggregator.clock);
    const data: WorkerData = { ring: this.ring, stats: this.statsBuffer, options: workerOptions };
    this.worker = new Worker(file, { workerData: data });
    this.worker.on('message', (m: FromWorker) => this.onMessage(m));
    this.worker.on('error', (err) => this.fail(err.message));
    this.worker.on('exit', (code) => this.fail(`exit code ${code}`));
    // The worker must not keep a process alive that is otherwise done (after the listeners, which ref it).
    this.worker.unref();
  }

  /**
   * Starts a worker for `aggregator` and hands it the aggregator's parsing, or returns undefined
   * (and logs why) when it cannot run in one.
   */
  static start(aggregator: Aggregator, options: ParseWorkerOptions = {}): ParseWorkerLink | undefined {
    const logger = aggregator.log;
    if (aggregator.workerOptions() === undefined) {
      logger.warn(
        'dogstatsd: parsing on the main thread: the aggregator has an origin function or already holds samples',
      );
      return undefined;
    }
    const file = workerFile();
    if (file === undefined) {
      logger.warn(
        'dogstatsd: the parser worker is not built (dist/parse-worker.js); parsing on the main thread',
      );
      return undefined;
    }
    const link = new ParseWorkerLink(aggregator, file, options);
    aggregator.delegate(link);
    return link;
  }

  /** Bytes queued for the worker and not yet parsed. */
  get queuedBytes(): number {
    return this.writer.pending();
  }

  get running(): boolean {
    return this.state !== 'handedBack';
  }

  push(buf: Buffer, length: number): void {
    if (!this.writer.push(buf, length, this.aggregator.clock())) {
      this.aggregator.countDroppedDatagram();
      this.fullLog.warn('dogstatsd: the parser worker is behind and its queue is full, dropping datagrams');
    }
  }

  submit(sample: Sample): boolean {
    const type = sample.type ?? 'distribution';
    if (
      type !== 'set' &&
      !Number.isFinite(typeof sample.value === 'number' ? sample.value : Number(sample.value))
    ) {
      return false;
    }
    this.send({ t: 'submit', sample, now: this.aggregator.clock() });
    return true;
  }

  stats(): AggregatorStats {
    const s = {} as AggregatorStats;
    for (let i = 0; i < STAT_KEYS.length; i++) s[STAT_KEYS[i]!] = this.published[i]!;
    return s;
  }

  flushTo(visitor: FlushVisitor, options: FlushOptions): Promise<void> {
    const last = this.state === 'closed' && options.all === true;
    // Samples submitted from here on belong to the thread that flushes them next.
    if (last) this.handBack();
    return new Promise((resolve) => {
      const id = ++this.seq;
      this.pending.set(id, { visitor, options, resolve, last });
      this.send({
        t: 'flush',
        id,
        options: { all: options.all ?? false },
        now: this.aggregator.clock(),
        json: visitor.serieJson !== undefined,
        encoded: visitor.sketchEncoded !== undefined,
      });
    });
  }

  /**
   * Waits until the worker has parsed everything queued so far; after it, the first flush of all
   * buckets is the worker's last, and the aggregator parses on its own thread again.
   */
  close(): Promise<void> {
    if (this.state === 'running') this.state = 'closed';
    if (this.ended) return Promise.resolve();
    return new Promise((resolve) => {
      const id = ++this.seq;
      this.drains.set(id, resolve);
      this.send({ t: 'drain', id });
    });
  }

  private send(m: ToWorker): void {
    this.worker.postMessage(m);
    this.refWhileWaiting();
  }

  /** A flush or a drain being answered keeps the process alive; an idle worker does not. */
  private refWhileWaiting(): void {
    if (this.ended) return;
    if (this.pending.size + this.drains.size > 0) this.worker.ref();
    else this.worker.unref();
  }

  private onMessage(m: FromWorker): void {
    switch (m.t) {
      case 'log':
        this.aggregator.log[m.level](m.msg);
        break;
      case 'events':
        this.aggregator.adoptEventsAndChecks(m.events, m.checks);
        break;
      case 'chunk': {
        this.send({ t: 'taken' });
        const p = this.pending.get(m.id);
        if (p === undefined) break;
        const v = p.visitor;
        for (const s of m.series) {
          if (typeof s === 'string') v.serieJson!(s);
          else v.serie(s as Serie);
        }
        for (const e of m.sketches) v.sketch({ ...e, sketch: AgentSketch.fromState(e.sketch) });
        if (m.encoded !== undefined) {
          let at = 0;
          for (const n of m.lengths) {
            v.sketchEncoded!(m.encoded.subarray(at, at + n));
            at += n;
          }
        }
        break;
      }
      case 'flushed': {
        const p = this.pending.get(m.id);
        if (p === undefined) break;
        this.pending.delete(m.id);
        if (p.last) {
          // What the last flush counted, then the worker is done.
          this.handBack();
          this.end();
        }
        this.refWhileWaiting();
        p.resolve();
        break;
      }
      case 'drained': {
        const done = this.drains.get(m.id);
        this.drains.delete(m.id);
        this.refWhileWaiting();
        done?.();
        break;
      }
    }
  }

  /** The aggregator parses and counts on its own thread again, from the worker's counters on. */
  private handBack(): void {
    this.state = 'handedBack';
    const now = this.stats();
    const before = this.counted;
    const add = { ...now };
    if (before !== undefined) {
      for (const k of STAT_KEYS) add[k] = now[k] - before[k];
    }
    this.counted = now;
    this.aggregator.delegate(undefined, add);
  }

  private end(): void {
    this.ended = true;
    for (const done of this.drains.values()) done();
    this.drains.clear();
    void this.worker.terminate();
  }

  /** The worker died: said once; the aggregator parses on this thread again, starting with what was queued. */
  private fail(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    const aggregator = this.aggregator;
    aggregator.log.error(
      `dogstatsd: the parser worker stopped (${reason}); parsing on the main thread from now on ` +
        '(the samples it held since the last flush are lost)',
    );
    this.handBack();
    const reader = new RingReader(this.ring);
    const scratch = Buffer.allocUnsafe(65_536);
    for (let n = reader.next(scratch); n >= 0; n = reader.next(scratch)) aggregator.ingest(scratch, n);
    reader.release();
    for (const p of this.pending.values()) void aggregator.flushTo(p.visitor, p.options).then(p.resolve);
    this.pending.clear();
    this.end();
  }
}

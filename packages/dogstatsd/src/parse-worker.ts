// The parser worker: reads datagrams from the shared ring, parses and aggregates them into its own
// Aggregator, and answers flushes by streaming series and sketches back to the socket's thread.
import { parentPort, workerData } from 'node:worker_threads';
import { Aggregator, type FlushVisitor, type Serie } from './aggregator.js';
import type { Logger } from './logger.js';
import { encodeSketch } from './payloads.js';
import { RingReader } from './ring.js';
import {
  type FromWorker,
  type SketchEntryState,
  STAT_KEYS,
  type ToWorker,
  type WorkerData,
} from './worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('parse-worker runs as a worker thread');
const data = workerData as WorkerData;
const post = (m: FromWorker, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer);

const logger: Logger = {
  debug: (msg) => post({ t: 'log', level: 'debug', msg }),
  info: (msg) => post({ t: 'log', level: 'info', msg }),
  warn: (msg) => post({ t: 'log', level: 'warn', msg }),
  error: (msg) => post({ t: 'log', level: 'error', msg }),
};
// The clock is the socket thread's: each datagram carries the time it arrived, each request the
// time it was made, so buckets and rate limits read as they would have on that thread.
let clock = Date.now();
const aggregator = new Aggregator({ ...data.options, now: () => clock, logger });
const reader = new RingReader(data.ring);
const published = new Float64Array(data.stats);
const scratch = Buffer.allocUnsafe(65_536);

/** Longest stretch of reading before the loop takes messages (a flush request) again. */
const PUMP_MS = 8;
/**
 * While datagrams keep coming, an empty ring is waited on for POLL_MS at a time, up to
 * IDLE_POLLS times, before the worker sleeps until woken: a wake-up is a system call on the
 * socket's thread (a futex), which it would otherwise pay for nearly every datagram.
 */
const POLL_MS = 0.5;
const IDLE_POLLS = 20;
let idlePolls = 0;
const CHUNK_ITEMS = 512;
/**
 * Chunks of a flush posted and not yet taken in by the socket's thread. The port delivers every
 * queued message in one go: unthrottled, a 100k-context flush would arrive as one long block of
 * that thread's event loop.
 */
const IN_FLIGHT = 2;
const outbox: { m: FromWorker; transfer: ArrayBuffer[] }[] = [];
let inFlight = 0;

function sendThrottled(m: FromWorker, transfer: ArrayBuffer[] = []): void {
  outbox.push({ m, transfer });
  sendQueued();
}

function sendQueued(): void {
  while (inFlight < IN_FLIGHT && outbox.length > 0) {
    const next = outbox.shift()!;
    if (next.m.t === 'chunk') inFlight++;
    post(next.m, next.transfer);
  }
}

/**
 * Parses what the ring holds (up to `stopAt`, a `mark()`, when given), for at most `budgetMs`;
 * true when it is empty (or `stopAt` is reached).
 */
function pump(budgetMs: number, stopAt?: number): boolean {
  const t0 = performance.now();
  let n = 0;
  let empty = false;
  for (;;) {
    const length = reader.next(scratch, stopAt);
    if (length < 0) {
      empty = true;
      break;
    }
    clock = reader.arrivedMs;
    aggregator.ingest(scratch, Math.min(length, scratch.length));
    if ((++n & 127) === 0) {
      reader.release();
      if (performance.now() - t0 >= budgetMs) break;
    }
  }
  reader.release();
  if (n > 0) {
    idlePolls = 0;
    publish();
  }
  return empty;
}

function publish(): void {
  const s = aggregator.stats();
  for (let i = 0; i < STAT_KEYS.length; i++) published[i] = s[STAT_KEYS[i]!];
  const { events, serviceChecks } = aggregator.takeEventsAndChecks();
  if (events.length > 0 || serviceChecks.length > 0) post({ t: 'events', events, checks: serviceChecks });
}

function run(): void {
  if (!pump(PUMP_MS)) {
    setImmediate(run);
    return;
  }
  if (idlePolls < IDLE_POLLS) {
    idlePolls++;
    reader.waitBriefly(POLL_MS);
    setImmediate(run);
    return;
  }
  const head = reader.prepareSleep();
  const woken = head === undefined ? undefined : reader.waitAsync(head);
  if (woken === undefined) {
    reader.awake();
    setImmediate(run);
    return;
  }
  void woken.then(() => {
    reader.awake();
    run();
  });
}

async function flush(m: Extract<ToWorker, { t: 'flush' }>): Promise<void> {
  // Everything queued before the request belongs to this flush, and only that: under a flood the
  // ring refills as fast as it is read, and the flush must not wait for a pause.
  pump(Number.POSITIVE_INFINITY, reader.mark());
  clock = m.now;
  let series: (string | Serie)[] = [];
  let sketches: SketchEntryState[] = [];
  let encoded: Uint8Array[] = [];
  const send = () => {
    let bytes: Uint8Array | undefined;
    const lengths = encoded.map((b) => b.length);
    if (encoded.length > 0) {
      bytes = new Uint8Array(lengths.reduce((a, b) => a + b, 0));
      let at = 0;
      for (const b of encoded) {
        bytes.set(b, at);
        at += b.length;
      }
    }
    sendThrottled(
      { t: 'chunk', id: m.id, series, sketches, encoded: bytes, lengths },
      bytes ? [bytes.buffer as ArrayBuffer] : [],
    );
    series = [];
    sketches = [];
    encoded = [];
  };
  const full = () => series.length + sketches.length + encoded.length >= CHUNK_ITEMS;
  const visitor: FlushVisitor = {
    serie: (s) => {
      series.push(s);
      if (full()) send();
    },
    sketch: (e) => {
      if (m.encoded) encoded.push(encodeSketch(e));
      else
        sketches.push({ metric: e.metric, host: e.host, tags: e.tags, ts: e.ts, sketch: e.sketch.toState() });
      if (full()) send();
    },
    // Encoded at once: the aggregator may reuse the sketch for the next bucket.
    consumesSketches: m.encoded,
  };
  if (m.json) {
    visitor.serieJson = (j) => {
      series.push(j);
      if (full()) send();
    };
  }
  await aggregator.flushTo(visitor, m.options);
  if (series.length + sketches.length + encoded.length > 0) send();
  publish();
  sendThrottled({ t: 'flushed', id: m.id });
}

port.on('message', (m: ToWorker) => {
  switch (m.t) {
    case 'submit':
      clock = m.now;
      aggregator.submit(m.sample);
      publish();
      break;
    case 'flush':
      void flush(m);
      break;
    case 'taken':
      inFlight--;
      sendQueued();
      break;
    case 'drain':
      pump(Number.POSITIVE_INFINITY, reader.mark());
      publish();
      post({ t: 'drained', id: m.id });
      break;
  }
});

run();

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  FROM_STDERR,
  type FromWorker,
  GAP_BEFORE,
  LogWorkerCore,
  type LogWorkerData,
} from '../src/log-worker.js';
import { LogWorkerClient, startLogThread, type WorkerLike } from '../src/log-worker-client.js';
import { noopLogger } from '../src/logger.js';
import { APP_DIR, ensureBundle } from './helpers/datadog-init.js';

const DATA: LogWorkerData = {
  env: {
    DD_SERVICE: 'Shop',
    DD_LOGS_CONFIG_PROCESSING_RULES:
      '[{"type":"exclude_at_match","name":"no_health","pattern":"GET /health"}]',
  },
  defaultSource: 'cloudrun',
  tags: { env: 'prod', origin: 'cloudrun' },
  cpuShare: 0.5,
};

type Event = { message: string; status: string; service: string; ddsource: string; ddtags: string };

function decode(body: Uint8Array): Event[] {
  return JSON.parse(Buffer.from(body).toString('utf8')) as Event[];
}

function bytes(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text));
}

function core() {
  const sent: FromWorker[] = [];
  const c = new LogWorkerCore(DATA, (m) => sent.push(m));
  return { c, sent };
}

describe('LogWorkerCore (the log thread, driven directly)', () => {
  it('turns stdout lines and whole stderr writes into events with the rules, tags and source', async () => {
    const { c, sent } = core();
    const out = Buffer.from('GET /orders 200\nGET /health 200\npart');
    const err = Buffer.from('Error: x\n    at y\n');
    const buf = new Uint8Array(Buffer.concat([out, err]));
    c.receive({ t: 'data', buf, parts: [out.length, 0, err.length, FROM_STDERR] });
    c.receive({ t: 'data', buf: bytes('ial\n'), parts: [4, 0] });
    await expect
      .poll(() => sent.filter((m) => m.t === 'ack').reduce((n, m) => n + (m.t === 'ack' ? m.bytes : 0), 0))
      .toBe(buf.length + 4);
    c.receive({ t: 'flush', id: 1 });
    const flushed = sent.find((m) => m.t === 'flushed');
    expect(flushed?.t).toBe('flushed');
    if (flushed?.t !== 'flushed') return;
    const events = flushed.batches.flatMap((b) => decode(b.body));
    expect(events.map((e) => [e.message, e.status])).toEqual([
      ['GET /orders 200', 'info'],
      ['Error: x\n    at y', 'error'],
      ['partial', 'info'],
    ]);
    expect(events[0]).toMatchObject({ service: 'shop', ddsource: 'cloudrun' });
    expect(events[0]!.ddtags).toContain('env:prod');
    expect(flushed.batches[0]!.items).toBe(3);
  });

  it('ends a line cut by a gap, and at the end ships the last line without its newline', async () => {
    const { c, sent } = core();
    c.receive({ t: 'data', buf: bytes('cut here'), parts: [8, 0] });
    c.receive({ t: 'data', buf: bytes('after gap\nno newline'), parts: [20, GAP_BEFORE] });
    c.receive({ t: 'end', id: 7, budgetMs: 1000 });
    expect(sent.find((m) => m.t === 'ended')).toEqual({
      t: 'ended',
      id: 7,
      droppedChunks: 0,
      droppedBytes: 0,
    });
    c.receive({ t: 'flush', id: 8 });
    const flushed = sent.find((m) => m.t === 'flushed');
    if (flushed?.t !== 'flushed') throw new Error('no flush');
    expect(flushed.batches.flatMap((b) => decode(b.body)).map((e) => e.message)).toEqual([
      'cut here',
      'after gap',
      'no newline',
    ]);
  });
});

/** A thread that takes messages and never answers: the pass-through's bound is all that protects us. */
function stalledWorker(): WorkerLike & { posted: unknown[] } {
  const posted: unknown[] = [];
  return {
    posted,
    postMessage: (m) => void posted.push(m),
    on: () => undefined,
    terminate: async () => 0,
    unref: () => {},
  };
}

describe('LogWorkerClient (the pass-through side)', () => {
  it('never holds more than its bound for a thread that lags: the rest is dropped, counted and marked', async () => {
    const worker = stalledWorker();
    const client = new LogWorkerClient(worker, noopLogger, 1000);
    const chunk = Buffer.alloc(400, 'a');
    client.stdout(chunk);
    client.stdout(chunk);
    client.stdout(chunk); // over 1000 in flight: dropped
    expect(client.droppedChunks).toBe(1);
    expect(client.droppedBytes).toBe(400);
    await new Promise((r) => setImmediate(r));
    // One message per turn, the chunks back to back, the buffer handed over.
    expect(worker.posted).toHaveLength(1);
    expect(worker.posted[0]).toMatchObject({ t: 'data', parts: [400, 0, 400, 0] });
    client.stdout(chunk); // still over: the thread has acknowledged nothing
    expect(client.droppedChunks).toBe(2);
    expect(await client.flush(50)).toEqual([]);
  });

  it('releases each copy once the thread acks its batch, at once when it drops it, and all at the end', async () => {
    const listeners: ((msg: FromWorker) => void)[] = [];
    const posted: unknown[] = [];
    const worker: WorkerLike = {
      postMessage: (m) => void posted.push(m),
      on: (event: string, listener: (msg: FromWorker) => void) => {
        if (event === 'message') listeners.push(listener);
        return undefined;
      },
      terminate: async () => 0,
      unref: () => {},
    } as WorkerLike;
    const reply = (msg: FromWorker) => {
      for (const l of listeners) l(msg);
    };
    const client = new LogWorkerClient(worker, noopLogger, 1000);
    const released: string[] = [];
    const chunk = Buffer.alloc(400, 'a');
    client.stdout(chunk, () => released.push('a'));
    client.stderr(chunk, () => released.push('b'));
    client.stdout(chunk, () => released.push('dropped')); // over the bound
    expect(released).toEqual(['dropped']);
    await new Promise((r) => setImmediate(r));
    client.stdout(Buffer.alloc(100), () => released.push('c'));
    await new Promise((r) => setImmediate(r));
    expect(posted).toHaveLength(2);
    reply({ t: 'ack', bytes: 400 }); // part of the first batch: nothing is whole yet
    expect(released).toEqual(['dropped']);
    reply({ t: 'ack', bytes: 400 });
    expect(released).toEqual(['dropped', 'a', 'b']);
    const finished = client.finish(100);
    await new Promise((r) => setImmediate(r));
    const end = posted.at(-1) as { t: string; id: number };
    expect(end.t).toBe('end');
    reply({ t: 'ended', id: end.id, droppedChunks: 1, droppedBytes: 100 });
    await finished;
    expect(released).toEqual(['dropped', 'a', 'b', 'c']);
    expect([client.droppedChunks, client.droppedBytes]).toEqual([2, 500]);
  });

  it('with the real thread: chunks in, log payloads out, a 413 split by events', async () => {
    await ensureBundle();
    const thread = startLogThread({ path: join(APP_DIR, 'dist', 'datadog-init-logs.cjs') }, DATA);
    const client = new LogWorkerClient(thread, noopLogger);
    const lines = Array.from({ length: 1000 }, (_, i) => `line ${i}\n`).join('');
    for (let i = 0; i < lines.length; i += 333) client.stdout(Buffer.from(lines.slice(i, i + 333)));
    client.stderr(Buffer.from('boom\n'));
    await client.finish(2000);
    const payloads = await client.flush(5000);
    const events = payloads.flatMap((p) => decode(p.body));
    expect(events).toHaveLength(1001);
    expect(events[999]!.message).toBe('line 999');
    expect(events[1000]).toMatchObject({ message: 'boom', status: 'error' });
    expect(payloads[0]!.kind).toBe('logs');
    const halves = payloads[0]!.split!()!;
    expect(halves).toHaveLength(2);
    expect([...decode(halves[0]!.body), ...decode(halves[1]!.body)]).toEqual(decode(payloads[0]!.body));
    expect(halves[0]!.items! + halves[1]!.items!).toBe(payloads[0]!.items);
    await client.close();
  });
});

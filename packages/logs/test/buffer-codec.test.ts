import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  type BatchCodec,
  buildBatches,
  LambdaLogs,
  LOGS_HEADERS,
  LogBuffer,
  type OutgoingPayload,
  PACKED_BATCH_BYTES,
} from '../src/index.js';

// With a codec, each batch is compressed when it is cut (and the open one at the flush), and its
// body's buffer is written over by the next batch. What the intake decodes must be the very bytes
// the buffer gives without a codec, batch for batch; no payload may see a buffer written again.

/** gzip as a transport would use it, recording every body it was handed. */
function gzipCodec(): BatchCodec & { inputs: Uint8Array[]; calls: number } {
  const inputs: Uint8Array[] = [];
  return {
    encoding: 'gzip',
    inputs,
    get calls() {
      return inputs.length;
    },
    compress(data) {
      inputs.push(data);
      return gzipSync(data, { level: 3 });
    },
    decompress: (data) => gunzipSync(data),
  };
}

function event(i: number, text: string, chars: number): string {
  return JSON.stringify({ message: text.repeat(Math.max(1, Math.ceil(chars / text.length))), i });
}

function pushAll(buffer: LogBuffer, entries: string[]): void {
  for (const json of entries) expect(buffer.push({ json, bytes: -1, truncated: false })).toBe(true);
}

/** What the intake reads: the body, decoded as its Content-Encoding says. */
function decoded(p: OutgoingPayload): string {
  const encoding = p.headers?.['Content-Encoding'];
  return (encoding === 'gzip' ? gunzipSync(p.body) : Buffer.from(p.body)).toString('utf8');
}

function expected(entries: string[], maxBytes = PACKED_BATCH_BYTES, maxEvents?: number): string[] {
  const sizes = entries.map((e) => Buffer.byteLength(e));
  return buildBatches(entries, sizes, { maxBytes, ...(maxEvents ? { maxEvents } : {}) }).map((p) =>
    Buffer.from(p.body).toString('utf8'),
  );
}

describe('LogBuffer with a codec', () => {
  it('compresses each batch at its cut: the intake decodes the bytes of the batches without one', () => {
    const entries = Array.from({ length: 2600 }, (_, i) => event(i, i % 5 ? 'x' : 'é€', 100 + (i % 700)));
    const codec = gzipCodec();
    const buffer = new LogBuffer({ codec });
    pushAll(buffer, entries);
    // The full batches were compressed as they were cut, before any flush; the bound still counts
    // the events' own bytes, not their compressed ones.
    expect(codec.calls).toBeGreaterThanOrEqual(2);
    const held = buffer.compressedBytes;
    expect(buffer.bytes).toBeGreaterThan(held * 5);
    const payloads = buffer.drain();
    expect(buffer.compressedBytes).toBe(0);
    expect(held).toBe(payloads.slice(0, -1).reduce((n, p) => n + p.body.byteLength, 0));
    expect(codec.calls).toBe(payloads.length);
    expect(payloads.map(decoded)).toEqual(expected(entries));
    for (const p of payloads) {
      expect(p.headers).toEqual({ ...LOGS_HEADERS, 'Content-Encoding': 'gzip' });
      expect(p.contentType).toBe('application/json');
      // Each compressed body sits in memory of its exact size.
      expect(p.body.buffer.byteLength).toBe(p.body.byteLength);
    }
    expect(payloads.reduce((n, p) => n + (p.items ?? 0), 0)).toBe(entries.length);
  });

  it('cuts a batch of large events at PACKED_BATCH_BYTES, the intake limit of events unchanged', () => {
    const entries = Array.from({ length: 900 }, (_, i) => event(i, 'large ', 6000 + (i % 3000)));
    const buffer = new LogBuffer({ codec: gzipCodec() });
    pushAll(buffer, entries);
    const payloads = buffer.drain();
    const want = expected(entries);
    expect(payloads.map(decoded)).toEqual(want);
    for (const body of want) expect(Buffer.byteLength(body)).toBeLessThanOrEqual(PACKED_BATCH_BYTES);
    expect(payloads.length).toBeGreaterThan(1);
  });

  it('never lets a payload see a body buffer written again, over flushes and cuts', () => {
    const codec = gzipCodec();
    const buffer = new LogBuffer({ codec });
    const rounds: { payloads: OutgoingPayload[]; bodies: string[]; want: string[] }[] = [];
    for (let round = 0; round < 4; round++) {
      const entries = Array.from({ length: 1500 + round * 400 }, (_, i) => event(i, `r${round} `, 150 + i));
      pushAll(buffer, entries);
      const payloads = buffer.drain();
      rounds.push({ payloads, bodies: payloads.map(decoded), want: expected(entries) });
    }
    for (const r of rounds) {
      expect(r.bodies).toEqual(r.want);
      // Still the same after everything that was written since.
      expect(r.payloads.map(decoded)).toEqual(r.want);
      for (const p of r.payloads)
        for (const input of codec.inputs) expect(p.body.buffer).not.toBe(input.buffer);
    }
    // The body buffers were reused: far fewer of them than batches were compressed.
    const distinct = new Set(codec.inputs.map((b) => b.buffer));
    expect(codec.inputs.length).toBeGreaterThanOrEqual(8);
    expect(distinct.size).toBeLessThanOrEqual(4);
  });

  it('copies out what a codec returns over its own input', () => {
    const identity: BatchCodec = { encoding: 'identity', compress: (d) => d, decompress: (d) => d };
    const buffer = new LogBuffer({ codec: identity });
    const first = Array.from({ length: 1200 }, (_, i) => event(i, 'a', 300));
    pushAll(buffer, first);
    const out = buffer.drain();
    const snapshot = out.map((p) => Buffer.from(p.body).toString('utf8'));
    pushAll(
      buffer,
      Array.from({ length: 2500 }, (_, i) => event(i, 'b', 300)),
    );
    buffer.drain();
    expect(out.map((p) => Buffer.from(p.body).toString('utf8'))).toEqual(snapshot);
    expect(snapshot).toEqual(expected(first));
  });

  it('keeps a batch as it is when the codec cannot compress yet', () => {
    let ready = false;
    const codec: BatchCodec = {
      encoding: 'gzip',
      compress: (d) => (ready ? gzipSync(d) : undefined),
      decompress: (d) => gunzipSync(d),
    };
    const buffer = new LogBuffer({ codec });
    const entries = Array.from({ length: 2500 }, (_, i) => event(i, 'w', 120));
    pushAll(buffer, entries.slice(0, 1200));
    ready = true;
    pushAll(buffer, entries.slice(1200));
    const payloads = buffer.drain();
    expect(payloads.map((p) => p.headers?.['Content-Encoding'])).toEqual([undefined, 'gzip', 'gzip']);
    expect(payloads.map(decoded)).toEqual(expected(entries));
  });

  it('splits a compressed batch answered 413 into halves of its decoded events', () => {
    const entries = Array.from({ length: 801 }, (_, i) => event(i, 's', 90 + (i % 50)));
    const buffer = new LogBuffer({ codec: gzipCodec() });
    pushAll(buffer, entries);
    const [payload] = buffer.drain();
    const halves = payload!.split!()!;
    expect(halves.map((p) => p.items)).toEqual([400, 401]);
    expect(halves.map(decoded)).toEqual([
      ...expected(entries.slice(0, 400)),
      ...expected(entries.slice(400)),
    ]);
    // The halves go out as any body: the transport compresses them.
    for (const h of halves) expect(h.headers?.['Content-Encoding']).toBeUndefined();
  });

  it('cuts again by other limits at the flush, decoding what it had compressed', () => {
    const entries = Array.from({ length: 2100 }, (_, i) => event(i, i % 3 ? 'a' : 'é', 50 + (i % 40)));
    for (const limits of [{ maxEvents: 7 }, { maxBytes: 1500 }]) {
      const buffer = new LogBuffer({ codec: gzipCodec() });
      pushAll(buffer, entries);
      const want = expected(entries, limits.maxBytes ?? PACKED_BATCH_BYTES, limits.maxEvents);
      expect(buffer.drain(limits).map(decoded)).toEqual(want);
    }
  });

  it('drops and counts a batch it cannot decompress to cut again, and cuts the others', () => {
    const entries = Array.from({ length: 2500 }, (_, i) => event(i, 'a', 60));
    const codec = gzipCodec();
    let decompressions = 0;
    codec.decompress = (data) => {
      if (++decompressions === 2) throw new Error('corrupt');
      return gunzipSync(data);
    };
    const warned: string[] = [];
    const logger = { debug() {}, info() {}, warn: (m: string) => warned.push(m), error() {} };
    const buffer = new LogBuffer({ codec, logger });
    pushAll(buffer, entries);
    const events = buffer.drain({ maxEvents: 7 }).flatMap((p) => JSON.parse(decoded(p)) as { i: number }[]);
    // The second of the three batches (events 1000 to 1999) is the one that failed.
    expect(events.map((e) => e.i)).toEqual([
      ...Array.from({ length: 1000 }, (_, i) => i),
      ...Array.from({ length: 500 }, (_, i) => 2000 + i),
    ]);
    expect(buffer.dropped).toBe(1000);
    expect(warned).toHaveLength(1);
    expect(warned[0]).toContain('dropping its 1000 events');
  });

  it('is what LambdaLogs holds its batches in when given a codec', () => {
    const codec = gzipCodec();
    const logs = new LambdaLogs({ functionArn: 'arn:aws:lambda:us-east-1:1:function:f', codec });
    const record = (i: number) => ({
      time: '2024-05-01T12:00:00.000Z',
      type: 'function',
      record: `2024-05-01T12:00:00.000Z\t6d68ca91-49c9-448d-89b8-7ca3e6dc66aa\tINFO\tline ${i}\n`,
    });
    logs.ingest(Array.from({ length: 1500 }, (_, i) => record(i)));
    expect(codec.calls).toBe(1);
    const payloads = logs.flush();
    expect(payloads.map((p) => p.items)).toEqual([1000, 500]);
    const events = payloads.flatMap((p) => JSON.parse(decoded(p)) as { message: { message: string } }[]);
    expect(events.map((e) => e.message.message.split('\t').at(-1))).toEqual(
      Array.from({ length: 1500 }, (_, i) => `line ${i}`),
    );
  });
});

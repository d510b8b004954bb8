import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BatchLimits,
  buildBatches,
  type EncodedEvent,
  LogBuffer,
  MAX_BATCH_BYTES,
  type OutgoingPayload,
} from '../src/index.js';

// The buffer writes events into their batches' bodies as they arrive, in groups, and cuts the
// batches there; `buildBatches` joins whole strings and cuts after the fact. Both must give the very
// same bytes, batch for batch.

/** An event as the encoder hands it over: small ones whole, large ones (2048+) in pieces. */
function encoded(json: string): EncodedEvent {
  if (json.length < 2048) return { json, bytes: -1, truncated: false };
  // Cut where the encoder's pieces meet: never inside a surrogate pair.
  const cut = (at: number): number => (/[\udc00-\udfff]/.test(json[at]!) ? at + 1 : at);
  const a = cut(json.length >>> 2);
  const b = cut(json.length >>> 1);
  const parts = [json.slice(0, a), json.slice(a, b), json.slice(b)];
  return { json: '', parts, length: json.length, bytes: -1, truncated: false };
}

/** A JSON event whose message is `text` repeated to about `chars` characters. */
function event(i: number, text: string, chars: number): string {
  return JSON.stringify({ message: text.repeat(Math.max(1, Math.ceil(chars / text.length))), i });
}

function bodies(payloads: OutgoingPayload[]): string[] {
  return payloads.map((p) => Buffer.from(p.body).toString('utf8'));
}

function expected(entries: string[], limits?: BatchLimits): string[] {
  return bodies(
    buildBatches(
      entries,
      entries.map((e) => Buffer.byteLength(e)),
      limits,
    ),
  );
}

function pushAll(buffer: LogBuffer, entries: string[]): void {
  for (const e of entries) expect(buffer.push(encoded(e))).toBe(true);
}

describe('LogBuffer batches', () => {
  it('cuts at 1000 events wherever the write groups fall', () => {
    const entries = Array.from({ length: 2500 }, (_, i) => event(i, 'x', i % 300));
    const buffer = new LogBuffer();
    pushAll(buffer, entries);
    const payloads = buffer.drain();
    expect(payloads.map((p) => p.items)).toEqual([1000, 1000, 500]);
    expect(bodies(payloads)).toEqual(expected(entries));
  });

  it('cuts at 5 MiB inside a write group, multi-byte text included', () => {
    // ~1900 characters of three-byte text: ~5.7 KB an event, so 5 MiB fills within a group of 64.
    const entries = Array.from({ length: 2000 }, (_, i) => event(i, '€', 1900 + (i % 7)));
    const buffer = new LogBuffer();
    pushAll(buffer, entries);
    const payloads = buffer.drain();
    expect(payloads.length).toBeGreaterThan(2);
    for (const p of payloads) expect(p.body.byteLength).toBeLessThanOrEqual(MAX_BATCH_BYTES);
    expect(bodies(payloads)).toEqual(expected(entries));
  });

  it('fills a body to exactly 5 MiB with small events, and one byte more starts the next', () => {
    /** A small event (under 2048 characters) of exactly `bytes` UTF-8 bytes. */
    const sized = (bytes: number): string => {
      const text = bytes - 14; // {"message":""}
      const e = JSON.stringify({ message: '€'.repeat(Math.floor(text / 3)) + 'y'.repeat(text % 3) });
      expect(Buffer.byteLength(e)).toBe(bytes);
      expect(e.length).toBeLessThan(2048);
      return e;
    };
    const size = 5700;
    // n events of `size` bytes and one of `rest` bytes, n commas and two brackets: exactly 5 MiB.
    let n = Math.floor((MAX_BATCH_BYTES - 2) / (size + 1));
    if (MAX_BATCH_BYTES - 2 - n * (size + 1) < 100) n--;
    const rest = MAX_BATCH_BYTES - 2 - n * (size + 1);
    expect(n + 1).toBeLessThanOrEqual(1000);
    const same = Array.from({ length: n }, () => sized(size));
    const a = new LogBuffer();
    pushAll(a, [...same, sized(rest)]);
    const [full, ...none] = a.drain();
    expect(none).toHaveLength(0);
    expect(full!.items).toBe(n + 1);
    expect(full!.body.byteLength).toBe(MAX_BATCH_BYTES);

    const over = [...same, sized(rest + 1)];
    const b = new LogBuffer();
    pushAll(b, over);
    const payloads = b.drain();
    expect(payloads.map((p) => p.items)).toEqual([n, 1]);
    expect(bodies(payloads)).toEqual(expected(over));
  });

  it('cuts again by other limits at the flush', () => {
    const entries = Array.from({ length: 1234 }, (_, i) => event(i, i % 3 ? 'a' : 'é', 50 + (i % 40)));
    for (const limits of [{ maxEvents: 7 }, { maxBytes: 1500 }, { maxEvents: 999, maxBytes: 100_000 }]) {
      const buffer = new LogBuffer();
      pushAll(buffer, entries);
      expect(bodies(buffer.drain(limits))).toEqual(expected(entries, limits));
    }
  });

  it('leaves bodies it handed out untouched by the events that follow', () => {
    const buffer = new LogBuffer();
    const first = Array.from({ length: 1500 }, (_, i) => event(i, 'first ', 200));
    pushAll(buffer, first);
    const out1 = buffer.drain();
    const snapshot = bodies(out1);
    for (let round = 0; round < 3; round++) {
      pushAll(
        buffer,
        Array.from({ length: 1700 }, (_, i) => event(i, `round ${round} `, 100 + i)),
      );
      buffer.drain();
    }
    expect(bodies(out1)).toEqual(snapshot);
    expect(snapshot).toEqual(expected(first));
  });

  it('hands out no body that holds much more memory than its bytes', () => {
    const buffer = new LogBuffer();
    pushAll(
      buffer,
      Array.from({ length: 3210 }, (_, i) => event(i, 'z', 300 + (i % 200))),
    );
    for (const p of buffer.drain()) {
      expect(p.body.buffer.byteLength).toBeLessThanOrEqual(Math.max(8192, p.body.byteLength * 1.25));
    }
  });

  it('drops what does not fit in its byte bound once multi-byte text is counted', () => {
    // 500 characters of three-byte text pass the character estimate, then weigh ~1.5 KB each.
    const entries = Array.from({ length: 40 }, (_, i) => event(i, '€', 500));
    const buffer = new LogBuffer({ maxBufferedBytes: 20_000 });
    let accepted = 0;
    for (const e of entries) if (buffer.push(encoded(e))) accepted++;
    const payloads = buffer.drain();
    const kept = payloads.reduce((n, p) => n + (p.items ?? 0), 0);
    expect(kept).toBeLessThan(accepted);
    expect(buffer.dropped).toBe(entries.length - kept);
    expect(bodies(payloads)).toEqual(expected(entries.slice(0, kept)));
    expect(payloads[0]!.body.byteLength).toBeLessThanOrEqual(20_000 + kept + 1);
  });

  it('gives the same bodies as buildBatches for any mix of sizes, text and limits', () => {
    const text = fc.constantFrom('a', 'é', '€', '😀', '\ud83d', 'mixed é€😀 ');
    const entry = fc.record({
      text,
      chars: fc.oneof(fc.integer({ min: 1, max: 600 }), fc.integer({ min: 1500, max: 30_000 })),
    });
    const limits = fc.oneof(
      fc.constant(undefined),
      fc.record({ maxEvents: fc.integer({ min: 1, max: 50 }) }),
      fc.record({ maxBytes: fc.integer({ min: 100, max: 200_000 }) }),
    );
    fc.assert(
      fc.property(
        fc.array(entry, { minLength: 1, maxLength: 300 }),
        limits,
        fc.integer({ min: 1, max: 3 }),
        (spec, lim, flushes) => {
          const entries = spec.map((s, i) => event(i, s.text, s.chars));
          const buffer = new LogBuffer();
          const got: string[] = [];
          const want: string[] = [];
          const step = Math.ceil(entries.length / flushes);
          for (let from = 0; from < entries.length; from += step) {
            const part = entries.slice(from, from + step);
            pushAll(buffer, part);
            got.push(...bodies(buffer.drain(lim)));
            want.push(...expected(part, lim));
          }
          expect(got).toEqual(want);
          expect(buffer.length).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });
});

import { describe, expect, it } from 'vitest';
import {
  buildBatches,
  EventEncoder,
  LambdaLogs,
  type LogRecord,
  MAX_BATCH_BYTES,
  MAX_EVENT_BYTES,
  TRUNCATED_MARKER,
} from '../src/index.js';
import { decodeAll, decodeLogsPayload, MiB } from './helpers/intake-schema.js';
import { ARN, fn } from './helpers/telemetry.js';

const RID = '0b8f1c2e-7a55-4c1b-9a0e-3d2f4e5a6b7c';

function encoder(): EventEncoder {
  return new EventEncoder({
    layout: 'lambda',
    hostname: ARN,
    service: 'svc',
    source: 'lambda',
    tags: 'env:test',
  });
}

function record(message: string): LogRecord {
  return { message, status: 'info', timestamp: 1714564800431, requestId: RID };
}

/** An ASCII message whose encoded event is exactly `bytes` long. */
function messageFor(bytes: number): string {
  const overhead = Buffer.byteLength(encoder().encode(record('')).json);
  return 'x'.repeat(bytes - overhead);
}

function logsWith(messages: string[]): LambdaLogs {
  const logs = new LambdaLogs({ functionArn: ARN, service: 'svc', tags: 'env:test' });
  logs.ingest({ time: '2024-05-01T12:00:00.430Z', type: 'platform.start', record: { requestId: RID } });
  logs.flush(); // the START line
  logs.ingest(messages.map((m) => fn(m, '2024-05-01T12:00:00.431Z')));
  return logs;
}

describe('batching limits, exact at the edges', () => {
  it('puts exactly 1000 events in one payload and the 1001st in the next', () => {
    const thousand = logsWith(Array.from({ length: 1000 }, (_, i) => `line ${i}`)).flush();
    expect(thousand).toHaveLength(1);
    expect(decodeLogsPayload(thousand[0]!)).toHaveLength(1000);

    const more = logsWith(Array.from({ length: 1001 }, (_, i) => `line ${i}`)).flush();
    expect(more.map((p) => p.items)).toEqual([1000, 1]);
    expect(decodeAll(more).map((e) => e.message)).toEqual(
      Array.from({ length: 1001 }, (_, i) => `line ${i}`),
    );
  });

  it('fills a payload to exactly 5 MiB, and one byte more starts a new one', () => {
    const big = messageFor(1_000_000);
    // five 1 000 000-byte events, five commas, two brackets: the sixth event takes the rest
    const rest = MAX_BATCH_BYTES - 5 * 1_000_000 - 5 - 2;
    const exact = logsWith([big, big, big, big, big, messageFor(rest)]).flush();
    expect(exact).toHaveLength(1);
    expect(exact[0]!.body.byteLength).toBe(MAX_BATCH_BYTES);
    expect(decodeLogsPayload(exact[0]!)).toHaveLength(6);

    const over = logsWith([big, big, big, big, big, messageFor(rest + 1)]).flush();
    expect(over.map((p) => p.items)).toEqual([5, 1]);
    expect(over[0]!.body.byteLength).toBe(MAX_BATCH_BYTES - rest - 1);
    for (const p of over) expect(p.body.byteLength).toBeLessThanOrEqual(MAX_BATCH_BYTES);
  });

  it('keeps an event of exactly 1 MiB and truncates one byte more with the Agent marker', () => {
    const exact = messageFor(MAX_EVENT_BYTES);
    const [kept] = decodeAll(logsWith([exact]).flush());
    expect(kept!.message).toBe(exact);

    const logs = logsWith([exact + 'y']);
    const payloads = logs.flush();
    const [cut] = decodeAll(payloads);
    expect(cut!.message.endsWith(TRUNCATED_MARKER)).toBe(true);
    expect(cut!.message.startsWith('xxxx')).toBe(true);
    expect(payloads[0]!.body.byteLength - 2).toBeLessThanOrEqual(MAX_EVENT_BYTES);
    expect(payloads[0]!.body.byteLength - 2).toBeGreaterThan(MAX_EVENT_BYTES - 4);
    expect(cut!.lambda!.request_id).toBe(RID);
    expect(logs.stats().truncated).toBe(1);
  });

  it('truncates multi-byte and escaped text on character boundaries, under the limit', () => {
    const nasty = '€\n"😀\u0001'.repeat(300_000);
    const e = encoder().encode(record(nasty));
    expect(e.truncated).toBe(true);
    expect(e.bytes).toBeLessThanOrEqual(MiB);
    expect(e.bytes).toBeGreaterThan(MiB - 16);
    expect(Buffer.byteLength(e.json)).toBe(e.bytes);
    const parsed = JSON.parse(e.json) as { message: { message: string } };
    expect(parsed.message.message.endsWith(TRUNCATED_MARKER)).toBe(true);
    expect(nasty.startsWith(parsed.message.message.slice(0, -TRUNCATED_MARKER.length))).toBe(true);
    expect(parsed.message.message).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
  });

  it('drops attributes that alone exceed the limit, keeping the message', () => {
    const r = { ...record('short'), attributes: { blob: 'z'.repeat(2 * MiB) } };
    const e = encoder().encode(r);
    expect(e.truncated).toBe(true);
    expect(e.bytes).toBeLessThanOrEqual(MiB);
    expect(JSON.parse(e.json).message.message).toBe('short' + TRUNCATED_MARKER);
  });

  it('splits a payload in two for a 413, down to single events', () => {
    const [p] = logsWith(Array.from({ length: 1000 }, (_, i) => `l${i}`)).flush();
    const halves = p!.split!()!;
    expect(halves.map((h) => h.items)).toEqual([500, 500]);
    expect(
      [...decodeLogsPayload(halves[0]!), ...decodeLogsPayload(halves[1]!)].map((e) => e.message),
    ).toEqual(decodeLogsPayload(p!).map((e) => e.message));
    const [single] = buildBatches(['{"message":"a","status":"info"}'], [31]);
    expect(single!.split!()).toBeUndefined();
  });

  it('bounds the buffer, counts drops, and accepts again after a flush', () => {
    const logs = new LambdaLogs({ functionArn: ARN, maxBufferedEvents: 10 });
    logs.ingest({ time: '2024-05-01T12:00:00.430Z', type: 'platform.start', record: { requestId: RID } });
    logs.ingest(Array.from({ length: 20 }, (_, i) => fn(`line ${i}`)));
    expect(logs.stats()).toMatchObject({ buffered: 10, dropped: 11 });
    expect(decodeAll(logs.flush())).toHaveLength(10);
    logs.ingest(fn('after flush'));
    expect(decodeAll(logs.flush()).map((e) => e.message)).toEqual(['after flush']);

    const byBytes = new LambdaLogs({ functionArn: ARN, maxBufferedBytes: 3 * MiB });
    byBytes.ingest({ time: '2024-05-01T12:00:00.430Z', type: 'platform.start', record: { requestId: RID } });
    byBytes.ingest(Array.from({ length: 5 }, () => fn('q'.repeat(MiB - 1000))));
    // START plus three ~1 MiB events fit in 3 MiB; the last two do not.
    expect(byBytes.stats()).toMatchObject({ buffered: 4, dropped: 2 });
    expect(byBytes.flush()[0]!.body.byteLength).toBeLessThanOrEqual(3 * MiB);
  });
});

describe('prefixFitting', () => {
  it('finds the longest prefix whose escaped UTF-8 fits, for any mix of characters', async () => {
    const { prefixFitting } = await import('../src/encoder.js');
    const alphabet = ['a', 'é', '€', '😀', '\n', '"', '\\', '\u0001', '\ud800', '\udc00', ' '];
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const escaped = (t: string) => Buffer.byteLength(JSON.stringify(t)) - 2;
    for (let round = 0; round < 300; round++) {
      let text = '';
      const len = rand() % 60;
      for (let i = 0; i < len; i++) text += alphabet[rand() % alphabet.length];
      const budget = rand() % 120;
      const n = prefixFitting(text, budget);
      expect(escaped(text.slice(0, n))).toBeLessThanOrEqual(budget);
      if (n < text.length) {
        const next = text.codePointAt(n)! > 0xffff && text.charCodeAt(n + 1) >= 0xdc00 ? n + 2 : n + 1;
        expect(escaped(text.slice(0, next))).toBeGreaterThan(budget);
      }
    }
  });
});

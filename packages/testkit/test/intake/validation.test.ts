import { readFileSync } from 'node:fs';
import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type DatadogIntake, startIntake } from '../../src/index.js';
import { send } from './helpers/http.js';
import { metricPayload } from './helpers/pb.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/intake/${name}`, import.meta.url));

let intake: DatadogIntake;
beforeAll(async () => {
  intake = await startIntake({ apiKeys: ['abcdef0123456789abcdef0123456789', 'second-key-9876543210'] });
});
afterAll(() => intake.stop());
beforeEach(() => intake.clear());

const post = (path: string, body: Uint8Array | string, headers: Record<string, string> = {}) =>
  send(intake.url, path, {
    body,
    headers: { 'dd-api-key': intake.apiKey, 'content-type': 'application/json', ...headers },
  });

describe('Content-Encoding', () => {
  const logs = JSON.stringify([{ message: 'compressed', status: 'info' }]);

  it.each([
    ['gzip', 'gzip', gzipSync],
    ['deflate', 'deflate (zlib format)', deflateSync],
    ['deflate', 'deflate (raw)', deflateRawSync],
  ] as const)('decodes %s: %s', async (encoding, _what, compress) => {
    const res = await post('/api/v2/logs', compress(logs), { 'content-encoding': encoding });
    expect(res.status).toBe(202);
    expect(intake.logs('compressed')).toHaveLength(1);
    const [rec] = intake.requests();
    expect(rec!.decodedBytes).toBe(logs.length);
    expect(rec!.bodyBytes).toBeLessThan(logs.length + 30);
  });

  it('decodes zstd made by the reference zstd tool (level 3 logs, level 19 series)', async () => {
    expect(
      (await post('/api/v2/logs', fixture('logs.json.zst'), { 'content-encoding': 'zstd' })).status,
    ).toBe(202);
    expect(intake.logs()).toEqual(JSON.parse(fixture('logs.json').toString('utf8')));
    expect(
      (await post('/api/v2/series', fixture('series.json.zst'), { 'content-encoding': 'zstd' })).status,
    ).toBe(202);
    expect(intake.metrics()).toHaveLength(200);
  });

  it('decodes a zstd body of two frames', async () => {
    // Two frames concatenated decode to the two documents back to back: not valid JSON.
    const res = await post('/api/v2/logs', fixture('two-frames.zst'), { 'content-encoding': 'zstd' });
    expect(res.status).toBe(400);
    const body = intake.requests()[0]!.body;
    expect(body.length).toBe(fixture('logs.json').length + fixture('series.json').length);
  });

  it('decodes a zstd frame built by hand from raw and RLE blocks', async () => {
    // RFC 8878: magic, frame header (single segment, 1-byte content size 66), then blocks with a
    // 3-byte little-endian header (bit 0 last, bits 1-2 type 0 raw / 1 RLE, bits 3+ size).
    const frame = Buffer.concat([
      Buffer.from('28b52ffd', 'hex'),
      Buffer.from([0x20, 66]),
      Buffer.from([0x68, 0x00, 0x00]), // raw, 13 bytes
      Buffer.from('[{"message":"'),
      Buffer.from([0x92, 0x01, 0x00]), // RLE, 50 bytes of the next byte
      Buffer.from('a'),
      Buffer.from([0x19, 0x00, 0x00]), // raw, last, 3 bytes
      Buffer.from('"}]'),
    ]);
    const res = await post('/api/v2/logs', frame, { 'content-encoding': 'zstd' });
    expect(res.status).toBe(202);
    expect(intake.logs()).toEqual([{ message: 'a'.repeat(50) }]);
  });

  it.each(['gzip', 'deflate', 'zstd'])('refuses a corrupt %s body with 400', async (encoding) => {
    const res = await post('/api/v2/logs', Buffer.from('definitely not compressed'), {
      'content-encoding': encoding,
    });
    expect(res.status).toBe(400);
    expect(res.json()).toEqual({ errors: [expect.stringContaining(`invalid ${encoding} body`)] });
  });

  it('refuses a truncated zstd body', async () => {
    const zst = fixture('logs.json.zst');
    const res = await post('/api/v2/logs', zst.subarray(0, zst.length - 100), { 'content-encoding': 'zstd' });
    expect(res.status).toBe(400);
  });

  it('refuses an unknown encoding with 415', async () => {
    const res = await post('/api/v2/logs', logs, { 'content-encoding': 'br' });
    expect(res.status).toBe(415);
  });
});

describe('API key', () => {
  it('refuses a missing key with 403 on metrics, traces and stats, 401 on logs', async () => {
    for (const path of ['/api/v2/series', '/api/beta/sketches', '/api/v0.2/traces', '/api/v0.2/stats']) {
      const res = await send(intake.url, path, { body: '{}' });
      expect(res.status, path).toBe(403);
    }
    const logs = await send(intake.url, '/api/v2/logs', { body: '[]' });
    expect(logs.status).toBe(401);
  });

  it('refuses a wrong key with 403 everywhere', async () => {
    for (const path of ['/api/v2/series', '/api/v2/logs', '/api/v1/check_run', '/intake/']) {
      const res = await post(path, '{}', { 'dd-api-key': 'not-a-valid-key-000' });
      expect(res.status, path).toBe(403);
      expect(res.json()).toEqual({ errors: ['Forbidden'] });
    }
    expect(intake.logs()).toEqual([]);
  });

  it('accepts each configured key, and the api_key query parameter', async () => {
    expect((await post('/api/v2/logs', '[]', { 'dd-api-key': 'second-key-9876543210' })).status).toBe(202);
    const q = await send(intake.url, '/api/v2/logs?api_key=second-key-9876543210', {
      body: '[]',
      headers: { 'content-type': 'application/json' },
    });
    expect(q.status).toBe(202);
  });

  it('never records the key in clear', async () => {
    await post('/api/v2/logs', '[]', {
      'dd-api-key': 'second-key-9876543210',
      'dd-application-key': 'app-key-abcdefghijk',
    });
    await send(intake.url, '/api/v2/logs?api_key=second-key-9876543210', { body: '[]' });
    const recs = intake.requests();
    expect(recs[0]!.headers['dd-api-key']).toBe('***43210');
    expect(recs[0]!.headers['dd-application-key']).toBe('***ghijk');
    expect(recs[0]!.apiKey).toEqual({ present: true, accepted: true, redacted: '***43210' });
    expect(recs[1]!.url).toBe('/api/v2/logs?api_key=***43210');
    const printed = JSON.stringify(recs.map(({ body: _b, ...r }) => r));
    expect(printed).not.toContain('second-key-9876543210');
    expect(printed).not.toContain('app-key-abcdefghijk');
    expect(intake.summary()).not.toContain('9876543210');
  });

  it('follows a key rotation', async () => {
    intake.setApiKeys(['rotated-key-aaaaaaaaaa']);
    try {
      expect(
        (await post('/api/v2/logs', '[]', { 'dd-api-key': 'abcdef0123456789abcdef0123456789' })).status,
      ).toBe(403);
      expect((await post('/api/v2/logs', '[]', { 'dd-api-key': 'rotated-key-aaaaaaaaaa' })).status).toBe(202);
    } finally {
      intake.setApiKeys(['abcdef0123456789abcdef0123456789', 'second-key-9876543210']);
    }
  });
});

describe('payload limits', () => {
  it('refuses series over 512 000 compressed bytes with 413', async () => {
    const res = await post('/api/v2/series', Buffer.alloc(512_001, 0x20));
    expect(res.status).toBe(413);
    expect((await post('/api/v2/series', `{"series":[]}${' '.repeat(512_000 - 13)}`)).status).toBe(202);
  });

  it('refuses series that decompress past 5 242 880 bytes with 413 (a small gzip bomb)', async () => {
    const json = `{"series":[]}${' '.repeat(5_242_880 - 12)}`;
    const gz = gzipSync(json);
    expect(gz.length).toBeLessThan(512_000);
    const res = await post('/api/v2/series', gz, { 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    const fits = gzipSync(json.slice(0, -1));
    expect((await post('/api/v2/series', fits, { 'content-encoding': 'gzip' })).status).toBe(202);
  });

  it('refuses a zstd body that decompresses past the limit with 413', async () => {
    // logs.json.zst inflates to ~175 kB; a small logs limit proves the zstd cap.
    const small = await startIntake({ limits: { logs: { decompressed: 100_000 } }, apiKeys: 'any' });
    try {
      const res = await send(small.url, '/api/v2/logs', {
        body: fixture('logs.json.zst'),
        headers: { 'dd-api-key': 'k', 'content-type': 'application/json', 'content-encoding': 'zstd' },
      });
      expect(res.status).toBe(413);
    } finally {
      await small.stop();
    }
  });

  it('refuses logs over 5 MB with 413', async () => {
    const entry = JSON.stringify({ message: 'x'.repeat(1000) });
    const body = `[${Array(5300).fill(entry).join(',')}]`;
    expect(body.length).toBeGreaterThan(5 * 1024 * 1024);
    expect((await post('/api/v2/logs', body)).status).toBe(413);
  });

  it('refuses more than 1000 logs in one array with 400 and takes exactly 1000', async () => {
    const many = (n: number) => JSON.stringify(Array.from({ length: n }, (_, i) => ({ message: `m${i}` })));
    const res = await post('/api/v2/logs', many(1001));
    expect(res.status).toBe(400);
    expect(res.text).toContain('1001 logs in one array');
    expect(intake.logs()).toEqual([]);
    expect((await post('/api/v2/logs', many(1000))).status).toBe(202);
    expect(intake.logs()).toHaveLength(1000);
  });

  it('refuses traces over 3 200 000 bytes with 413', async () => {
    const res = await post('/api/v0.2/traces', Buffer.alloc(3_200_001), {
      'content-type': 'application/x-protobuf',
    });
    expect(res.status).toBe(413);
  });

  it('takes custom limits', async () => {
    const tiny = await startIntake({ limits: { series: { compressed: 10 } } });
    try {
      const res = await send(tiny.url, '/api/v2/series', {
        body: '{"series":[]}',
        headers: { 'dd-api-key': tiny.apiKey, 'content-type': 'application/json' },
      });
      expect(res.status).toBe(413);
    } finally {
      await tiny.stop();
    }
  });
});

describe('malformed bodies', () => {
  it.each([
    ['/api/v2/series', '{"series":'],
    ['/api/v2/series', '{"series":{}}'],
    ['/api/v2/series', '{"series":[{"metric":"m","points":[{"timestamp":"now","value":1}]}]}'],
    ['/api/v2/logs', '[1,2]'],
    ['/api/v2/logs', '"just a string"'],
    ['/api/v1/check_run', '{"check":"not an array"}'],
    ['/intake/', '{"events":[]}'],
  ])('%s refuses %s with 400', async (path, body) => {
    const res = await post(path, body);
    expect(res.status).toBe(400);
    expect(intake.requests()[0]!.error).toBeTruthy();
  });

  it('refuses invalid UTF-8 with 400', async () => {
    const res = await post('/api/v2/logs', Buffer.from([0x5b, 0x22, 0xff, 0xfe, 0x22, 0x5d]));
    expect(res.status).toBe(400);
  });

  it('refuses protobuf with a wrong wire type with 400', async () => {
    // field 2 (metric) of MetricSeries sent as a varint instead of length-delimited
    const res = await post('/api/v2/series', Buffer.from([0x0a, 0x02, 0x10, 0x01]), {
      'content-type': 'application/x-protobuf',
    });
    expect(res.status).toBe(400);
    expect(res.text).toContain('MetricSeries.metric (field 2): unexpected wire type 0');
  });

  it('refuses a wrong method with 405', async () => {
    const res = await send(intake.url, '/api/v2/series', {
      method: 'GET',
      headers: { 'dd-api-key': intake.apiKey },
    });
    expect(res.status).toBe(405);
  });

  it('refuses a series Content-Type it does not speak with 415', async () => {
    const res = await post('/api/v2/series', metricPayload([]), { 'content-type': 'text/csv' });
    expect(res.status).toBe(415);
  });
});

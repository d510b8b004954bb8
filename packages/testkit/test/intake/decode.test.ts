import { gzipSync } from 'node:zlib';
import { pack } from 'msgpackr';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type DatadogIntake, startIntake } from '../../src/index.js';
import { send } from './helpers/http.js';
import { agentPayload, bytes, f, metricPayload, sketchPayload } from './helpers/pb.js';

let intake: DatadogIntake;
const NOW = 1_700_000_000;

beforeAll(async () => {
  intake = await startIntake({ now: () => NOW * 1000 + 5000 });
});
afterAll(() => intake.stop());
beforeEach(() => intake.clear());

const hex = (...parts: string[]): Uint8Array => Buffer.from(parts.join('').replace(/ /g, ''), 'hex');

const post = (path: string, body: Uint8Array | string, headers: Record<string, string> = {}) =>
  send(intake.url, path, { body, headers: { 'dd-api-key': intake.apiKey, ...headers } });

describe('series /api/v2/series', () => {
  it('decodes a protobuf MetricPayload worked out byte by byte from the field numbers', async () => {
    // MetricPayload{ series(1): MetricSeries{ metric(2):"a", points(4): MetricPoint{ value(1): 1.0,
    //   timestamp(2): 1700000000 }, type(5): GAUGE=3 } }
    // 1700000000 = 0x6553F100 → varint 80 E2 CF AA 06; 1.0 as little-endian double = 00..F0 3F.
    const hand = hex(
      '0a 16', // field 1 (series), length-delimited, 22 bytes
      '12 01 61', // field 2 (metric) "a"
      '22 0f', // field 4 (points), 15 bytes
      '09 00 00 00 00 00 00 f0 3f', // field 1 (value) double 1.0
      '10 80 e2 cf aa 06', // field 2 (timestamp) varint 1700000000
      '28 03', // field 5 (type) varint 3 = GAUGE
    );
    const res = await post('/api/v2/series', hand, { 'content-type': 'application/x-protobuf' });
    expect(res.status).toBe(202);
    expect(res.json()).toEqual({ errors: [] });
    expect(intake.metrics()).toMatchObject([
      { metric: 'a', type: 'gauge', typeCode: 3, value: 1, timestamp: 1_700_000_000, format: 'protobuf' },
    ]);
  });

  it('decodes protobuf series with resources, tags, interval, origin and points in Agent field order', async () => {
    const body = metricPayload([
      {
        metric: 'aws.lambda.enhanced.invocations',
        type: 1,
        interval: 10,
        tags: ['functionname:f', 'region:us-east-1'],
        resources: [{ type: 'host', name: 'h1' }],
        points: [
          { timestamp: NOW, value: 3 },
          { timestamp: NOW + 10, value: 0.25 },
        ],
      },
    ]);
    expect((await post('/api/v2/series', body, { 'content-type': 'application/x-protobuf' })).status).toBe(
      202,
    );
    const points = intake.metrics('aws.lambda.enhanced.invocations');
    expect(points).toHaveLength(2);
    expect(points[1]).toMatchObject({
      type: 'count',
      interval: 10,
      value: 0.25,
      timestamp: NOW + 10,
      host: 'h1',
      tags: ['functionname:f', 'region:us-east-1'],
      origin: { origin_product: 10, origin_category: 10, origin_service: 0 },
      outOfRange: false,
    });
  });

  it('decodes JSON series and flags points outside the accepted time window', async () => {
    const body = JSON.stringify({
      series: [
        {
          metric: 'my.gauge',
          type: 3,
          points: [
            { timestamp: NOW, value: 1.5 },
            { timestamp: NOW + 3600, value: 2 },
          ],
          tags: ['env:test'],
          resources: [{ type: 'host', name: 'h' }],
        },
      ],
    });
    const res = await post('/api/v2/series', body, { 'content-type': 'application/json' });
    expect(res.status).toBe(202);
    const [a, b] = intake.metrics('my.gauge');
    expect(a).toMatchObject({ value: 1.5, type: 'gauge', format: 'json', outOfRange: false, host: 'h' });
    expect(b).toMatchObject({ value: 2, outOfRange: true });
  });

  it('refuses a JSON series whose type is outside the enum', async () => {
    const body = JSON.stringify({
      series: [{ metric: 'x', type: 7, points: [{ timestamp: NOW, value: 1 }] }],
    });
    const res = await post('/api/v2/series', body, { 'content-type': 'application/json' });
    expect(res.status).toBe(400);
    expect(intake.metrics()).toEqual([]);
  });
});

describe('legacy series /api/v1/series', () => {
  it('decodes [[timestamp, value]] points and the type name', async () => {
    const body = JSON.stringify({
      series: [
        { metric: 'v1.g', points: [[NOW, 2]], type: 'gauge', host: 'h', tags: ['a:b'] },
        { metric: 'v1.r', points: [[NOW, 0.5]], type: 'rate', interval: 10 },
      ],
    });
    const res = await post('/api/v1/series', body, { 'content-type': 'application/json' });
    expect(res.status).toBe(202);
    expect(intake.metrics()).toMatchObject([
      { metric: 'v1.g', type: 'gauge', value: 2, host: 'h', tags: ['a:b'] },
      { metric: 'v1.r', type: 'rate', value: 0.5, interval: 10 },
    ]);
  });
});

describe('sketches /api/beta/sketches', () => {
  it('decodes a hand-built SketchPayload: key 1338 is the value 1', async () => {
    // Dogsketch k = [1338] → zigzag 2676 → varint F4 14; n = [1].
    const dogsketch = [
      ...f.varint(1, NOW),
      ...f.varint(2, 1),
      ...f.double(3, 1),
      ...f.double(4, 1),
      ...f.double(5, 1),
      ...f.double(6, 1),
      ...hex(
        '3a 02 f4 14', // field 7 (k) packed sint32 [1338]
        '42 01 01', // field 8 (n) packed uint32 [1]
      ),
    ];
    const body = bytes(f.message(1, f.string(1, 'lat'), f.string(4, 'env:x'), f.message(7, dogsketch)));
    const res = await post('/api/beta/sketches', body, { 'content-type': 'application/x-protobuf' });
    expect(res.status).toBe(202);
    const [d] = intake.distributions('lat');
    expect(d).toMatchObject({
      metric: 'lat',
      ts: NOW,
      count: 1,
      sum: 1,
      min: 1,
      max: 1,
      k: [1338],
      n: [1],
      tags: ['env:x'],
    });
    expect(d!.p50).toBe(1);
    expect(d!.problems).toEqual([]);
  });

  it('reports bins that break the agent sketch invariants', async () => {
    const body = sketchPayload([
      {
        metric: 'bad',
        dogsketches: [{ ts: NOW, cnt: 5, min: 1, max: 2, sum: 7, avg: 1.4, k: [1340, 1338], n: [1, 1] }],
      },
    ]);
    expect(
      (await post('/api/beta/sketches', body, { 'content-type': 'application/x-protobuf' })).status,
    ).toBe(202);
    expect(intake.distributions('bad')[0]!.problems).toEqual(['keys are not sorted ascending at index 1']);
  });

  it('refuses a sketch whose k and n differ in length', async () => {
    const body = sketchPayload([
      {
        metric: 'bad',
        dogsketches: [{ ts: NOW, cnt: 1, min: 1, max: 1, sum: 1, avg: 1, k: [1338, 1339], n: [1] }],
      },
    ]);
    const res = await post('/api/beta/sketches', body, { 'content-type': 'application/x-protobuf' });
    expect(res.status).toBe(400);
    expect(res.text).toContain('2 keys but 1 counts');
  });

  it('takes protobuf only', async () => {
    const res = await post('/api/beta/sketches', '{}', { 'content-type': 'application/json' });
    expect(res.status).toBe(415);
  });
});

describe('check_run and events', () => {
  it('decodes service checks', async () => {
    const body = JSON.stringify([
      { check: 'datadog.agent.up', host_name: 'h', timestamp: NOW, status: 0, message: '', tags: ['a:b'] },
      { check: 'app.ok', host_name: 'h', timestamp: NOW, status: 2, message: 'down' },
    ]);
    const res = await post('/api/v1/check_run', body, { 'content-type': 'application/json' });
    expect(res.status).toBe(202);
    expect(intake.checks()).toMatchObject([
      { check: 'datadog.agent.up', status: 0, tags: ['a:b'] },
      { check: 'app.ok', status: 2, message: 'down', tags: [] },
    ]);
  });

  it('refuses a check with a status outside 0..3', async () => {
    const res = await post('/api/v1/check_run', JSON.stringify([{ check: 'x', status: 4 }]), {
      'content-type': 'application/json',
    });
    expect(res.status).toBe(400);
  });

  it('decodes a public API event', async () => {
    const body = JSON.stringify({
      title: 'Deploy',
      text: 'v2',
      date_happened: NOW,
      alert_type: 'info',
      tags: ['x:y'],
    });
    const res = await post('/api/v1/events', body, { 'content-type': 'application/json' });
    expect(res.status).toBe(202);
    expect(res.json()).toMatchObject({ status: 'ok', event: { title: 'Deploy' } });
    expect(intake.events('Deploy')).toMatchObject([
      { text: 'v2', timestamp: NOW, alertType: 'info', format: 'api' },
    ]);
  });

  it('decodes the Agent /intake/ events payload', async () => {
    const body = JSON.stringify({
      apiKey: '',
      internalHostname: 'h',
      events: {
        api: [{ msg_title: 't1', msg_text: 'x', timestamp: NOW, priority: 'low', alert_type: 'error' }],
        nagios: [{ msg_title: 't2', msg_text: 'y', aggregation_key: 'k' }],
      },
    });
    const res = await post('/intake/', body, { 'content-type': 'application/json' });
    expect(res.status).toBe(202);
    expect(intake.events()).toMatchObject([
      { title: 't1', priority: 'low', alertType: 'error', sourceTypeName: 'api', format: 'intake' },
      { title: 't2', aggregationKey: 'k', sourceTypeName: 'nagios' },
    ]);
  });

  it('refuses an event without a title', async () => {
    expect((await post('/api/v1/events', JSON.stringify({ text: 'x' }))).status).toBe(400);
  });
});

describe('logs /api/v2/logs', () => {
  it('decodes the extension log shape', async () => {
    const entry = {
      message: {
        message: 'hello',
        lambda: { arn: 'arn:aws:lambda:us-east-1:1:function:f', request_id: 'r1' },
        timestamp: NOW * 1000,
        status: 'info',
      },
      hostname: 'arn:aws:lambda:us-east-1:1:function:f',
      service: 'svc',
      ddtags: 'env:test',
      ddsource: 'lambda',
    };
    const res = await post('/api/v2/logs', JSON.stringify([entry, { message: 'plain', status: 'error' }]), {
      'content-type': 'application/json',
      'dd-protocol': 'agent-json',
    });
    expect(res.status).toBe(202);
    expect(intake.logs()).toHaveLength(2);
    expect(intake.logs('hello')).toEqual([entry]);
    expect(intake.logs('plain')[0]).toMatchObject({ status: 'error' });
    expect(intake.requests({ kind: 'logs' })[0]!.headers['dd-protocol']).toBe('agent-json');
  });

  it('takes text/plain as one log per line', async () => {
    const res = await post('/api/v2/logs', 'one\ntwo\n', { 'content-type': 'text/plain' });
    expect(res.status).toBe(202);
    expect(intake.logs().map((l) => l['message'])).toEqual(['one', 'two']);
  });

  it('marks an entry over 1 MB as truncated but accepts it', async () => {
    const big = { message: 'x'.repeat(1024 * 1024 + 10) };
    const res = await post('/api/v2/logs', JSON.stringify([big]), { 'content-type': 'application/json' });
    expect(res.status).toBe(202);
    expect(intake.logs()[0]!.$truncated).toBe(true);
  });
});

describe('traces /api/v0.2/traces', () => {
  it('decodes an AgentPayload with exact 64-bit ids and nanosecond times', async () => {
    const traceID = 0xfedcba9876543210n; // above 2^63: must survive as unsigned
    const body = agentPayload({
      env: 'prod',
      tracerPayloads: [
        {
          languageName: 'nodejs',
          tracerVersion: '5.0.0',
          chunks: [
            {
              priority: 1,
              spans: [
                {
                  service: 'svc',
                  name: 'aws.lambda',
                  resource: 'f',
                  traceID,
                  spanID: 9_007_199_254_740_993n, // 2^53 + 1: not representable as a double
                  parentID: 0n,
                  start: 1_700_000_000_123_456_789n,
                  duration: 1_500_000n,
                  error: 1,
                  meta: { request_id: 'r1', '_dd.p.tid': '6553f10000000000' },
                  metrics: { _top_level: 1, _sampling_priority_v1: 1 },
                  type: 'serverless',
                },
              ],
            },
            { priority: -1, spans: [] },
          ],
        },
      ],
    });
    const res = await post('/api/v0.2/traces', body, { 'content-type': 'application/x-protobuf' });
    expect(res.status).toBe(202);
    const [s] = intake.spans('aws.lambda');
    expect(s).toMatchObject({
      service: 'svc',
      traceID,
      spanID: 9_007_199_254_740_993n,
      parentID: 0n,
      start: 1_700_000_000_123_456_789n,
      duration: 1_500_000n,
      error: 1,
      type: 'serverless',
      meta: { request_id: 'r1', '_dd.p.tid': '6553f10000000000' },
      metrics: { _top_level: 1, _sampling_priority_v1: 1 },
      chunk: { priority: 1 },
      tracer: { languageName: 'nodejs', tracerVersion: '5.0.0' },
      agent: { env: 'prod', agentVersion: '0.1.0', targetTPS: 60, errorTPS: 60 },
    });
    const payload = intake.agentPayloads()[0]!;
    const chunks = (payload['tracerPayloads'] as { chunks: { priority: number }[] }[])[0]!.chunks;
    expect(chunks.map((c) => c.priority)).toEqual([1, -1]);
  });

  it('refuses a truncated protobuf body', async () => {
    const body = agentPayload({ tracerPayloads: [{ chunks: [{ priority: 1, spans: [] }] }] });
    const res = await post('/api/v0.2/traces', body.subarray(0, body.length - 3), {
      'content-type': 'application/x-protobuf',
    });
    expect(res.status).toBe(400);
    expect(res.text).toContain('malformed protobuf AgentPayload');
  });
});

describe('stats /api/v0.2/stats', () => {
  it('decodes a msgpack StatsPayload with DDSketch summaries', async () => {
    // DDSketch{ mapping{gamma 1.02, indexOffset 0}, positiveValues{ binCounts {100: 3} }, zeroCount 1 }
    const sketch = bytes(
      f.message(1, f.double(1, 1.02), f.double(2, 0)),
      f.message(2, f.mapEntry(1, f.sint32(1, 100), f.double(2, 3))),
      f.double(4, 1),
    );
    const payload = {
      AgentHostname: '',
      AgentEnv: 'prod',
      AgentVersion: '0.1.0',
      ClientComputed: true,
      SplitPayload: false,
      Stats: [
        {
          Hostname: '',
          Env: 'prod',
          Version: '1',
          Lang: 'nodejs',
          Sequence: 1,
          Service: 'svc',
          Stats: [
            {
              Start: 1_700_000_000_000_000_000n,
              Duration: 10_000_000_000,
              Stats: [
                {
                  Service: 'svc',
                  Name: 'aws.lambda',
                  Resource: 'GET /',
                  HTTPStatusCode: 200,
                  Type: 'serverless',
                  Hits: 4,
                  Errors: 0,
                  Duration: 4000,
                  OkSummary: sketch,
                  ErrorSummary: new Uint8Array(0),
                  TopLevelHits: 4,
                  IsTraceRoot: 1,
                },
              ],
            },
          ],
        },
      ],
    };
    const ok = await post('/api/v0.2/stats', gzipSync(pack(payload)), {
      'content-type': 'application/msgpack',
      'content-encoding': 'gzip',
    });
    expect(ok.status).toBe(202);
    const [st] = intake.stats('GET /');
    expect(st).toMatchObject({
      group: { Name: 'aws.lambda', Hits: 4, HTTPStatusCode: 200 },
      bucket: { Start: 1_700_000_000_000_000_000n, Duration: 10_000_000_000 },
      client: { Env: 'prod', Lang: 'nodejs', Service: 'svc' },
      agent: { AgentEnv: 'prod', ClientComputed: true },
      errorSketch: undefined,
    });
    expect(st!.okSketch).toMatchObject({ gamma: 1.02, zeroCount: 1, count: 4 });
    expect(st!.okSketch!.positive.get(100)).toBe(3);
  });

  it('decodes msgpack written byte by byte (Go msgp style: uint64 as 0xcf, summaries as bin)', async () => {
    const str = (t: string) => [0xa0 | t.length, ...Buffer.from(t)]; // fixstr (< 32 bytes)
    const map = (...kv: number[][]) => [0x80 | (kv.length / 2), ...kv.flat()]; // fixmap
    const arr = (...items: number[][]) => [0x90 | items.length, ...items.flat()]; // fixarray
    const u64 = (v: bigint) => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64BE(v);
      return [0xcf, ...b];
    };
    const bin = (b: number[]) => [0xc4, b.length, ...b]; // bin 8
    expect(Buffer.from(map(str('Stats'), arr())).toString('hex')).toBe('81a5537461747390');
    const group = map(
      str('Name'),
      str('n'),
      str('Resource'),
      str('r'),
      str('Hits'),
      [0x05],
      str('OkSummary'),
      bin([]),
    );
    const bucket = map(
      str('Start'),
      u64(1_700_000_000_000_000_000n),
      str('Duration'),
      u64(10_000_000_000n),
      str('Stats'),
      arr(group),
    );
    const body = Uint8Array.from(
      map(str('AgentEnv'), str('e'), str('Stats'), arr(map(str('Env'), str('e'), str('Stats'), arr(bucket)))),
    );
    const res = await post('/api/v0.2/stats', body, { 'content-type': 'application/msgpack' });
    expect(res.status).toBe(202);
    expect(intake.stats()).toMatchObject([
      {
        group: { Name: 'n', Resource: 'r', Hits: 5 },
        bucket: { Start: 1_700_000_000_000_000_000n, Duration: 10_000_000_000 },
        client: { Env: 'e' },
        agent: { AgentEnv: 'e', ClientComputed: false },
        okSketch: undefined,
      },
    ]);
  });

  it('refuses a body that is not a StatsPayload', async () => {
    const res = await post('/api/v0.2/stats', pack([1, 2]), { 'content-type': 'application/msgpack' });
    expect(res.status).toBe(400);
  });
});

describe('validate and unknown paths', () => {
  it('answers /api/v1/validate', async () => {
    const ok = await send(intake.url, '/api/v1/validate', {
      method: 'GET',
      headers: { 'dd-api-key': intake.apiKey },
    });
    expect(ok.status).toBe(200);
    expect(ok.json()).toEqual({ valid: true });
    const bad = await send(intake.url, '/api/v1/validate', {
      method: 'GET',
      headers: { 'dd-api-key': 'nope' },
    });
    expect(bad.status).toBe(403);
    expect(bad.json()).toEqual({ errors: ['Forbidden'] });
  });

  it('answers 404 for a path it does not serve, and records it', async () => {
    const res = await post('/api/v9/nothing', '{}');
    expect(res.status).toBe(404);
    expect(intake.requests()).toMatchObject([{ path: '/api/v9/nothing', status: 404, kind: undefined }]);
  });
});

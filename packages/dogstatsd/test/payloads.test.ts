import fc from 'fast-check';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import {
  AgentSketch,
  Aggregator,
  buildEventPayloads,
  buildSeriesPayloads,
  buildServiceCheckPayloads,
  buildSketchPayloads,
  encodeSketch,
  flushPayloads,
  type OutgoingPayload,
  type Serie,
  SeriesPayloadBuilder,
  type SketchEntry,
  warmUpPayloads,
} from '../src/index.js';

// The intake's schema, written here from agent_payload.proto (wire-protocols B.3), independently
// of the encoder's own declaration.
const schema = protobuf.parse(
  `
syntax = "proto3";
package datadog.agentpayload;
message CommonMetadata { string agent_version = 1; string timezone = 2; double current_epoch = 3;
  string internal_ip = 4; string public_ip = 5; string api_key = 6; }
message Origin { uint32 origin_product = 4; uint32 origin_category = 5; uint32 origin_service = 6; }
message Metadata { Origin origin = 1; }
message SketchPayload {
  message Sketch {
    message Distribution { int64 ts = 1; int64 cnt = 2; double min = 3; double max = 4; double avg = 5;
      double sum = 6; repeated double v = 7; repeated uint32 g = 8; repeated uint32 delta = 9; repeated double buf = 10; }
    message Dogsketch { int64 ts = 1; int64 cnt = 2; double min = 3; double max = 4; double avg = 5;
      double sum = 6; repeated sint32 k = 7; repeated uint32 n = 8; }
    string metric = 1; string host = 2; repeated Distribution distributions = 3; repeated string tags = 4;
    reserved 5, 6; repeated Dogsketch dogsketches = 7; Metadata metadata = 8;
  }
  repeated Sketch sketches = 1;
  CommonMetadata metadata = 2;
}
`,
  { keepCase: true },
).root;
const SketchPayload = schema.lookupType('datadog.agentpayload.SketchPayload');

interface DecodedSketch {
  metric: string;
  host: string;
  tags: string[];
  distributions: unknown[];
  dogsketches: Record<string, unknown>[];
  metadata?: unknown;
}

function decodeSketches(p: OutgoingPayload): { sketches: DecodedSketch[] } {
  const decoded = SketchPayload.toObject(SketchPayload.decode(p.body), { longs: Number, defaults: true });
  return decoded as { sketches: DecodedSketch[] };
}

function sketchEntry(metric: string, values: number[], extra: Partial<SketchEntry> = {}): SketchEntry {
  const sketch = new AgentSketch();
  for (const v of values) sketch.insert(v);
  return { metric, host: '', tags: ['a:b', 'env:prod'], ts: 1_700_000_000, sketch, ...extra };
}

describe('/api/beta/sketches payload (protobuf SketchPayload)', () => {
  it('decodes with the spec schema: one Dogsketch per Sketch, keys zig-zag, bins sorted', () => {
    const [p] = buildSketchPayloads([
      sketchEntry('lat', [1, 100, 100, -0.5, 0]),
      sketchEntry('x', [2], { origin: { product: 1, category: 38, service: 472 }, host: 'h' }),
    ]);
    expect(p!.kind).toBe('sketches');
    expect(p!.contentType).toBe('application/x-protobuf');
    expect(p!.items).toBe(2);
    const decoded = decodeSketches(p!);
    expect(decoded['sketches']).toHaveLength(2);
    const [lat, x] = decoded['sketches'] as [DecodedSketch, DecodedSketch];
    expect(lat).toMatchObject({ metric: 'lat', host: '', tags: ['a:b', 'env:prod'], distributions: [] });
    expect(lat.dogsketches).toEqual([
      {
        ts: 1_700_000_000,
        cnt: 5,
        min: -0.5,
        max: 100,
        avg: 40.1,
        sum: 200.5,
        k: [-1293, 0, 1338, 1635],
        n: [1, 1, 1, 2],
      },
    ]);
    expect(x.host).toBe('h');
    expect(x.metadata).toEqual({ origin: { origin_product: 1, origin_category: 38, origin_service: 472 } });
  });

  it('writes each Sketch as the spec schema decodes it, and as protobufjs wrote it from a schema before', () => {
    const Sketch = schema.lookupType('datadog.agentpayload.SketchPayload.Sketch');
    // The previous encoder: protobufjs's reflection over this descriptor (the bytes the intake got
    // until now).
    const dogsketch = {
      ts: { type: 'int64', id: 1 },
      cnt: { type: 'int64', id: 2 },
      min: { type: 'double', id: 3 },
      max: { type: 'double', id: 4 },
      avg: { type: 'double', id: 5 },
      sum: { type: 'double', id: 6 },
      k: { rule: 'repeated', type: 'sint32', id: 7, options: { packed: true } },
      n: { rule: 'repeated', type: 'uint32', id: 8, options: { packed: true } },
    };
    const Previous = protobuf.Root.fromJSON({
      nested: {
        Origin: {
          fields: {
            originProduct: { type: 'uint32', id: 4 },
            originCategory: { type: 'uint32', id: 5 },
            originService: { type: 'uint32', id: 6 },
          },
        },
        Metadata: { fields: { origin: { type: 'Origin', id: 1 } } },
        Dogsketch: { fields: dogsketch },
        Sketch: {
          fields: {
            metric: { type: 'string', id: 1 },
            host: { type: 'string', id: 2 },
            tags: { rule: 'repeated', type: 'string', id: 4 },
            dogsketches: { rule: 'repeated', type: 'Dogsketch', id: 7 },
            metadata: { type: 'Metadata', id: 8 },
          },
        },
      },
    }).lookupType('Sketch');
    const value = fc.oneof(
      fc.double({ min: -1e12, max: 1e12, noNaN: true }),
      fc.integer({ min: -1000, max: 1000 }),
      fc.constantFrom(0, -0),
    );
    const origin = fc.record({ product: fc.nat(3), category: fc.nat(1000), service: fc.nat(100_000) });
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 40 }),
        fc.string({ maxLength: 20 }),
        fc.array(fc.string({ unit: 'grapheme', maxLength: 30 }), { maxLength: 6 }),
        fc.array(value, { maxLength: 40 }),
        fc.option(origin, { nil: undefined }),
        fc.integer({ min: 0, max: 2 ** 40 }),
        (metric, host, tags, values, o, ts) => {
          const entry = sketchEntry(metric, values, { host, tags, ts, ...(o ? { origin: o } : {}) });
          const s = entry.sketch;
          const { k, n } = s.bins();
          const bytes = encodeSketch(entry);
          const sketch = { ts, cnt: s.count, min: s.min, max: s.max, avg: s.avg, sum: s.sum, k, n };
          const decoded = Sketch.toObject(Sketch.decode(bytes), { longs: Number, defaults: true });
          expect(decoded).toEqual({
            metric,
            host,
            tags,
            distributions: [],
            dogsketches: [sketch],
            metadata: o
              ? {
                  origin: {
                    origin_product: o.product,
                    origin_category: o.category,
                    origin_service: o.service,
                  },
                }
              : null,
          });
          const before = Previous.encode({
            metric,
            host,
            tags,
            dogsketches: [sketch],
            ...(o
              ? {
                  metadata: {
                    origin: {
                      originProduct: o.product,
                      originCategory: o.category,
                      originService: o.service,
                    },
                  },
                }
              : {}),
          }).finish();
          expect(Buffer.from(bytes).equals(Buffer.from(before))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('writes k and n packed (proto3 default), as the agent does', () => {
    const [p] = buildSketchPayloads([sketchEntry('m', [1, 2, 3])]);
    const bytes = Buffer.from(p!.body);
    // Inside the Dogsketch, field 7 wire type 2 (0x3a) and field 8 wire type 2 (0x42).
    expect(bytes.includes(Buffer.from([0x3a, 0x06]))).toBe(true);
    expect(bytes.includes(Buffer.from([0x42, 0x03, 1, 1, 1]))).toBe(true);
  });

  it('splits at the item limit and the byte limit, and split() halves a payload', () => {
    const entries = Array.from({ length: 25 }, (_, i) => sketchEntry(`m${i}`, [i + 1]));
    const byItems = buildSketchPayloads(entries, { maxItems: 10, maxBytes: 1 << 20 });
    expect(byItems.map((p) => p.items)).toEqual([10, 10, 5]);
    const one = buildSketchPayloads(entries)[0]!;
    const bySize = buildSketchPayloads(entries, { maxItems: 1000, maxBytes: Math.ceil(one.body.length / 3) });
    expect(bySize.length).toBeGreaterThanOrEqual(3);
    for (const p of bySize) expect(p.body.length).toBeLessThanOrEqual(Math.ceil(one.body.length / 3));
    const halves = one.split!()!;
    expect(halves.map((p) => p.items)).toEqual([12, 13]);
    const names = halves.flatMap((h) =>
      decodeSketches(h)['sketches'].map((s: { metric: string }) => s.metric),
    );
    expect(names).toEqual(entries.map((e) => e.metric));
    const single = buildSketchPayloads([entries[0]!])[0]!;
    expect(single.split!()).toBeUndefined();
  });
});

describe('/api/v2/series payload (JSON)', () => {
  const serie = (i: number): Serie => ({
    metric: `m${i}`,
    type: 1,
    points: [{ timestamp: 1_700_000_000, value: i }],
    tags: ['a:b'],
    interval: 10,
  });

  it('is {"series":[...]} with the public numbering (1 count + interval, 2 rate, 3 gauge)', async () => {
    const a = new Aggregator({ now: () => 1_700_000_003_000 });
    a.ingest(Buffer.from('c:2|c|#t:1\ng:1.5|g\nh:1|h|host:x'));
    const payloads = await flushPayloads(a, { all: true });
    expect(payloads.map((p) => p.kind)).toEqual(['series']);
    const body = JSON.parse(Buffer.from(payloads[0]!.body).toString());
    expect(payloads[0]!.contentType).toBe('application/json');
    const c = body.series.find((s: Serie) => s.metric === 'c');
    expect(c).toEqual({
      metric: 'c',
      type: 1,
      points: [{ timestamp: 1_700_000_000, value: 2 }],
      tags: ['t:1'],
      interval: 10,
    });
    expect(body.series.find((s: Serie) => s.metric === 'g').type).toBe(3);
    expect(body.series.find((s: Serie) => s.metric === 'h.count')).toMatchObject({ type: 2, interval: 10 });
  });

  it('respects the item and byte limits; split() halves for a 413', () => {
    const series = Array.from({ length: 2500 }, (_, i) => serie(i));
    const payloads = buildSeriesPayloads(series);
    expect(payloads.map((p) => p.items)).toEqual([1000, 1000, 500]);
    for (const p of payloads) expect(p.body.length).toBeLessThan(5_242_880);
    const small = buildSeriesPayloads(series, { maxItems: 100_000, maxBytes: 10_000 });
    for (const p of small) {
      expect(p.body.length).toBeLessThanOrEqual(10_000);
      expect(JSON.parse(Buffer.from(p.body).toString()).series.length).toBe(p.items);
    }
    expect(small.reduce((n, p) => n + p.items!, 0)).toBe(2500);
    const [h1, h2] = payloads[2]!.split!()!;
    expect(JSON.parse(Buffer.from(h1!.body).toString()).series.map((s: Serie) => s.metric)[0]).toBe('m2000');
    expect(h1!.items! + h2!.items!).toBe(500);
  });

  it('halves of halves stay valid bodies, down to single series, in order', () => {
    const series = Array.from({ length: 7 }, (_, i) => serie(i));
    const leaves: OutgoingPayload[] = [];
    const walk = (p: OutgoingPayload): void => {
      const names = JSON.parse(Buffer.from(p.body).toString()).series.map((s: Serie) => s.metric);
      expect(names.length).toBe(p.items);
      const halves = p.split!();
      if (halves === undefined) leaves.push(p);
      else for (const h of halves) walk(h);
    };
    walk(buildSeriesPayloads(series)[0]!);
    expect(leaves.map((p) => JSON.parse(Buffer.from(p.body).toString()).series[0].metric)).toEqual(
      series.map((s) => s.metric),
    );
  });
});

describe('/api/v2/series size limit', () => {
  // Two series whose JSON makes a body of exactly `total` bytes: `{"series":[` a `,` b `]}`.
  function bodyOf(total: number, limits?: { maxItems: number; maxBytes: number }): OutgoingPayload[] {
    const pad = (n: number) => `{"metric":"${'x'.repeat(n - 13)}"}`;
    const a = Math.floor((total - 14) / 2);
    const b = new SeriesPayloadBuilder(limits);
    b.addJson(pad(a));
    b.addJson(pad(total - 14 - a));
    return b.finish();
  }

  it('keeps the decompressed body smaller than 5 242 880 bytes', () => {
    const under = bodyOf(5_242_879);
    expect(under.map((p) => p.body.length)).toEqual([5_242_879]);
    const at = bodyOf(5_242_880);
    expect(at.map((p) => p.items)).toEqual([1, 1]);
    for (const p of at) expect(p.body.length).toBeLessThan(5_242_880);
  });

  it('counts the body exactly: a custom maxBytes is the largest body allowed', () => {
    expect(bodyOf(1000, { maxItems: 10, maxBytes: 1000 }).map((p) => p.body.length)).toEqual([1000]);
    expect(bodyOf(1001, { maxItems: 10, maxBytes: 1000 }).map((p) => p.items)).toEqual([1, 1]);
  });
});

describe('/api/v1/check_run and events payloads', () => {
  it('service checks are a JSON array of the agent v1 shape', () => {
    const [p] = buildServiceCheckPayloads([
      { name: 'db', status: 2, timestamp: 1_700_000_000, host: 'h', message: 'down', tags: ['a:b'] },
      { name: 'web', status: 0, timestamp: 1_700_000_001, host: '', message: '', tags: [] },
    ]);
    expect(p!.kind).toBe('check_run');
    expect(JSON.parse(Buffer.from(p!.body).toString())).toEqual([
      { check: 'db', host_name: 'h', timestamp: 1_700_000_000, status: 2, message: 'down', tags: ['a:b'] },
      { check: 'web', host_name: '', timestamp: 1_700_000_001, status: 0, message: '', tags: [] },
    ]);
    expect(p!.split!()!.map((x) => x.items)).toEqual([1, 1]);
  });

  it('service check payloads never exceed their byte limit, counting commas and brackets', () => {
    const check = {
      name: 'c',
      status: 0,
      timestamp: 1_700_000_000,
      host: '',
      message: 'm',
      tags: [],
    } as const;
    const itemLength = JSON.stringify({
      check: 'c',
      host_name: '',
      timestamp: 1_700_000_000,
      status: 0,
      message: 'm',
      tags: [],
    }).length;
    // Three items as one JSON array: `[` + 3 items + 2 commas + `]`.
    const exact = 1 + 3 * itemLength + 2 + 1;
    const fits = buildServiceCheckPayloads([check, check, check], { maxItems: 100, maxBytes: exact });
    expect(fits.map((p) => p.body.length)).toEqual([exact]);
    const tight = buildServiceCheckPayloads([check, check, check], { maxItems: 100, maxBytes: exact - 1 });
    expect(tight.map((p) => p.items)).toEqual([2, 1]);
    for (const p of tight) expect(p.body.length).toBeLessThanOrEqual(exact - 1);
  });

  it("events use the agent's intake JSON, grouped by source type", () => {
    const base = {
      timestamp: 1_700_000_000,
      host: '',
      aggregationKey: '',
      priority: 'normal',
      alertType: 'info',
      tags: [],
    } as const;
    const [p] = buildEventPayloads(
      [
        { ...base, title: 't1', text: 'x', sourceTypeName: '' },
        {
          ...base,
          title: 't2',
          text: 'y',
          sourceTypeName: 'jenkins',
          host: 'h',
          tags: ['a:b'],
          aggregationKey: 'k',
        },
      ],
      { hostname: 'me' },
    );
    expect(p!.kind).toBe('events');
    expect(JSON.parse(Buffer.from(p!.body).toString())).toEqual({
      apiKey: '',
      events: {
        api: [
          {
            msg_title: 't1',
            msg_text: 'x',
            timestamp: 1_700_000_000,
            priority: 'normal',
            alert_type: 'info',
          },
        ],
        jenkins: [
          {
            msg_title: 't2',
            msg_text: 'y',
            timestamp: 1_700_000_000,
            priority: 'normal',
            alert_type: 'info',
            host: 'h',
            tags: ['a:b'],
            aggregation_key: 'k',
            source_type_name: 'jenkins',
          },
        ],
      },
      internalHostname: 'me',
    });
  });
});

describe('flushPayloads', () => {
  it('serialises the same series as flush() returns', async () => {
    const lines = 'c:2|c|#t:1,host:h1\ng:1.5|g\nh:1:2:3|h|#a:"q"\ns:x|s\nbig:1e308|c\nbig:1e308|c';
    const origin = () => ({ product: 1, category: 38, service: 472 });
    const a = new Aggregator({ now: () => 1_700_000_003_000, globalTags: ['env:prod'], origin });
    const b = new Aggregator({ now: () => 1_700_000_003_000, globalTags: ['env:prod'], origin });
    a.ingest(Buffer.from(lines));
    b.ingest(Buffer.from(lines));
    const { series } = await a.flush({ all: true });
    const [p] = await flushPayloads(b, { all: true });
    const sent = JSON.parse(Buffer.from(p!.body).toString()).series;
    expect(sent).toEqual(series);
    // A sum that overflowed to Infinity is not valid JSON and is not sent.
    expect(series.map((s) => s.metric)).not.toContain('big');
  });

  it('warms the encoders up on an aggregator of its own: nothing reaches the real one or the logger', async () => {
    const lines: string[] = [];
    const logger = {
      debug: (m: string) => lines.push(m),
      info: (m: string) => lines.push(m),
      warn: (m: string) => lines.push(m),
      error: (m: string) => lines.push(m),
    };
    const options = { now: () => 1_700_000_003_000, globalTags: ['env:prod'], logger, maxContexts: 8 };
    const real = new Aggregator(options);
    real.ingest(Buffer.from('d:1|d'));
    await warmUpPayloads(options, 16);
    expect(lines).toEqual([]);
    expect(real.stats()).toMatchObject({ datagrams: 1, metricSamples: 1, contexts: 1, contextsDropped: 0 });
    const [p] = await flushPayloads(real, { all: true });
    expect(decodeSketches(p!)['sketches'].map((s: { metric: string }) => s.metric)).toEqual(['d']);
  });

  it('returns series, sketches, check runs and events in one go', async () => {
    const a = new Aggregator({ now: () => 1_700_000_003_000, globalTags: ['env:prod'] });
    a.ingest(Buffer.from('c:1|c\nd:1|d\n_sc|chk|1\n_e{1,1}:a|b'));
    const payloads = await flushPayloads(a, { all: true });
    expect(payloads.map((p) => p.kind)).toEqual(['series', 'sketches', 'check_run', 'events']);
    expect(decodeSketches(payloads[1]!)['sketches'][0].tags).toEqual(['env:prod']);
    expect(await flushPayloads(a, { all: true })).toEqual([]);
  });

  it('a sketch reused for the next bucket starts empty; one handed out by flush() stays as it was', async () => {
    const clock = { now: 1_700_000_003_000 };
    const a = new Aggregator({ now: () => clock.now });
    a.ingest(Buffer.from('d:1:2:3|d\nd:1e6|d'));
    const first = decodeSketches((await flushPayloads(a, { all: true }))[0]!).sketches[0]!;
    clock.now += 10_000;
    a.ingest(Buffer.from('d:5|d'));
    const second = decodeSketches((await flushPayloads(a, { all: true }))[0]!).sketches[0]!;
    expect(first.dogsketches[0]).toMatchObject({ cnt: 4, min: 1, max: 1e6 });
    expect(second.dogsketches[0]).toMatchObject({ cnt: 1, min: 5, max: 5, sum: 5, k: [1338 + 104], n: [1] });
    clock.now += 10_000;
    a.ingest(Buffer.from('d:7|d'));
    const kept = (await a.flush({ all: true })).sketches[0]!.sketch;
    clock.now += 10_000;
    a.ingest(Buffer.from('d:9|d'));
    await flushPayloads(a, { all: true });
    expect([kept.count, kept.min, kept.max]).toEqual([1, 7, 7]);
  });
});

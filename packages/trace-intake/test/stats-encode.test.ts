import { unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import {
  BUCKET_NS,
  encodeAgentPayloads,
  encodeStatsPayloads,
  fromEnv,
  MAX_TRACE_PAYLOAD_BYTES,
  reducePrecision,
  type Span,
  StatsConcentrator,
  TraceAgent,
  type TracerPayload,
  tracerHeadersFrom,
} from '../src/index.js';
import { allSpans, decodeAgentPayload, decodeSketch } from './helpers/agent-payload-schema.js';

const H = tracerHeadersFrom({ 'datadog-meta-lang': 'python', 'datadog-meta-tracer-version': '2.9.0' });
const T = 1_700_000_000_000_000_000;
let next = 1n;
const span = (over: Partial<Span> = {}): Span => ({
  service: 'svc',
  name: 'op',
  resource: 'res',
  trace_id: 9223372036854775809n,
  span_id: next++,
  parent_id: 0,
  start: BigInt(T),
  duration: 5_000_000,
  error: 0,
  meta: {},
  metrics: { _top_level: 1 },
  type: 'web',
  ...over,
});

describe('stats concentrator', () => {
  it('groups by the spec keys into 10 s buckets aligned on span end, with ok/error sketches', () => {
    const c = new StatsConcentrator({ env: 'prod', version: '1', rand: () => 0.5 });
    const payload: TracerPayload = {
      header: H,
      chunks: [
        {
          priority: 1,
          origin: '',
          spans: [
            span({
              meta: {
                'http.status_code': '200',
                'span.kind': 'server',
                'http.method': 'GET',
                'http.route': '/a',
              },
            }),
            span({
              meta: {
                'http.status_code': '200',
                'span.kind': 'server',
                'http.method': 'GET',
                'http.route': '/a',
              },
              duration: 7_000_000,
            }),
            span({ error: 1, meta: { 'http.status_code': '500', 'span.kind': 'server' } }),
            // not eligible: not top-level, not measured, no span.kind
            span({ parent_id: 1n, metrics: {} }),
            // eligible by span.kind client, with peer tags
            span({
              parent_id: 1n,
              metrics: {},
              name: 'pg.query',
              meta: { 'span.kind': 'client', 'db.system': 'postgresql', 'peer.service': 'db' },
            }),
            // partial snapshot: never counted
            span({ metrics: { _top_level: 1, '_dd.partial_version': 1 } }),
          ],
        },
      ],
    };
    c.add(payload);
    expect(c.flush(T + 5e6, false)).toEqual([]); // the bucket is still open
    const [p] = c.flush(T, true);
    expect(p).toMatchObject({ Env: 'prod', Version: '1', Lang: 'python' });
    const bucket = p!.Stats[0]!;
    expect(bucket.Start).toBe(BigInt(T + 5_000_000 - ((T + 5_000_000) % BUCKET_NS)));
    expect(bucket.Duration).toBe(BigInt(BUCKET_NS));
    const ok = bucket.Stats.find((g) => g.HTTPStatusCode === 200)!;
    expect(ok).toMatchObject({
      Hits: 2,
      Errors: 0,
      TopLevelHits: 2,
      Duration: 12_000_000n,
      SpanKind: 'server',
      HTTPMethod: 'GET',
      HTTPEndpoint: '/a',
      IsTraceRoot: 1,
    });
    const err = bucket.Stats.find((g) => g.HTTPStatusCode === 500)!;
    expect(err).toMatchObject({ Hits: 1, Errors: 1 });
    const client = bucket.Stats.find((g) => g.Name === 'pg.query')!;
    expect(client).toMatchObject({
      IsTraceRoot: 2,
      TopLevelHits: 0,
      PeerTags: ['db.system:postgresql', 'peer.service:db'],
    });
    expect(bucket.Stats).toHaveLength(3);
    // the sketch is the DDSketch proto of the spec: gamma for 1% accuracy, counts of the two durations
    const sk = decodeSketch(ok.OkSummary);
    expect(sk.mapping.gamma).toBeCloseTo(1.02020202, 6);
    const counts =
      sk.positiveValues!.contiguousBinCounts.reduce((a, b) => a + b, 0) +
      Object.values(sk.positiveValues!.binCounts).reduce((a, b) => a + b, 0);
    expect(counts).toBe(2);
    expect(
      decodeSketch(err.ErrorSummary).positiveValues!.contiguousBinCounts.reduce((a, b) => a + b, 0),
    ).toBe(1);
  });

  it('weights by 1/_sample_rate and reduces duration precision to 10 mantissa bits', () => {
    const c = new StatsConcentrator({ rand: () => 0.99 });
    c.add({
      header: H,
      chunks: [
        { priority: 1, origin: '', spans: [span({ metrics: { _top_level: 1, _sample_rate: 0.25 } })] },
      ],
    });
    const g = c.flush(T, true)[0]!.Stats[0]!.Stats[0]!;
    expect(g.Hits).toBe(4);
    expect(g.Duration).toBe(20_000_000n);
    expect(reducePrecision(1234567)).toBeLessThanOrEqual(1234567);
    expect(Math.abs(reducePrecision(1234567) - 1234567) / 1234567).toBeLessThan(1 / 1024);
  });

  it('encodes StatsPayload msgpack with PascalCase keys and unsigned 64-bit fields', () => {
    const c = new StatsConcentrator({ env: 'prod' });
    c.add({ header: H, chunks: [{ priority: 1, origin: '', spans: [span()] }] });
    const [out] = encodeStatsPayloads(c.flush(T, true), {
      agentHostname: '',
      agentEnv: 'prod',
      agentVersion: '0.1.0',
      clientComputed: false,
    });
    expect(out!.contentType).toBe('application/msgpack');
    const d = unpack(out!.body);
    expect(Object.keys(d)).toEqual([
      'AgentHostname',
      'AgentEnv',
      'Stats',
      'AgentVersion',
      'ClientComputed',
      'SplitPayload',
    ]);
    const bucket = d.Stats[0].Stats[0];
    expect(bucket.Start).toBe(BigInt(T - (T % BUCKET_NS)));
    // Start is written as msgpack uint64 (0xcf), which Go's msgp reads into a uint64 field
    const startBytes = Buffer.alloc(9);
    startBytes[0] = 0xcf;
    startBytes.writeBigUInt64BE(BigInt(T - (T % BUCKET_NS)), 1);
    expect(Buffer.from(out!.body).includes(startBytes)).toBe(true);
    expect(bucket.Stats[0]).toMatchObject({
      Service: 'svc',
      Name: 'op',
      Resource: 'res',
      Hits: 1,
      Type: 'web',
    });
    expect(bucket.Stats[0].OkSummary).toBeInstanceOf(Uint8Array);
    expect(out!.split!()).toBeUndefined();
  });

  it('in the agent: computed only when asked, never when the tracer computed them, and unsampled chunks dropped after', () => {
    const on = new TraceAgent({
      ...fromEnv({ DD_LAMBDA_EXTENSION_COMPUTE_STATS: 'true' }),
      nowNs: () => T + 60e9,
    });
    on.handleTraces(
      [
        [span({ metrics: { _top_level: 1, _sampling_priority_v1: 0 } })],
        [span({ metrics: { _top_level: 1, _sampling_priority_v1: 1 } })],
      ],
      H,
    );
    const out = on.flush();
    expect(out.map((p) => p.kind).sort()).toEqual(['stats', 'traces']);
    expect(on.counters.chunksDroppedByPriority).toBe(1);
    expect(unpack(out.find((p) => p.kind === 'stats')!.body).Stats[0].Stats[0].Stats[0].Hits).toBe(2);
    const clientComputed = new TraceAgent({
      ...fromEnv({ DD_LAMBDA_EXTENSION_COMPUTE_STATS: 'true' }),
      nowNs: () => T + 60e9,
    });
    clientComputed.handleTraces([[span()]], tracerHeadersFrom({ 'datadog-client-computed-stats': 'true' }));
    expect(clientComputed.flush(true).map((p) => p.kind)).toEqual(['traces']);
    const off = new TraceAgent({ ...fromEnv({}), nowNs: () => T + 60e9 });
    off.handleTraces([[span()]], H);
    expect(off.concentrator).toBeUndefined();
    // serverless-init: the agent computes them unless told the backend should
    expect(fromEnv({}, undefined, 'serverless-init').computeStats).toBe(true);
    expect(
      fromEnv({ DD_SERVERLESS_INIT_ENABLE_BACKEND_TRACE_STATS: 'true' }, undefined, 'serverless-init')
        .computeStats,
    ).toBe(false);
  });
});

describe('AgentPayload encoding', () => {
  it('encodes every Span field, links, events and meta_struct with exact ids (independent schema)', () => {
    const s = span({
      trace_id: 18446744073709551615n,
      span_id: 9007199254740993n,
      parent_id: 1,
      start: 1700000000123456789n,
      duration: 9007199254740993n,
      error: 1,
      meta: { a: 'b', '_dd.p.tid': '6b118b3700000000' },
      metrics: { m: 1.5, z: 0 },
      meta_struct: { appsec: Uint8Array.from([1, 2, 3]) },
      span_links: [
        {
          trace_id: 1n,
          trace_id_high: 0xffffffffffffffffn,
          span_id: 2,
          attributes: { k: 'v' },
          tracestate: 'dd=s:1',
          flags: 0x80000001,
        },
      ],
      span_events: [
        {
          time_unix_nano: 1700000000000000001n,
          name: 'ev',
          attributes: {
            s: { type: 0, string_value: 'x' },
            n: { type: 2, int_value: -5 },
            arr: {
              type: 4,
              array_value: {
                values: [
                  { type: 1, bool_value: true },
                  { type: 3, double_value: 2.5 },
                ],
              },
            },
          },
        },
      ],
    });
    const [out] = encodeAgentPayloads(
      [
        {
          header: H,
          chunks: [{ priority: 2, origin: 'lambda', spans: [s], tags: { ct: '1' } }],
          tags: { t: 'v' },
          env: 'prod',
          appVersion: '9',
        },
      ],
      { agentVersion: '0.1.0', targetTPS: 60, errorTPS: 60 },
    );
    expect(out!.contentType).toBe('application/x-protobuf');
    expect(out!.headers).toMatchObject({
      'Datadog-Meta-Lang': 'python',
      'Datadog-Meta-Tracer-Version': '2.9.0',
      'X-Datadog-Reported-Languages': 'python',
      'Datadog-Send-Real-Http-Status': '1',
    });
    expect(out!.items).toBe(1);
    const d = decodeAgentPayload(out!.body);
    expect(d).toMatchObject({ agentVersion: '0.1.0', targetTPS: 60, errorTPS: 60 });
    expect(d.tracerPayloads[0]).toMatchObject({
      languageName: 'python',
      tracerVersion: '2.9.0',
      env: 'prod',
      appVersion: '9',
      tags: { t: 'v' },
    });
    const chunk = d.tracerPayloads[0]!.chunks[0]!;
    expect(chunk).toMatchObject({ priority: 2, origin: 'lambda', tags: { ct: '1' }, droppedTrace: false });
    const got = chunk.spans[0]!;
    expect(got).toMatchObject({
      traceID: '18446744073709551615',
      spanID: '9007199254740993',
      parentID: '1',
      start: '1700000000123456789',
      duration: '9007199254740993',
      error: 1,
      type: 'web',
    });
    expect(got.meta).toEqual({ a: 'b', '_dd.p.tid': '6b118b3700000000' });
    expect(got.metrics).toEqual({ m: 1.5, z: 0 });
    expect([...got.meta_struct!['appsec']!]).toEqual([1, 2, 3]);
    expect(got.spanLinks![0]).toMatchObject({
      traceID: '1',
      traceID_high: '18446744073709551615',
      spanID: '2',
      attributes: { k: 'v' },
      tracestate: 'dd=s:1',
      flags: 0x80000001,
    });
    const e = got.spanEvents![0]! as {
      time_unix_nano: string;
      name: string;
      attributes: Record<
        string,
        {
          type: number;
          string_value: string;
          int_value: string;
          array_value: { values: { type: number; bool_value: boolean; double_value: number }[] };
        }
      >;
    };
    expect(e.time_unix_nano).toBe('1700000000000000001');
    expect(e.attributes['s']!.string_value).toBe('x');
    expect(e.attributes['n']).toMatchObject({ type: 2, int_value: '-5' });
    expect(e.attributes['arr']!.array_value.values).toMatchObject([
      { type: 1, bool_value: true },
      { type: 3, double_value: 2.5 },
    ]);
  });

  it('batches under the size cap and splits on request (413) down to one chunk', () => {
    const payloads: TracerPayload[] = [];
    for (let i = 0; i < 40; i++) {
      payloads.push({
        header: H,
        chunks: [0, 1].map(() => ({
          priority: 1,
          origin: '',
          spans: [span({ meta: { pad: 'x'.repeat(50_000) } })],
        })),
      });
    }
    const out = encodeAgentPayloads(payloads, {
      agentVersion: '0.1.0',
      targetTPS: 60,
      errorTPS: 60,
      maxBytes: 1_000_000,
    });
    expect(out.length).toBeGreaterThan(3);
    for (const p of out) expect(p.body.length).toBeLessThanOrEqual(1_000_000);
    const total = out.reduce((n, p) => n + allSpans(decodeAgentPayload(p.body)).length, 0);
    expect(total).toBe(80);
    const halves = out[0]!.split!()!;
    expect(halves).toHaveLength(2);
    expect(halves.reduce((n, p) => n + p.items!, 0)).toBe(out[0]!.items);
    // one tracer payload with two chunks splits by chunk; one chunk cannot split
    const single = encodeAgentPayloads([payloads[0]!], {
      agentVersion: '0.1.0',
      targetTPS: 60,
      errorTPS: 60,
    })[0]!;
    const [a, b] = single.split!()!;
    expect(a!.items).toBe(1);
    expect(a!.split!()).toBeUndefined();
    expect(allSpans(decodeAgentPayload(b!.body))).toHaveLength(1);
    expect(MAX_TRACE_PAYLOAD_BYTES).toBe(3_200_000);
  });

  it('cuts one tracer request over the cap between its chunks', () => {
    const big: TracerPayload = {
      header: H,
      chunks: Array.from({ length: 10 }, () => ({
        priority: 1,
        origin: '',
        spans: [span({ meta: { pad: 'y'.repeat(200_000) } })],
      })),
    };
    const out = encodeAgentPayloads([big], {
      agentVersion: '0.1.0',
      targetTPS: 60,
      errorTPS: 60,
      maxBytes: 500_000,
    });
    expect(out.length).toBe(5);
    for (const p of out) expect(p.body.length).toBeLessThanOrEqual(500_000);
  });

  it('the agent buffer is bounded: beyond it traces are dropped and counted', () => {
    const a = new TraceAgent({ ...fromEnv({}), maxBufferedSpans: 3 });
    expect(a.handleTraces([[span(), span()]], H)).toBe(true);
    expect(a.handleTraces([[span(), span()]], H)).toBe(false);
    expect(a.counters.spansBufferDropped).toBe(2);
    a.flush();
    expect(a.handleTraces([[span(), span()]], H)).toBe(true);
  });
});

import { readFileSync } from 'node:fs';
import { unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { DecodeError, decodeJsonTraces, decodeV04, decodeV05 } from '../src/index.js';
import { Bytes } from './helpers/mp.js';

const fixture = (dir: string, file: string) =>
  readFileSync(new URL(`./fixtures/${dir}/${file}`, import.meta.url));

// The capture's JSON shows uint64 as "123n": compare against it exactly.
function expected(dir: string, file: string): Record<string, unknown>[][] {
  return JSON.parse(fixture(dir, file).toString('utf8'));
}
const asText = (v: unknown) => (typeof v === 'bigint' ? `${v}n` : v);

describe('v0.4 captured from the real clients', () => {
  for (const [dir, n] of [
    ['dd-trace-plain', 1],
    ['dd-trace-lambda', 1],
    ['dd-lambda-v12', 2],
    ['dd-lambda-v12-localtesting-error', 1],
  ] as const) {
    for (let i = 1; i <= n; i++) {
      it(`${dir}/trace-${i}: every id and field as captured`, () => {
        const traces = decodeV04(fixture(dir, `trace-${i}.msgpack`));
        const want = expected(dir, `trace-${i}.json`);
        expect(traces.length).toBe(want.length);
        traces.forEach((trace, t) => {
          trace.forEach((span, s) => {
            const w = want[t]![s]!;
            for (const k of [
              'trace_id',
              'span_id',
              'parent_id',
              'start',
              'duration',
              'error',
              'name',
              'resource',
              'service',
            ]) {
              expect(asText(span[k as keyof typeof span]), `${k}`).toEqual(w[k]);
            }
            expect(span.type).toBe(w['type'] ?? '');
            expect(span.meta).toEqual(w['meta']);
            expect(span.metrics).toEqual(w['metrics']);
          });
        });
      });
    }
  }

  it('dd-lambda-v12 trace ids above 2^53 stay exact BigInts', () => {
    const [trace] = decodeV04(fixture('dd-lambda-v12', 'trace-1.msgpack'));
    expect(trace![0]!.trace_id).toBe(4110911582297405551n);
    expect(typeof trace![0]!.span_id).toBe('bigint');
  });
});

describe('v0.5 captured from dd-trace', () => {
  it('resolves the string table and keeps ids exact', () => {
    const traces = decodeV05(fixture('dd-trace-v05', 'trace-1.msgpack'));
    const [strings, raw] = unpack(fixture('dd-trace-v05', 'trace-1.msgpack')) as [string[], unknown[][][]];
    const first = raw[0]![0]!;
    const span = traces[0]![0]!;
    expect(span.service).toBe(strings[first[0] as number]);
    expect(span.name).toBe(strings[first[1] as number]);
    expect(span.trace_id).toBe(5676012833334100122n);
    expect(span.span_id).toBe(5676012833334100122n);
    expect(span.parent_id).toBe(0n);
    expect(span.meta['_dd.p.tid']).toMatch(/^[0-9a-f]{16}$/);
    expect(span.metrics['custom.num']).toBe(3.5);
    expect(traces[0]!.length).toBe(2);
    expect(traces[0]![1]!.parent_id).toBe(span.span_id);
  });

  it('rejects an index outside the table, a span of the wrong arity and a non-pair top level', () => {
    const span = (idx: number) =>
      new Bytes()
        .arr(2)
        .arr(1)
        .str('')
        .arr(1)
        .arr(1)
        .arr(12)
        .u(idx, 0)
        .u(0, 0)
        .u(0, 0)
        .u(1, 0)
        .u(1, 0)
        .u(0, 0)
        .u(0, 0)
        .u(0, 0)
        .u(0, 0)
        .map(0)
        .map(0)
        .u(0, 0)
        .done();
    expect(decodeV05(span(0))[0]![0]!.trace_id).toBe(1);
    expect(() => decodeV05(span(5))).toThrow(DecodeError);
    expect(() =>
      decodeV05(new Bytes().arr(2).arr(1).str('').arr(1).arr(1).arr(3).u(0, 0).u(0, 0).u(0, 0).done()),
    ).toThrow(/array of 12/);
    expect(() => decodeV05(new Bytes().arr(1).arr(0).done())).toThrow(/array of 2/);
  });
});

function spanMap(b: Bytes, w: 'fix' | 16 | 32, ids: (b: Bytes) => Bytes): Bytes {
  return ids(
    b
      .map(10, w)
      .str('name', w === 'fix' ? 'fix' : w)
      .str('op', 32)
      .str('service')
      .str('svc', 8)
      .str('resource')
      .str('res', 16)
      .str('meta')
      .map(1, 32)
      .str('k', 32)
      .str('v', 8)
      .str('metrics')
      .map(2, 16)
      .str('f32')
      .f32(1.5)
      .str('int')
      .i(-3, 2),
  );
}

describe('every msgpack width', () => {
  it('decodes 16- and 32-bit containers and strings, and every integer width', () => {
    const body = new Bytes().arr(1, 32).arr(2, 16);
    spanMap(body, 32, (b) =>
      b
        .str('trace_id')
        .u(0xffffffffffffffffn, 8)
        .str('span_id')
        .u(7, 1)
        .str('parent_id')
        .u(0, 0)
        .str('start')
        .i(1700000000000000000n, 8)
        .str('duration')
        .u(70000, 4),
    );
    spanMap(body, 16, (b) =>
      b
        .str('trace_id')
        .u(65535, 2)
        .str('span_id')
        .i(-1, 1)
        .str('parent_id')
        .i(123456, 4)
        .str('start')
        .u(1700000000000000000n, 8)
        .str('duration')
        .i(5, 8),
    );
    const [trace] = decodeV04(body.done());
    const [a, b] = trace!;
    expect(a!.trace_id).toBe(18446744073709551615n);
    expect(a!.span_id).toBe(7);
    expect(a!.parent_id).toBe(0);
    expect(a!.start).toBe(1700000000000000000n);
    expect(a!.duration).toBe(70000);
    expect(a!.meta).toEqual({ k: 'v' });
    expect(a!.metrics).toEqual({ f32: 1.5, int: -3 });
    expect(a!.name).toBe('op');
    expect(a!.service).toBe('svc');
    expect(a!.resource).toBe('res');
    expect(b!.trace_id).toBe(65535);
    expect(b!.parent_id).toBe(123456);
    expect(b!.duration).toBe(5n);
  });

  it('keeps small ids a tracer sent as compact ints as Numbers, and 0xcf ones as BigInt (msgpackr default pinned)', () => {
    const body = new Bytes()
      .arr(1)
      .arr(1)
      .map(3)
      .str('trace_id')
      .u(5, 8)
      .str('span_id')
      .u(256, 2)
      .str('parent_id')
      .u(9, 0)
      .done();
    const s = decodeV04(body)[0]![0]!;
    expect(s.trace_id).toBe(5n);
    expect(s.span_id).toBe(256);
    expect(s.parent_id).toBe(9);
    // the library's own default, which the spec asks to keep asserted
    expect(unpack(new Bytes().u(1660766526958805505n, 8).done())).toBe(1660766526958805505n);
  });

  it('tolerates nil for any field, missing fields and unknown keys', () => {
    const body = new Bytes()
      .arr(1)
      .arr(1)
      .map(6)
      .str('trace_id')
      .u(1, 0)
      .str('span_id')
      .u(2, 0)
      .str('meta')
      .nil()
      .str('metrics')
      .nil()
      .str('type')
      .nil()
      .str('future_field')
      .arr(0)
      .done();
    const s = decodeV04(body)[0]![0]!;
    expect(s).toMatchObject({
      trace_id: 1,
      span_id: 2,
      parent_id: 0,
      name: '',
      service: '',
      resource: '',
      type: '',
      meta: {},
      metrics: {},
      error: 0,
    });
  });

  it('decodes meta_struct bins, span_links and span_events', () => {
    const body = new Bytes()
      .arr(1)
      .arr(1)
      .map(5)
      .str('trace_id')
      .u(1n << 63n, 8)
      .str('span_id')
      .u(3, 0)
      .str('meta_struct')
      .map(1)
      .str('appsec')
      .bin([0x81, 0xa1, 0x61, 0x01])
      .str('span_links')
      .arr(1)
      .map(5)
      .str('trace_id')
      .u(11, 0)
      .str('trace_id_high')
      .u(0xabcdef0123456789n, 8)
      .str('span_id')
      .u(12, 0)
      .str('attributes')
      .map(1)
      .str('link.kind')
      .str('follows')
      .str('flags')
      .u(0x80000001, 4)
      .str('span_events')
      .arr(1)
      .map(3)
      .str('time_unix_nano')
      .u(1700000000000000001n, 8)
      .str('name')
      .str('ev')
      .str('attributes')
      .map(1)
      .str('n')
      .map(2)
      .str('type')
      .u(2, 0)
      .str('int_value')
      .u(42, 0)
      .done();
    const s = decodeV04(body)[0]![0]!;
    expect(s.trace_id).toBe(9223372036854775808n);
    expect([...s.meta_struct!['appsec']!]).toEqual([0x81, 0xa1, 0x61, 0x01]);
    expect(s.span_links![0]).toEqual({
      trace_id: 11,
      trace_id_high: 0xabcdef0123456789n,
      span_id: 12,
      attributes: { 'link.kind': 'follows' },
      flags: 0x80000001,
    });
    expect(s.span_events![0]).toEqual({
      time_unix_nano: 1700000000000000001n,
      name: 'ev',
      attributes: { n: { type: 2, int_value: 42 } },
    });
  });

  it('rejects garbage with a DecodeError, never anything else', () => {
    const bad = [
      Uint8Array.from([0xc1]),
      Uint8Array.from([0xdd, 0xff, 0xff, 0xff, 0xff]),
      new Bytes().map(1).str('a').u(1, 0).done(),
      new Bytes().arr(1).u(3, 0).done(),
      new Bytes().arr(1).arr(1).u(3, 0).done(),
      new Bytes().arr(1).arr(1).map(1).str('name').u(3, 0).done(),
      new Bytes().arr(1).arr(1).map(1).str('meta').arr(0).done(),
      Buffer.from('not msgpack at all, just text'),
    ];
    for (const b of bad) expect(() => decodeV04(b)).toThrow(DecodeError);
    // random bytes: only DecodeError or a valid result
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    for (let n = 0; n < 500; n++) {
      const b = Uint8Array.from({ length: 1 + Math.floor(rand() * 64) }, () => Math.floor(rand() * 256));
      try {
        decodeV04(b);
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError);
      }
      try {
        decodeV05(b);
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError);
      }
    }
  });

  it('keeps a huge meta value (truncation is the processor’s job) and an empty body is no traces', () => {
    const big = 'x'.repeat(100_000);
    const s = decodeV04(
      new Bytes()
        .arr(1)
        .arr(1)
        .map(3)
        .str('trace_id')
        .u(1, 0)
        .str('span_id')
        .u(1, 0)
        .str('meta')
        .map(1)
        .str('k')
        .str(big, 32)
        .done(),
    )[0]![0]!;
    expect(s.meta['k']!.length).toBe(100_000);
    expect(decodeV04(new Uint8Array(0))).toEqual([]);
  });
});

describe('JSON bodies (v0.3/v0.4 with application/json)', () => {
  it('keeps 64-bit ids exact even though JSON numbers are doubles', () => {
    const body = Buffer.from(
      '[[{"trace_id": 18446744073709551615, "span_id":9007199254740993,"parent_id":0,"name":"n","service":"s","resource":"r","start":1700000000000000123,"duration":10,"meta":{"note":"\\"trace_id\\": 5"},"metrics":{"m":1.5}}]]',
    );
    const s = decodeJsonTraces(body)[0]![0]!;
    expect(s.trace_id).toBe(18446744073709551615n);
    expect(s.span_id).toBe(9007199254740993n);
    expect(s.parent_id).toBe(0);
    expect(s.start).toBe(1700000000000000123n);
    expect(s.duration).toBe(10);
    expect(s.meta['note']).toBe('"trace_id": 5');
    expect(() => decodeJsonTraces(Buffer.from('[[{'))).toThrow(DecodeError);
  });
});

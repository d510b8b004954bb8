// The v0.4 fast reader against the general decoder: for every body, the same spans (same values,
// same types, same key order) or, where the fast reader gives up, the general path's answer.
import { readFileSync } from 'node:fs';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { DecodeError, decodeV04, decodeV04General } from '../src/decode.js';
import { FastV04Decoder } from '../src/decode-v04.js';
import type { Span } from '../src/types.js';
import { Bytes } from './helpers/mp.js';

const fixture = (dir: string, file: string) =>
  readFileSync(new URL(`./fixtures/${dir}/${file}`, import.meta.url));

// toEqual treats 1 and 1n alike in places and ignores key order: compare a typed, ordered rendering
const typed = (v: unknown): unknown => {
  if (typeof v === 'bigint') return `bigint:${v}`;
  if (typeof v === 'number') return Object.is(v, -0) ? 'number:-0' : `number:${v}`;
  if (Array.isArray(v)) return v.map(typed);
  if (v instanceof Uint8Array) return `bin:${Buffer.from(v).toString('hex')}`;
  if (typeof v === 'object' && v !== null) return Object.entries(v).map(([k, x]) => [k, typed(x)]);
  return v;
};

function outcome(f: () => Span[][]): string {
  try {
    return JSON.stringify(typed(f()));
  } catch (err) {
    return err instanceof DecodeError ? 'DecodeError' : `other: ${(err as Error).name}`;
  }
}

/** Seeded PRNG, so that a failure names a reproducible case. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
}

const TEXTS = ['', 'a', 'GET /items/1', 'é', 'naïve café', '日本語のリソース', '🙂 emoji', 'x'.repeat(17)];

function randomText(r: () => number): string {
  const t = TEXTS[Math.floor(r() * TEXTS.length)]!;
  return r() < 0.02 ? t.repeat(1 + Math.floor(r() * 600)) : t;
}

function randomId(r: () => number): unknown {
  const k = Math.floor(r() * 7);
  if (k === 0) return BigInt.asUintN(64, BigInt(Math.floor(r() * 2 ** 32)) << 32n) | 1n;
  if (k === 1) return Math.floor(r() * 200);
  if (k === 2) return Math.floor(r() * 2 ** 31);
  if (k === 3) return -Math.floor(r() * 2 ** 31);
  if (k === 4) return BigInt.asIntN(64, -(BigInt(Math.floor(r() * 2 ** 31)) << 31n));
  if (k === 5) return r() * 1e6;
  return null;
}

function randomSpan(r: () => number, odd: boolean): Record<string, unknown> {
  const span: Record<string, unknown> = {};
  const fields: [string, () => unknown][] = [
    ['service', () => randomText(r)],
    ['name', () => randomText(r)],
    ['resource', () => randomText(r)],
    ['trace_id', () => randomId(r)],
    ['span_id', () => randomId(r)],
    ['parent_id', () => randomId(r)],
    ['start', () => randomId(r)],
    ['duration', () => randomId(r)],
    ['error', () => (r() < 0.5 ? 0 : r() < 0.5 ? 1 : 2.7)],
    [
      'meta',
      () => {
        const m: Record<string, unknown> = {};
        const n = Math.floor(r() * 20);
        for (let i = 0; i < n; i++)
          m[`${randomText(r).slice(0, 40)}.${i}`] = odd && r() < 0.1 ? 5 : randomText(r);
        return m;
      },
    ],
    [
      'metrics',
      () => {
        const m: Record<string, unknown> = {};
        const n = Math.floor(r() * 18);
        for (let i = 0; i < n; i++) m[`m.${i}`] = r() < 0.5 ? Math.floor(r() * 1e9) : r() * 100 - 50;
        return m;
      },
    ],
    ['type', () => randomText(r)],
  ];
  // shuffled, with some fields missing, some unknown, a few extra kinds
  for (const [k, gen] of fields.sort(() => r() - 0.5)) if (r() < 0.92) span[k] = gen();
  if (odd && r() < 0.1) span['meta_struct'] = { x: Buffer.from([1, 2]) };
  if (odd && r() < 0.1) span['custom_field'] = 'x';
  return span;
}

describe('v0.4 fast reader', () => {
  it('takes the fast path for the real clients captures, with the same spans', () => {
    for (const [dir, n] of [
      ['dd-trace-plain', 1],
      ['dd-trace-lambda', 1],
      ['dd-lambda-v12', 2],
      ['dd-lambda-v12-localtesting-error', 1],
    ] as const) {
      for (let i = 1; i <= n; i++) {
        const body = fixture(dir, `trace-${i}.msgpack`);
        const fast = new FastV04Decoder().decode(body);
        expect(fast, `${dir}/trace-${i}`).toBeDefined();
        expect(typed(fast)).toEqual(typed(decodeV04General(body)));
      }
    }
  });

  it('matches the general decoder on random payloads of every shape', () => {
    const packr = new Packr({ useRecords: false, variableMapSize: true });
    const decoder = new FastV04Decoder();
    let fastTaken = 0;
    const cases = 300;
    for (let c = 0; c < cases; c++) {
      const r = rng(c + 1);
      const odd = r() < 0.3;
      const traces = Array.from({ length: Math.floor(r() * 12) }, () =>
        r() < 0.05 ? null : Array.from({ length: Math.floor(r() * 12) }, () => randomSpan(r, odd)),
      );
      const body = packr.pack(traces);
      if (decoder.decode(body) !== undefined) fastTaken++;
      expect(
        outcome(() => decodeV04(body)),
        `case ${c}`,
      ).toEqual(outcome(() => decodeV04General(body)));
    }
    // the fast path is what most of these exercise
    expect(fastTaken).toBeGreaterThan(cases / 4);
  });

  it('matches the general decoder for explicit header widths and number encodings', () => {
    const body = new Bytes()
      .arr(1, 16)
      .arr(2, 32)
      .map(12, 16)
      .str('service', 8)
      .str('svc', 16)
      .str('name', 32)
      .str('op')
      .str('resource')
      .nil()
      .str('trace_id')
      .u(2n ** 64n - 1n, 8)
      .str('span_id')
      .u(7, 1)
      .str('parent_id')
      .i(-5n, 8)
      .str('start')
      .u(1_700_000_000, 4)
      .str('duration')
      .f32(1.5)
      .str('error')
      .i(-1, 1)
      .str('meta')
      .map(1, 32)
      .str('k', 16)
      .str('v', 32)
      .str('metrics')
      .map(2)
      .str('a')
      .f32(0.1)
      .str('b')
      .i(-300, 2)
      .str('type')
      .str('web')
      .map(0)
      .done();
    const fast = new FastV04Decoder().decode(body);
    expect(fast).toBeDefined();
    expect(typed(fast)).toEqual(typed(decodeV04General(body)));
  });

  it('gives the general answer for every truncation and for trailing bytes', () => {
    const body = fixture('dd-trace-lambda', 'trace-1.msgpack');
    for (let n = 1; n < body.length; n += 7) {
      const cut = body.subarray(0, n);
      expect(
        outcome(() => decodeV04(cut)),
        `first ${n} bytes`,
      ).toEqual(outcome(() => decodeV04General(cut)));
    }
    const extra = Buffer.concat([body, Buffer.from([0x90])]);
    expect(() => decodeV04(extra)).toThrow(DecodeError);
  });

  it('leaves invalid UTF-8 and __proto__ keys to the general path', () => {
    const proto = new Bytes().arr(1).arr(1).map(1).str('meta').map(1).str('__proto__').str('x').done();
    // "\xc3(" is not UTF-8
    const head = new Bytes().arr(1).arr(1).map(1).str('meta').map(1).str('k').done();
    const utf8 = Uint8Array.from([...head, 0xa2, 0xc3, 0x28]);
    for (const body of [proto, utf8]) {
      expect(new FastV04Decoder().decode(body)).toBeUndefined();
      expect(outcome(() => decodeV04(body))).toEqual(outcome(() => decodeV04General(body)));
    }
  });
});

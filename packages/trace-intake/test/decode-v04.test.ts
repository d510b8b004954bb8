// The v0.4 fast reader against the general decoder: for every body, the same spans (same values,
// same types, same key order) or, where the fast reader gives up, the general path's answer.
import { readFileSync } from 'node:fs';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { DecodeError, decodeV04, decodeV04General } from '../src/decode.js';
import { FastV04Decoder } from '../src/decode-v04.js';
import type { Span } from '../src/types.js';
import { Bytes } from './helpers/mp.js';
import { randomSpan, rng } from './helpers/random-v04.js';

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

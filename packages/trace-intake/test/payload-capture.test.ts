// DD_CAPTURE_LAMBDA_PAYLOAD's flattening, checked against the Datadog extension's documented rules
// (lambda-extension-reference §7): depth levels, values at the maximum depth, the cut, the redaction.
import { describe, expect, it } from 'vitest';
import { capturePayloadTags, MAX_CAPTURED_VALUE, REDACTED_PAYLOAD_KEYS } from '../src/index.js';

describe('capturePayloadTags', () => {
  it('at the maximum depth a value is kept as its JSON text; empty arrays are [], null is null', () => {
    const value = {
      hello: 'world',
      empty: null,
      level1: {
        obj: { level3: 3 },
        arr: [null, true, 'great', { l3: 'v3' }],
        boolean: true,
        number: 2,
        empty: null,
        empty_obj: {},
        empty_arr: [],
      },
      arr: [{ a: 'b' }, { c: 'd' }],
    };
    expect(capturePayloadTags(value, 'payload', 2)).toEqual({
      'payload.hello': 'world',
      'payload.empty': 'null',
      'payload.level1.obj': '{"level3":3}',
      'payload.level1.arr': '[null,true,"great",{"l3":"v3"}]',
      'payload.level1.boolean': 'true',
      'payload.level1.number': '2',
      'payload.level1.empty': 'null',
      'payload.level1.empty_obj': '{}',
      'payload.level1.empty_arr': '[]',
      'payload.arr.0': '{"a":"b"}',
      'payload.arr.1': '{"c":"d"}',
    });
  });

  it('above the maximum depth an empty object leaves no tag, an empty array leaves []', () => {
    expect(capturePayloadTags({ o: {}, a: [] }, 'p', 10)).toEqual({ 'p.a': '[]' });
    expect(capturePayloadTags(undefined, 'p')).toEqual({});
  });

  it('JSON inside a string costs a level; JSON scalars in strings are their value', () => {
    const body = JSON.stringify({ qty: 1, nested: { deep: 'x' } });
    expect(capturePayloadTags({ body }, 'p', 3)).toEqual({
      'p.body.qty': '1',
      'p.body.nested': '{"deep":"x"}',
    });
    expect(capturePayloadTags({ body }, 'p', 5)).toEqual({ 'p.body.qty': '1', 'p.body.nested.deep': 'x' });
    // a string at the maximum depth is its JSON text too, quotes and all
    expect(capturePayloadTags({ body }, 'p', 4)['p.body.nested.deep']).toBe('"x"');
    expect(capturePayloadTags({ n: '42', b: 'true', s: 'not json' }, 'p')).toEqual({
      'p.n': '42',
      'p.b': 'true',
      'p.s': 'not json',
    });
  });

  it('redacts the eight keys, matched case-sensitively on the last segment of string leaves', () => {
    expect(REDACTED_PAYLOAD_KEYS).toEqual([
      'password',
      'passwd',
      'pwd',
      'secret',
      'token',
      'authorization',
      'x-authorization',
      'api_key',
    ]);
    const event: Record<string, unknown> = {};
    for (const k of REDACTED_PAYLOAD_KEYS) event[k] = 'hush';
    Object.assign(event, { Authorization: 'Bearer x', apikey: 'k', 'x-api-key': 'k', token_count: 'n' });
    expect(capturePayloadTags({ headers: event }, 'function.request')).toEqual({
      'function.request.headers.password': 'redacted',
      'function.request.headers.passwd': 'redacted',
      'function.request.headers.pwd': 'redacted',
      'function.request.headers.secret': 'redacted',
      'function.request.headers.token': 'redacted',
      'function.request.headers.authorization': 'redacted',
      'function.request.headers.x-authorization': 'redacted',
      'function.request.headers.api_key': 'redacted',
      // not among the eight, or not exactly
      'function.request.headers.Authorization': 'Bearer x',
      'function.request.headers.apikey': 'k',
      'function.request.headers.x-api-key': 'k',
      'function.request.headers.token_count': 'n',
    });
    // at the maximum depth too
    expect(capturePayloadTags({ a: { token: 't', n: 'u' } }, 'p', 2)).toEqual({
      'p.a.token': 'redacted',
      'p.a.n': '"u"',
    });
    // numbers and booleans are no string leaves; a key with a dot in it counts by its last segment
    expect(capturePayloadTags({ pwd: 1234, 'db.password': 'p' }, 'p')).toEqual({
      'p.pwd': '1234',
      'p.db.password': 'redacted',
    });
  });

  it('cuts values at 4096 characters, counted as code points', () => {
    expect(capturePayloadTags({ v: 'x'.repeat(5000) }, 'p')['p.v']).toHaveLength(MAX_CAPTURED_VALUE);
    const emoji = '😀'.repeat(4100);
    const cut = capturePayloadTags({ v: emoji }, 'p')['p.v']!;
    expect([...cut]).toHaveLength(4096);
    expect(cut).toBe('😀'.repeat(4096));
    // at the maximum depth the JSON text is cut the same way
    const deep = capturePayloadTags({ v: { w: 'y'.repeat(5000) } }, 'p', 1)['p.v']!;
    expect(deep).toHaveLength(4096);
    expect(deep.startsWith('{"w":"yyy')).toBe(true);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { serialiseObject } from '../src/formats.js';
import { compileRules, LambdaLogs } from '../src/index.js';
import { decodeAll } from './helpers/intake-schema.js';
import { ARN, fixture, fn } from './helpers/telemetry.js';

interface Case {
  name: string;
  record: string | Record<string, unknown>;
  status: string;
  requestId: string | null;
  message?: string;
  attributes?: Record<string, unknown>;
}

const cases = fixture<Case[]>('runtime-lines.json');
const CURRENT = 'ffffffff-0000-4000-8000-000000000000';

describe('runtime log formats', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const logs = new LambdaLogs({ functionArn: ARN, service: 'checkout', tags: 'env:prod' });
    // Lines without their own request id take the current invocation's.
    logs.ingest({ time: '2024-05-01T12:00:00.430Z', type: 'platform.start', record: { requestId: CURRENT } });
    logs.ingest(fn(c.record, '2024-05-01T12:00:00.431Z'));
    const [start, event] = decodeAll(logs.flush());
    expect(start!.message).toBe(`START RequestId: ${CURRENT} Version: $LATEST`);
    expect(event).toBeDefined();
    expect(event!.status).toBe(c.status);
    expect(event!.lambda!.request_id).toBe(c.requestId ?? CURRENT);
    expect(event!.lambda!.arn).toBe(ARN);
    expect(event!.timestamp).toBe(Date.parse('2024-05-01T12:00:00.431Z'));
    expect(event!.hostname).toBe(ARN);
    expect(event!.service).toBe('checkout');
    expect(event!.ddsource).toBe('lambda');
    expect(event!.ddtags).toBe('env:prod');
    if (c.message !== undefined) expect(event!.message).toBe(c.message);
    else if (typeof c.record === 'string') expect(event!.message).toBe(c.record.replace(/\n$/, ''));
    if (c.attributes) expect(event!.attributes).toEqual(c.attributes);
  });

  it('keeps a multi-line record (a stack trace) as one event, newlines inside', () => {
    const logs = new LambdaLogs({ functionArn: ARN });
    const trace = cases.filter((c) => c.name.includes('stack') || c.name.includes('uncaught'));
    expect(trace.length).toBeGreaterThanOrEqual(3);
    logs.ingest({ time: '2024-05-01T12:00:00.430Z', type: 'platform.start', record: { requestId: CURRENT } });
    for (const c of trace) logs.ingest(fn(c.record));
    const events = decodeAll(logs.flush()).slice(1);
    expect(events).toHaveLength(trace.length);
    for (const e of events.filter((x) => !x.message.startsWith('{'))) {
      expect(e.message.split('\n').length).toBeGreaterThan(2);
      expect(e.status).toBe('error');
    }
  });

  it('parses a JSON message into attributes, lifting ddtags into the tags', () => {
    const logs = new LambdaLogs({ functionArn: ARN, tags: ['env:prod', 'team:a'] });
    logs.ingest(
      fn({
        level: 'error',
        message: 'card declined',
        ddtags: 'payment:stripe',
        order: { id: 42 },
        requestId: CURRENT,
      }),
    );
    logs.ingest(fn(`{"message":{"ddtags":"k:v","message":"nested","n":1}}`));
    logs.ingest(
      fn(
        `2024-05-01T12:00:00.431Z\t${CURRENT}\tINFO\t{"level":"warn","message":"x","cart":3,"ddtags":"c:d"}\n`,
      ),
    );
    const events = decodeAll(logs.flush({ final: true }));
    expect(events[0]).toMatchObject({
      message: 'card declined',
      status: 'error',
      ddtags: 'env:prod,team:a,payment:stripe',
    });
    expect(events[0]!.attributes).toEqual({ level: 'error', order: { id: 42 }, requestId: CURRENT });
    // The nested record has no request id: it waited as an orphan and came out in the final flush.
    expect(events[2]).toMatchObject({
      message: 'nested',
      ddtags: 'env:prod,team:a,k:v',
      attributes: { n: 1 },
    });
    expect(events[1]).toMatchObject({
      status: 'warn',
      ddtags: 'env:prod,team:a,c:d',
      attributes: { level: 'warn', cart: 3 },
    });
    expect(events[1]!.message.startsWith('2024-05-01T12:00:00.431Z\t')).toBe(true);
  });

  it('adds the durable-function attributes from an executionArn', () => {
    const logs = new LambdaLogs({ functionArn: ARN });
    logs.ingest(
      fn({
        level: 'INFO',
        message: 'step done',
        requestId: CURRENT,
        executionArn: `${ARN}:$LATEST/durable-execution/order-flow/0f9e8d7c`,
      }),
    );
    const [e] = decodeAll(logs.flush());
    expect(e!.lambda).toEqual({
      arn: ARN,
      request_id: CURRENT,
      durable_function: { execution_name: 'order-flow', execution_id: '0f9e8d7c' },
    });
  });

  it('cannot be made to crash by odd records', () => {
    const logs = new LambdaLogs({ functionArn: ARN });
    const odd = [
      null,
      42,
      'text',
      {},
      { type: 7 },
      { type: 'function', record: 5 },
      { type: 'function', record: null },
      { type: 'function', record: ['a'] },
      { type: 'nonsense', record: {} },
      { type: 'platform.start', record: 'x' },
      { type: 'platform.report', record: { requestId: 5 } },
      { type: 'function', time: 'not a time', record: '{"level":' },
      { type: 'function', record: '[INFO]' },
      { type: 'function', record: '2024-05-01T12:00:00.431Z\t' },
    ];
    const cyclic: Record<string, unknown> = { level: 'INFO', message: 'loop' };
    cyclic['self'] = cyclic;
    expect(() => logs.ingest(odd)).not.toThrow();
    const withRules = new LambdaLogs({
      functionArn: ARN,
      rules: compileRules([{ type: 'exclude_at_match', name: 'x', pattern: 'x' }]),
    });
    expect(() => withRules.ingest([fn(cyclic), fn({ big: 10n, message: 'bigint' })])).not.toThrow();
    expect(withRules.stats().invalid).toBe(2);
    const s = logs.stats();
    expect(s.invalid).toBe(9);
    const events = decodeAll(logs.flush({ final: true }));
    expect(events.map((e) => e.message)).toEqual(['{"level":', '[INFO]', '2024-05-01T12:00:00.431Z\t']);
  });
});

describe('JSON-format records through rules that do not change them', () => {
  // The rules' text and the attributes come from one serialisation: the events must be byte for
  // byte those of the path without rules.
  const records: Record<string, unknown>[] = [
    {
      timestamp: '2024-05-01T12:00:00.431Z',
      level: 'INFO',
      requestId: CURRENT,
      message: 'cart updated',
      items: 3,
    },
    {
      level: 'WARN',
      message: 'no "quotes" \n or é ✓ 😀 \u0001',
      nested: { a: [1, null, 'x'] },
      skip: undefined,
    },
    { status: 'error', message: { text: 'an object message' }, extra: true },
    { msg: 'no message field', n: 1.5, list: ['a', 'b'] },
    { ddtags: 'team:a', message: 'tagged', k: 'v' },
    { message: { ddtags: 'team:b', inner: 1 }, k: 'v' },
    { level: 'INFO', message: '{"status":"debug","inner":{"x":1}}', outer: 2 },
    { when: new Date(Date.UTC(2024, 4, 1)), message: 'toJSON value' },
    { message: 'odd values', f: () => 1, s: Symbol('s'), nan: Number.NaN },
    { 0: 'numeric key', message: 'key order', z: 1, a: 2 },
  ];
  it.each(records.map((r, i) => [i, r] as const))('record %i', (_i, record) => {
    const bodies = ['no-rules', 'rules'].map((mode) => {
      const logs = new LambdaLogs({
        functionArn: ARN,
        rules:
          mode === 'rules'
            ? compileRules([{ type: 'exclude_at_match', name: 'never', pattern: 'NEVER_MATCHES' }])
            : [],
      });
      logs.ingest({
        time: '2024-05-01T12:00:00.430Z',
        type: 'platform.start',
        record: { requestId: CURRENT },
      });
      logs.ingest(fn(record, '2024-05-01T12:00:00.431Z'));
      return Buffer.concat(logs.flush().map((p) => p.body)).toString();
    });
    expect(bodies[1]).toBe(bodies[0]);
  });

  it('serialises a record for the rules exactly as JSON.stringify does, or leaves it to it', () => {
    const value = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc.string({ unit: 'binary-ascii', minLength: 60, maxLength: 70 }),
      fc.string({ maxLength: 2000 }),
      fc.double(),
      fc.integer(),
      fc.boolean(),
      fc.constantFrom(null, undefined, -0, () => 1, Symbol('s')),
      fc.date({ noInvalidDate: false }),
      fc.jsonValue(),
      fc.array(fc.oneof(fc.string(), fc.constant(undefined))),
    );
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 6 }), value, { maxKeys: 8 }), (obj) => {
        const s = serialiseObject(obj);
        if (s !== undefined) expect(s.text).toBe(JSON.stringify(obj));
        else expect(Object.values(obj).some((v) => v instanceof Date)).toBe(true);
      }),
      { numRuns: 500 },
    );
    expect(serialiseObject({ n: 1n })).toBeUndefined();
    expect(() => serialiseObject({ a: { b: 1n } })).toThrow();
    const cycle: Record<string, unknown> = { m: 'x' };
    cycle['self'] = cycle;
    expect(() => serialiseObject(cycle)).toThrow();
  });
});

describe('small formatting helpers', () => {
  // Plain, escaped, non-ASCII, surrogate pairs and lone surrogates, either side of the 64-character cut.
  const STRINGS_TO_ESCAPE = [
    'plain',
    '',
    'a "quoted" word',
    'back\\slash',
    'tab\there',
    'nul\u0000',
    'caf\u00e9 \u2028',
    'pair \ud83d\ude00',
    'lone \ud83d',
    'lone \ude00',
    'x'.repeat(64),
    `${'x'.repeat(64)}"`,
  ];

  it('writes a timestamp exactly as String() does', async () => {
    const { timestampJson } = await import('../src/encoder.js');
    const values = [
      1714564800000,
      1714564800005,
      1714564800050,
      1714564800999,
      1e12,
      1e12 - 1,
      2_147_483_646_999,
      2_147_483_647_000,
      0,
      -5,
      1714564800431.5,
      17,
      Date.now(),
    ];
    for (const v of values) expect(timestampJson(v)).toBe(String(v));
  });

  it('serialises attribute values exactly as JSON.stringify does', async () => {
    const { interpretObject } = await import('../src/formats.js');
    const values: unknown[] = [
      ...STRINGS_TO_ESCAPE,
      0,
      -0,
      7,
      -3.25,
      1e21,
      5e-7,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      null,
      true,
      [1, 'two'],
      { nested: 'yes' },
    ];
    for (const value of values) {
      const out = interpretObject({ message: 'm', value });
      expect(out.attributesJson).toBe(`,"value":${JSON.stringify(value)}`);
    }
  });

  it("ships a JSON record's message exactly, whatever it needs escaped", () => {
    const messages = STRINGS_TO_ESCAPE;
    const logs = new LambdaLogs({ functionArn: ARN, rules: compileRules([]) });
    const ruled = new LambdaLogs({
      functionArn: ARN,
      rules: compileRules([{ type: 'exclude_at_match', name: 'none', pattern: 'GET /healthz' }]),
    });
    for (const l of [logs, ruled]) {
      l.ingest({ time: '2024-05-01T12:00:00.000Z', type: 'platform.start', record: { requestId: 'r-1' } });
      l.ingest(messages.map((message) => fn({ level: 'INFO', message, n: 1 })));
      const shipped = decodeAll(l.flush()).map((e) => e.message);
      expect(shipped.slice(1)).toEqual(messages);
    }
  });

  it('reads a Python line exactly as its pattern does', async () => {
    const { interpretText } = await import('../src/formats.js');
    const { statusFromLevel } = await import('../src/status.js');
    const PYTHON = /^\[([A-Za-z]+)\]\t\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z\t([^\t]*)\t/;
    const BRACKET = /^\[([A-Za-z]+)\][ \t]/;
    const rid = '6d68ca91-49c9-448d-89b8-7ca3e6dc66aa';
    const lines = [
      `[INFO]\t2024-05-01T12:00:00.431Z\t${rid}\thello`,
      `[WARNING]\t2024-05-01T12:00:00Z\t${rid}\tno fraction`,
      `[error]\t2024-05-01T12:00:00.123456Z\t${rid}\tmicroseconds`,
      `[DEBUG]\t2024-05-01T12:00:00.Z\t${rid}\ta dot without digits`,
      `[INFO]\t2024-05-01T12:00:00.431\t${rid}\tno Z`,
      `[INFO]\t2024-05-01 12:00:00.431Z\t${rid}\ta space for the T`,
      `[INFO]\t2024-05-01T12:0a:00.431Z\t${rid}\ta letter in the time`,
      '[INFO]\t2024-05-01T12:00:00.431Z\t\tan empty request id',
      `[INFO]\t2024-05-01T12:00:00.431Z\t${rid}`,
      `[INFO]\t2024-05-01T12:00:00.431Z\t${rid}\t{"level":"error","k":1}`,
      `[INF0]\t2024-05-01T12:00:00.431Z\t${rid}\ta digit in the level`,
      `[]\t2024-05-01T12:00:00.431Z\t${rid}\tno level`,
      `[Info] 2024-05-01T12:00:00.431Z\t${rid}\ta space after the bracket`,
      '[INFO]\t2024',
      '[INFO]',
      '[',
    ];
    for (const line of lines) {
      const py = PYTHON.exec(line);
      const out = interpretText(line);
      if (py) {
        const inner = line.slice(py[0].length);
        const innerLevel = inner.startsWith('{')
          ? (JSON.parse(inner) as { level?: string }).level
          : undefined;
        expect(out.status, line).toBe(statusFromLevel(innerLevel) ?? statusFromLevel(py[1]));
        expect(out.requestId, line).toBe(py[2] === '' ? undefined : py[2]);
      } else {
        const b = BRACKET.exec(line);
        expect(out.status, line).toBe(b ? statusFromLevel(b[1]) : undefined);
        expect(out.requestId, line).toBeUndefined();
      }
      expect(out.message, line).toBe(line);
    }
  });

  it('maps level names case-insensitively, and nothing an object inherits', async () => {
    const { statusFromLevel } = await import('../src/status.js');
    expect(statusFromLevel('INFO')).toBe('info');
    expect(statusFromLevel('Warning')).toBe('warn');
    expect(statusFromLevel('fail')).toBe('error');
    expect(statusFromLevel('constructor')).toBeUndefined();
    expect(statusFromLevel('toString')).toBeUndefined();
  });
});

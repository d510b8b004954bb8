// The transcoded path (handleV04: meta copied from the msgpack body into the protobuf spans) against
// the decoding path (handleTraces(decodeV04(body))): for every capture and hand-built payload, under
// the configurations the apps use and with every processing rule that reads or rewrites meta, both
// must send the same thing, read back with the schema written from the spec.
import { readFileSync } from 'node:fs';
import { Packr, unpack } from 'msgpackr';
import { describe, expect, it, vi } from 'vitest';
import {
  DecodeError,
  decodeV04,
  type Env,
  fromEnv,
  type OutgoingPayload,
  TraceAgent,
  tracerHeadersFrom,
} from '../src/index.js';
import { allSpans, type DecodedAgentPayload, decodeAgentPayload } from './helpers/agent-payload-schema.js';
import { Bytes } from './helpers/mp.js';
import { randomSpan, rng } from './helpers/random-v04.js';

const fixture = (dir: string, file: string) =>
  readFileSync(new URL(`./fixtures/${dir}/${file}`, import.meta.url));

const CAPTURES = [
  fixture('dd-trace-plain', 'trace-1.msgpack'),
  fixture('dd-trace-lambda', 'trace-1.msgpack'),
  fixture('dd-lambda-v12', 'trace-1.msgpack'),
  fixture('dd-lambda-v12', 'trace-2.msgpack'),
  fixture('dd-lambda-v12-localtesting-error', 'trace-1.msgpack'),
];

const HEADER = tracerHeadersFrom({
  'datadog-meta-lang': 'nodejs',
  'datadog-meta-lang-version': 'v20.20.2',
  'datadog-meta-tracer-version': '5.132.0',
});

const ARN = 'arn:aws:lambda:us-east-1:123456789012:function:my-function';

/** Agents configured as the apps configure them, and with every meta rule there is. */
const CONFIGS: Record<string, () => TraceAgent> = {
  lambda: () => {
    const o = fromEnv({ DD_SERVICE: 'my-function', DD_ENV: 'prod', DD_TAGS: 'team:traces' });
    return new TraceAgent({
      ...o,
      port: 0,
      tags: { ...o.tags, functionname: 'my-function', function_arn: ARN, region: 'us-east-1' },
      functionName: 'my-function',
      functionArn: ARN,
      region: 'us-east-1',
      accountId: '123456789012',
    });
  },
  'serverless-init': () => {
    const o = fromEnv({ DD_SERVICE: 'svc', DD_ENV: 'test', DD_VERSION: '1.0' }, undefined, 'serverless-init');
    return new TraceAgent({ ...o, port: 0, tags: { ...o.tags, origin: 'cloudrun' }, origin: 'cloudrun' });
  },
  rules: () => {
    const env: Env = {
      DD_SERVICE: 'svc',
      DD_ENV: 'staging',
      DD_LAMBDA_EXTENSION_COMPUTE_STATS: 'true',
      DD_APM_REPLACE_TAGS: JSON.stringify([
        { name: 'http.url', pattern: 'token=[^&]*', repl: 'token=?' },
        { name: 'resource.name', pattern: '\\d+', repl: 'N' },
        { name: 'custom.secret', pattern: '.+', repl: 'redacted' },
      ]),
      DD_APM_FILTER_TAGS_REJECT: 'drop.me:yes',
      DD_APM_FILTER_TAGS_REQUIRE: 'language',
      DD_APM_IGNORE_RESOURCES: '^GET /health',
      DD_APM_OBFUSCATION_HTTP_REMOVE_QUERY_STRING: 'true',
      DD_APM_OBFUSCATION_HTTP_REMOVE_PATHS_WITH_DIGITS: 'true',
      DD_APM_OBFUSCATION_REMOVE_STACK_TRACES: 'true',
      DD_APM_OBFUSCATION_CREDIT_CARDS_KEEP_VALUES: 'card.kept',
    };
    return new TraceAgent({ ...fromEnv(env), port: 0 });
  },
};

/** What an agent sends, read back with the spec's schema (traces) or as msgpack (stats). */
function sent(out: OutgoingPayload[]): unknown[] {
  return out.map((p) =>
    p.kind === 'traces'
      ? { kind: p.kind, headers: p.headers, items: p.items, body: decodeAgentPayload(p.body) }
      : { kind: p.kind, items: p.items, body: unpack(p.body) },
  );
}

/** `f` with Math.random replaced by a seeded sequence: the ids the extension makes repeat run to run. */
function seeded<T>(f: () => T): T {
  const r = rng(7);
  const spy = vi.spyOn(Math, 'random').mockImplementation(r);
  try {
    return f();
  } finally {
    spy.mockRestore();
  }
}

const outcomeOf = (err: unknown) =>
  err instanceof DecodeError ? 'DecodeError' : `other: ${(err as Error).message}`;

/** The bodies through one path of a fresh agent: what it answered, sent and counted. */
function run(config: string, bodies: Uint8Array[], transcode: boolean, prepare?: (a: TraceAgent) => void) {
  return seeded(() => {
    const agent = CONFIGS[config]!();
    prepare?.(agent);
    const answers = bodies.map((b) => {
      try {
        if (transcode) agent.handleV04(b, HEADER);
        else agent.handleTraces(decodeV04(b), HEADER);
        return 'ok';
      } catch (err) {
        return outcomeOf(err);
      }
    });
    let out: unknown;
    try {
      out = sent(agent.flush(true));
    } catch (err) {
      // random durations can overflow the stats sums: both paths must fail alike then
      out = outcomeOf(err);
    }
    const { requestsTranscoded, ...counters } = agent.counters;
    return { answers, out, counters, processor: agent.processor.counters, requestsTranscoded };
  });
}

/** Asserts both paths give the same; returns how many bodies were transcoded. */
function expectSame(config: string, bodies: Uint8Array[], prepare?: (a: TraceAgent) => void): number {
  const { requestsTranscoded: none, ...decoding } = run(config, bodies, false, prepare);
  const { requestsTranscoded, ...transcoding } = run(config, bodies, true, prepare);
  expect(none).toBe(0);
  expect(transcoding).toEqual(decoding);
  return requestsTranscoded;
}

/** A span of the usual v0.4 shape (as a map for msgpackr). */
function span(over: { meta?: Record<string, unknown>; [k: string]: unknown } = {}) {
  const { meta, ...rest } = over;
  return {
    service: 'svc',
    name: 'web.request',
    resource: 'GET /items',
    trace_id: 0x1234567890abcdefn,
    span_id: 0x1111222233334444n,
    parent_id: 0,
    start: 1_796_311_861_000_000_000n,
    duration: 1_500_000,
    error: 0,
    meta: { language: 'javascript', 'runtime-id': 'f0e1d2c3-b4a5-4697-8899-aabbccddeeff', ...meta },
    metrics: { _sampling_priority_v1: 1, _dd_measured: 1, process_id: 42 },
    type: 'web',
    ...rest,
  };
}

const packr = new Packr({ useRecords: false, variableMapSize: true });
const body = (traces: unknown[][]) => packr.pack(traces);

describe('v0.4 transcoding', () => {
  for (const config of Object.keys(CONFIGS)) {
    it(`sends what the decoding path sends, for the real clients' captures (${config})`, () => {
      // in Lambda, a request with aws.lambda.load waits for the cold start: those are decoded
      const waiting = config === 'lambda' ? 2 : 0;
      expect(expectSame(config, CAPTURES)).toBe(CAPTURES.length - waiting);
    });
  }

  it('links the cold start as the decoding path does, once the cold start is known', () => {
    for (const capture of [CAPTURES[2]!, CAPTURES[4]!]) {
      const { request_id } = decodeV04(capture)
        .flat()
        .find((s) => s.name === 'aws.lambda')!.meta;
      const coldStart = (a: TraceAgent) =>
        a.setColdStart({ startNs: 1_796_311_860_000_000_000, durationMs: 420.5, requestId: request_id! });
      expect(expectSame('lambda', [capture, CAPTURES[3]!], coldStart)).toBe(2);
      const out = run('lambda', [capture], true, coldStart).out as { body: DecodedAgentPayload }[];
      const names = out.flatMap((p) => allSpans(p.body).map((s) => s.name));
      expect(names).toContain('aws.lambda.cold_start');
    }
  });

  it('sends the same for random payloads of every shape, and takes most of them', () => {
    let transcoded = 0;
    let bodies = 0;
    const WATCHED: [string, string][] = [
      ['http.url', 'http://127.0.0.1:8124/lambda/start-invocation'],
      ['http.url', 'https://example.com/users/123?token=abc'],
      ['out.host', 'localhost'],
      ['out.port', '8126'],
      ['dns.hostname', 'localhost'],
      ['span.kind', 'client'],
      ['_dd.origin', 'synthetics'],
      ['env', 'from-tracer'],
      ['version', '2.0'],
      ['origin', 'from-tracer'],
      ['_dd.compute_stats', '0'],
      ['functionname', 'other-function'],
      ['team', 'other-team'],
      ['_inferred_span.tag_source', 'self'],
      ['_dd.p.tid', '6601f0a200000000'],
      ['error.stack', 'Error: x\n  at y'],
      ['_card', '4111111111111111'],
      ['sql.query', 'SELECT * FROM t WHERE id = 42'],
      ['custom.secret', 'hunter2'],
      ['drop.me', 'yes'],
      ['uuid', '3f2a9c1e-0000-4000-8000-000000000000'],
      ['', 'empty key'],
      ['empty.value', ''],
    ];
    // entries that send a body to the decoding path (in some configurations): rarer
    const RARE: [string, string][] = [
      ['card.number', '4111 1111 1111 1111'],
      ['card.kept', '4111 1111 1111 1111'],
      ['long.value', 'v'.repeat(25_001)],
      [`${'k'.repeat(201)}`, 'long key'],
    ];
    for (let c = 0; c < 40; c++) {
      const r = rng(1000 + c);
      const odd = r() < 0.2;
      const traces = Array.from({ length: 1 + Math.floor(r() * 4) }, () =>
        Array.from({ length: 1 + Math.floor(r() * 6) }, () => {
          const s = randomSpan(r, odd);
          if (r() < 0.7) {
            const meta = (s['meta'] ?? {}) as Record<string, unknown>;
            for (let i = 0; i < 4; i++) {
              const [k, v] = WATCHED[Math.floor(r() * WATCHED.length)]!;
              if (r() < 0.5) meta[k] = v;
            }
            if (r() < 0.02) {
              const [k, v] = RARE[Math.floor(r() * RARE.length)]!;
              meta[k] = v;
            }
            s['meta'] = meta;
          }
          if (r() < 0.3) s['type'] = ['sql', 'redis', 'memcached', 'mongodb', 'web', 'serverless'][c % 6];
          return s;
        }),
      );
      for (const config of Object.keys(CONFIGS)) {
        transcoded += expectSame(config, [body(traces)]);
        bodies++;
      }
    }
    // the point is to compare the two paths: most bodies must take the transcoded one
    expect(transcoded).toBeGreaterThan(bodies / 3);
  });

  it('copies non-ASCII text as it is and leaves invalid UTF-8 and __proto__ to the decoding path', () => {
    const text = body([[span({ meta: { 'naïve.key': '日本語 🙂', plain: 'é' } })]]);
    expect(expectSame('lambda', [text])).toBe(1);
    const proto = new Bytes().arr(1).arr(1).map(1).str('meta').map(1).str('__proto__').str('x').done();
    const head = new Bytes().arr(1).arr(1).map(2).str('span_id').u(5, 1).str('meta').map(1).str('k').done();
    const invalid = Uint8Array.from([...head, 0xa2, 0xc3, 0x28]);
    for (const b of [proto, invalid]) expect(expectSame('lambda', [b])).toBe(0);
  });

  it('leaves entries processing would change to the decoding path: cards, huge values, long keys', () => {
    const cases = [
      { 'payment.card': '4111111111111111' },
      { big: 'x'.repeat(25_001) },
      { ['k'.repeat(201)]: 'v' },
      { count: 5 },
    ];
    for (const meta of cases) expect(expectSame('serverless-init', [body([[span({ meta })]])])).toBe(0);
    // a value that only looks like one at first sight is copied
    const uuid = body([[span({ meta: { id: '4a1b2c3d-0000-4000-8000-000000000000', n: '412345678901' } })]]);
    expect(expectSame('serverless-init', [uuid])).toBe(1);
  });

  it('sends the same for a large request (its stage grows past its first buffer)', () => {
    const big = body([
      Array.from({ length: 400 }, (_, i) =>
        span({
          span_id: BigInt(1000 + i),
          parent_id: i === 0 ? 0 : 1000n,
          meta: { 'payload.part': `${i}:${'p'.repeat(300)}`, 'http.method': 'GET', env: 'tracer-env' },
        }),
      ),
    ]);
    expect(big.length).toBeGreaterThan(1 << 17);
    for (const config of Object.keys(CONFIGS)) expect(expectSame(config, [big, big])).toBe(2);
  });

  it('keeps the decoding path for span links, meta_struct and unknown fields', () => {
    const bodies = [
      body([[span({ meta_struct: { x: Buffer.from([1, 2]) } })]]),
      body([[span({ span_links: [{ trace_id: 1, span_id: 2 }] })]]),
      body([[span({ custom_field: 'x' })]]),
    ];
    expect(expectSame('lambda', bodies)).toBe(0);
  });

  it('drops, maps and tags as the decoding path does', () => {
    const internal = span({
      span_id: 7n,
      meta: { 'http.url': 'http://127.0.0.1:8124/lambda/end-invocation' },
    });
    const inferred = span({
      span_id: 8n,
      service: 'aws.lambda',
      meta: { '_inferred_span.tag_source': 'self' },
    });
    const placeholder = span({
      span_id: 9n,
      resource: 'dd-tracer-serverless-span',
      meta: { request_id: 'r-1' },
    });
    const dup = span({ span_id: 8n, service: 'aws.lambda', meta: { '_inferred_span.tag_source': 'self' } });
    const sql = span({ span_id: 10n, type: 'sql', resource: 'SELECT * FROM t WHERE id = 42' });
    const traces = [[internal, inferred, placeholder, sql], [dup]];
    for (const config of Object.keys(CONFIGS)) expect(expectSame(config, [body(traces)])).toBe(1);
  });

  it('decodes instead when an app has added a span-processor hook, and the hook sees whole spans', () => {
    const agent = CONFIGS['serverless-init']!();
    const seen: string[][] = [];
    agent.addSpanProcessorHook((chunk) => {
      for (const s of chunk.spans) seen.push(Object.keys(s.meta));
    });
    agent.handleV04(CAPTURES[0]!, HEADER);
    expect(agent.counters.requestsTranscoded).toBe(0);
    expect(seen.length).toBeGreaterThan(0);
    const whole = decodeV04(CAPTURES[0]!).flat();
    expect(seen[0]).toEqual(expect.arrayContaining(Object.keys(whole[0]!.meta)));
  });

  it('answers a body that is not a payload with a DecodeError', () => {
    const agent = CONFIGS['lambda']!();
    expect(() => agent.handleV04(Uint8Array.from([0xc1]), HEADER)).toThrow(DecodeError);
    expect(() => agent.handleV04(CAPTURES[0]!.subarray(0, 100), HEADER)).toThrow(DecodeError);
  });
});

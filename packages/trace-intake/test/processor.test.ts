import { describe, expect, it } from 'vitest';
import {
  defaultProcessorOptions,
  encodeAgentPayloads,
  fromEnv,
  type Span,
  SpanProcessor,
  type TracerHeaders,
  type TracerPayload,
  tracerHeadersFrom,
} from '../src/index.js';
import { allSpans, decodeAgentPayload } from './helpers/agent-payload-schema.js';

const H: TracerHeaders = tracerHeadersFrom({ 'datadog-meta-lang': 'nodejs' });
let next = 1;
const span = (over: Partial<Span> = {}): Span => ({
  service: 'svc',
  name: 'op',
  resource: 'res',
  trace_id: 100,
  span_id: next++,
  parent_id: 0,
  start: 1_700_000_000_000_000_000n,
  duration: 1000,
  error: 0,
  meta: {},
  metrics: {},
  type: '',
  ...over,
});

// what Datadog receives: the processor's stamps are written by the encoder
function sent(p: TracerPayload) {
  return encodeAgentPayloads([p], { agentVersion: 't', targetTPS: 0, errorTPS: 0 }).flatMap((o) =>
    allSpans(decodeAgentPayload(o.body)),
  );
}

function processor(env: Record<string, string> = {}, tags: Record<string, string> = {}) {
  const o = fromEnv(env);
  return new SpanProcessor({ ...defaultProcessorOptions(), ...o, tags: { ...o.tags, ...tags } });
}

describe('Lambda tags and naming', () => {
  it('stamps origin, compute_stats, function tags, env/version; DD_SERVICE replaces aws.lambda', () => {
    const p = processor(
      { DD_SERVICE: 'Orders', DD_ENV: 'prod', DD_VERSION: '7', DD_TAGS: 'team:pay,tier:1 owner:ann' },
      { function_arn: 'arn:aws:lambda:us-east-1:1:function:f', functionname: 'f' },
    );
    const root = span({ service: 'aws.lambda', name: 'aws.lambda' });
    const own = span({ parent_id: root.span_id, meta: { env: 'staging' } });
    const inferred = span({
      parent_id: 0,
      name: 'aws.sqs',
      service: 'q',
      meta: { '_inferred_span.tag_source': 'self' },
    });
    const out = p.process([[root, own], [inferred]], H)!;
    expect(out.tags!['_dd.tags.function']).toBe(
      'team:pay,tier:1,owner:ann,function_arn:arn:aws:lambda:us-east-1:1:function:f,functionname:f',
    );
    expect(out.env).toBe('prod');
    expect(out.appVersion).toBe('7');
    expect(root.service).toBe('orders');
    const [r, o, inf] = sent(out);
    expect(r!.service).toBe('orders');
    expect(r!.meta).toMatchObject({
      '_dd.origin': 'lambda',
      origin: 'lambda',
      '_dd.compute_stats': '1',
      team: 'pay',
      owner: 'ann',
      functionname: 'f',
      env: 'prod',
      version: '7',
    });
    expect(o!.meta['env']).toBe('staging');
    expect(o!.meta['_dd.origin']).toBe('lambda');
    expect(inf!.meta['_dd.base_service']).toBe('orders');
    expect(inf!.meta['team']).toBe('pay');
    expect(out.chunks.map((c) => c.origin)).toEqual(['lambda', 'lambda']);
  });

  it('with DD_LAMBDA_EXTENSION_COMPUTE_STATS the spans are not stamped for the backend', () => {
    const p = processor({ DD_LAMBDA_EXTENSION_COMPUTE_STATS: 'true' });
    const [s] = sent(p.process([[span({ meta: { _dd: 'x' } })]], H)!);
    expect(s!.meta['_dd.compute_stats']).toBeUndefined();
    expect(s!.meta['_dd.origin']).toBe('lambda');
    // a tracer's own origin is replaced, as the extension does
    const [t] = sent(processor().process([[span({ meta: { '_dd.origin': 'rum' } })]], H)!);
    expect(t!.meta['_dd.origin']).toBe('lambda');
  });

  it('marks top-level spans (root, or service differs from the parent) unless the tracer did', () => {
    const p = processor();
    const root = span();
    const same = span({ parent_id: root.span_id });
    const other = span({ parent_id: root.span_id, service: 'db' });
    p.process([[root, same, other]], H);
    expect([root, same, other].map((s) => s.metrics['_top_level'])).toEqual([1, undefined, 1]);
    const q = processor();
    const r2 = span({ metrics: { _dd: 1 } });
    q.process([[r2]], tracerHeadersFrom({ 'datadog-client-computed-top-level': 'yes' }));
    expect(r2.metrics['_top_level']).toBeUndefined();
  });

  it('keeps the sampling priority as sent, on the chunk', () => {
    const p = processor();
    const out = p.process(
      [
        [span({ metrics: { _sampling_priority_v1: 2 } })],
        [span({ metrics: { _sampling_priority_v1: -1 } })],
        [span()],
      ],
      H,
    )!;
    expect(out.chunks.map((c) => c.priority)).toEqual([2, -1, -128]);
  });
});

describe('what the extension drops', () => {
  it('calls to the extension and the Runtime API, and their DNS lookups', () => {
    const p = processor();
    const keep = span({ name: 'http.request', meta: { 'http.url': 'https://api.example.com/x' } });
    const dropped = [
      span({ meta: { 'http.url': 'http://127.0.0.1:8124/lambda/start-invocation' } }),
      span({ meta: { 'http.url': 'http://127.0.0.1:8126/v0.4/traces' } }),
      span({ meta: { 'http.url': 'http://localhost:9001/2018-06-01/runtime/invocation/next' } }),
      span({ name: 'tcp.connect', meta: { 'tcp.remote.host': '127.0.0.1', 'tcp.remote.port': '8125' } }),
      span({ name: 'dns.lookup', meta: { 'dns.hostname': 'localhost' } }),
      span({ name: 'dns.lookup', meta: { 'dns.address': '169.254.79.129' } }),
    ];
    const out = p.process([[keep, ...dropped]], H)!;
    expect(out.chunks[0]!.spans).toEqual([keep]);
    expect(p.counters.spansDropped.internal).toBe(dropped.length);
  });

  it('duplicates (same trace and span id), invalid ids, and counts each', () => {
    const p = processor();
    const a = span();
    p.process([[a]], H);
    expect(p.process([[{ ...a, meta: {} }]], H)).toBeUndefined();
    expect(p.process([[span({ trace_id: 0 }), span({ span_id: 0n })]], H)).toBeUndefined();
    expect(p.counters.spansDropped).toMatchObject({ duplicate: 1, invalid: 2 });
  });

  it('DD_APM_FILTER_TAGS_* and DD_APM_IGNORE_RESOURCES decide on the root span', () => {
    const p = processor({
      DD_APM_FILTER_TAGS_REJECT: 'http.url:http://x/health debug',
      DD_APM_FILTER_TAGS_REGEX_REQUIRE: 'env:^prod',
      DD_APM_IGNORE_RESOURCES: 'GET /ping,^SELECT 1$',
    });
    const chunk = (root: Partial<Span>) => [span(root), span({ parent_id: 9999 })];
    expect(p.process([chunk({ meta: { env: 'prod-eu' } })], H)).toBeDefined();
    expect(p.process([chunk({ meta: { env: 'dev' } })], H)).toBeUndefined();
    expect(p.process([chunk({ meta: { env: 'prod', debug: 'x' } })], H)).toBeUndefined();
    expect(p.process([chunk({ meta: { env: 'prod', 'http.url': 'http://x/health' } })], H)).toBeUndefined();
    expect(p.process([chunk({ meta: { env: 'prod' }, resource: 'GET /ping' })], H)).toBeUndefined();
    expect(p.counters.chunksFiltered).toEqual({ filterTags: 3, ignoreResources: 1 });
    // filters also match name/service/resource/type
    const q = processor({ DD_APM_FILTER_TAGS_REQUIRE: 'service:svc' });
    expect(q.process([[span()]], H)).toBeDefined();
    expect(q.process([[span({ service: 'other' })]], H)).toBeUndefined();
  });

  it('DD_APM_REPLACE_TAGS rewrites tag values and the resource', () => {
    const p = processor({
      DD_APM_REPLACE_TAGS: JSON.stringify([
        { name: 'http.url', pattern: 'token=[^&]+', repl: 'token=?' },
        { name: 'resource.name', pattern: '\\d+', repl: 'N' },
        { name: '*', pattern: 'ann@example\\.com', repl: '<email>' },
        { name: 'bad', pattern: '(' },
      ]),
    });
    const s = span({
      resource: 'GET /u/12/p/3',
      meta: { 'http.url': 'https://x/?token=abc&b=1', user: 'ann@example.com' },
    });
    p.process([[s]], H);
    expect(s.resource).toBe('GET /u/N/p/N');
    expect(s.meta['http.url']).toBe('https://x/?token=?&b=1');
    expect(s.meta['user']).toBe('<email>');
  });

  it('normalises: empty names and resources, huge meta values cut, non-finite metrics dropped', () => {
    const p = processor({ DD_SERVICE: 'fn' });
    const s = span({
      name: '',
      resource: '',
      service: '',
      meta: { big: 'x'.repeat(30000) },
      metrics: { nan: Number.NaN, ok: 1 },
    });
    p.process([[s]], H);
    expect(s).toMatchObject({ name: 'unnamed_operation', resource: 'unnamed_operation', service: 'fn' });
    expect(s.meta['big']!.length).toBe(25003);
    expect(s.metrics).toMatchObject({ ok: 1 });
    expect('nan' in s.metrics).toBe(false);
    expect(p.counters.metaTruncated).toBe(1);
  });

  it('runs app hooks on every chunk (serverless-init re-parents job spans)', () => {
    const p = processor();
    p.addHook((chunk) => {
      for (const s of chunk.spans) if (s.parent_id === 0) s.parent_id = 4242n;
    });
    const s = span();
    p.process([[s]], H);
    expect(s.parent_id).toBe(4242n);
  });
});

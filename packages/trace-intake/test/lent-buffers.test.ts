// Memory the trace path reuses: request bodies read into lent buffers (BodyBuffers), and encoded
// chunks kept in slabs carved again after each flush (ChunkArena). What a request leaves behind must
// not change when the next one overwrites the memory.
import { Agent, request } from 'node:http';
import { Readable } from 'node:stream';
import { Packr } from 'msgpackr';
import { afterEach, describe, expect, it } from 'vitest';
import { BodyBuffers, readBody } from '../src/body.js';
import { ChunkArena } from '../src/chunk-arena.js';
import { fromEnv, TraceAgent, tracerHeadersFrom } from '../src/index.js';
import { allSpans, type DecodedSpan, decodeAgentPayload } from './helpers/agent-payload-schema.js';
import { startIntake, type TestIntake } from './helpers/intake.js';

const packr = new Packr({ useRecords: false, variableMapSize: true });
// a copy: the packer reuses its own buffer
const body = (traces: unknown[][]) => Buffer.from(packr.pack(traces));

const ARN = 'arn:aws:lambda:us-east-1:123456789012:function:my-function';

/** A trace of `n` spans whose ids and texts all derive from `seed` (same lengths for any seed < 10). */
function trace(seed: number, n = 3, extra: Record<string, unknown> = {}) {
  return Array.from({ length: n }, (_, i) => ({
    service: `svc-${seed}`,
    name: i === 0 ? 'web.request' : `call.${seed}${i}`,
    resource: `GET /items/${seed}${i}`,
    trace_id: 0x1000000000000000n + BigInt(seed),
    span_id: 0x2000000000000000n + BigInt(seed * 100 + i),
    parent_id: i === 0 ? 0 : 0x2000000000000000n + BigInt(seed * 100),
    start: 1_796_311_861_000_000_000n + BigInt(seed),
    duration: 1_500_000 + seed,
    error: 0,
    meta: { language: 'javascript', 'custom.tag': `value-${seed}-${i}`, 'http.method': 'GET' },
    metrics: { _sampling_priority_v1: 1, 'custom.metric': seed },
    type: 'web',
    ...extra,
  }));
}

const byId = (spans: DecodedSpan[]) => new Map(spans.map((s) => [s.spanID, s]));

function expectSent(got: Map<string, DecodedSpan>, sent: ReturnType<typeof trace>) {
  for (const s of sent) {
    const g = got.get(String(s.span_id));
    expect(g, `span ${s.span_id}`).toBeDefined();
    expect(g).toMatchObject({
      service: s.service,
      name: s.name,
      resource: s.resource,
      traceID: String(s.trace_id),
      parentID: String(s.parent_id),
    });
    expect(g!.meta).toMatchObject(s.meta);
    expect(g!.metrics['custom.metric']).toBe(s.metrics['custom.metric']);
  }
}

/** PUTs on one keep-alive connection; says whether each went on the connection already open. */
async function putAll(port: number, bodies: Buffer[]): Promise<boolean[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const reused: boolean[] = [];
  try {
    for (const b of bodies) {
      await new Promise<void>((resolve, reject) => {
        const headers = { 'content-type': 'application/msgpack', 'content-length': b.length };
        const req = request(
          { host: '127.0.0.1', port, path: '/v0.4/traces', method: 'PUT', agent, headers },
          (res) => {
            res.resume();
            res.on('end', () =>
              res.statusCode === 200 ? resolve() : reject(new Error(`${res.statusCode}`)),
            );
          },
        );
        req.on('error', reject);
        reused.push(req.reusedSocket);
        req.end(b);
      });
    }
  } finally {
    agent.destroy();
  }
  return reused;
}

let intake: TestIntake | undefined;
afterEach(async () => {
  await intake?.close();
  intake = undefined;
});

describe('lent body buffers', () => {
  it('two requests on one keep-alive connection: the first one’s spans are intact after the second', async () => {
    intake = await startIntake();
    const a = [trace(1), trace(2)];
    const b = [trace(3), trace(4)];
    const bodies = [body(a), body(b)];
    // the same length: the second body overwrites every byte of the first in the lent buffer
    expect(bodies[0]!.length).toBe(bodies[1]!.length);
    expect(await putAll(intake.port, bodies)).toEqual([false, true]);
    expect(intake.agent.counters.requestsTranscoded).toBe(2);
    const out = intake.agent.flush().filter((p) => p.kind === 'traces');
    const got = byId(out.flatMap((p) => allSpans(decodeAgentPayload(p.body))));
    expect(got.size).toBe(12);
    for (const t of [...a, ...b]) expectSent(got, t);
  });

  it('a decoded request held for the cold start keeps its bytes (meta_struct) while the next one is read', async () => {
    const o = fromEnv({ DD_SERVICE: 'my-function' });
    intake = await startIntake(
      {},
      {
        ...o,
        tags: { ...o.tags, functionname: 'my-function', function_arn: ARN },
        functionName: 'my-function',
        functionArn: ARN,
      },
    );
    // aws.lambda.load: the request waits for the cold start; meta_struct: it takes the decoding
    // path, whose bins are views of the body they were read from
    const held = trace(5, 2, { meta_struct: { appsec: Buffer.from([5, 5, 5, 5, 5, 5, 5, 5]) } });
    held[1]!.name = 'aws.lambda.load';
    const next = trace(6, 2, { meta_struct: { appsec: Buffer.from([6, 6, 6, 6, 6, 6, 6, 6]) } });
    next[1]!.name = 'aws.lambda.lxad';
    const bodies = [body([held]), body([next])];
    expect(bodies[0]!.length).toBe(bodies[1]!.length);
    expect(await putAll(intake.port, bodies)).toEqual([false, true]);
    expect(intake.agent.counters.requestsTranscoded).toBe(0);
    intake.agent.setColdStart({ startNs: 1_796_311_860_000_000_000, durationMs: 300, requestId: 'r-1' });
    const out = intake.agent.flush().filter((p) => p.kind === 'traces');
    const got = byId(out.flatMap((p) => allSpans(decodeAgentPayload(p.body))));
    expectSent(got, held);
    expectSent(got, next);
    for (const s of held)
      expect([...got.get(String(s.span_id))!.meta_struct!['appsec']!]).toEqual(Array(8).fill(5));
    for (const s of next)
      expect([...got.get(String(s.span_id))!.meta_struct!['appsec']!]).toEqual(Array(8).fill(6));
  });

  it('lends a buffer again once given back, grows it to the bodies, and never lends over the cap', () => {
    const buffers = new BodyBuffers(1 << 20, 2);
    const first = buffers.take(1000)!;
    expect(first.length).toBeGreaterThanOrEqual(1000);
    buffers.give(first);
    expect(buffers.take(900)).toBe(first);
    buffers.give(first);
    // too small for this body: a larger one is made, and it is the one kept
    const larger = buffers.take(first.length + 1)!;
    expect(larger).not.toBe(first);
    expect(larger.length).toBeGreaterThan(first.length);
    expect(buffers.take((1 << 20) + 1)).toBeUndefined();
    // at most two wait for the next request
    for (const b of [larger, buffers.take(10)!, buffers.take(10)!]) buffers.give(b);
    expect(buffers.idle).toBe(2);
  });

  it('readBody reads into the lent buffer and hands it back on success and on errors', async () => {
    const buffers = new BodyBuffers();
    const read = (parts: Buffer[], declared: string) =>
      new Promise<{ err: Error | null; body?: Buffer; lent?: Buffer }>((resolve) =>
        readBody(
          Readable.from(parts, { objectMode: false }),
          declared,
          1 << 20,
          (err, body, lent) => resolve({ err, body, lent }),
          buffers,
        ),
      );
    const ok = await read([Buffer.from('abc'), Buffer.from('de')], '5');
    expect(ok.err).toBeNull();
    expect(ok.body?.toString()).toBe('abcde');
    expect(ok.lent).toBeDefined();
    expect(ok.body?.buffer).toBe(ok.lent?.buffer);
    const bad = await read([Buffer.from('abcdef')], '5');
    expect(bad.err).not.toBeNull();
    expect(bad.lent).toBeDefined();
    // no declared length: nothing is lent
    const undeclared = await new Promise<Buffer | undefined>((resolve) =>
      readBody(Readable.from([Buffer.from('xy')]), undefined, 100, (_e, _b, lent) => resolve(lent), buffers),
    );
    expect(undeclared).toBeUndefined();
  });
});

describe('chunk arena', () => {
  const header = tracerHeadersFrom({ 'datadog-meta-lang': 'nodejs' });
  const agent = () => new TraceAgent({ ...fromEnv({ DD_SERVICE: 'svc', DD_ENV: 'test' }), port: 0 });

  it('a flushed payload still splits into the right spans after new requests overwrote the slabs', () => {
    const a = agent();
    const first = [trace(1), trace(2), trace(3), trace(4)];
    a.handleV04(body(first), header);
    const [p] = a.flush().filter((x) => x.kind === 'traces');
    const bodyBefore = Buffer.from(p!.body);
    // the same shapes again, other ids and texts: written where the first request's chunks were
    for (let i = 0; i < 3; i++) a.handleV04(body([trace(5 + i), trace(8), trace(9)]), header);
    expect(a.buffered.spans).toBeGreaterThan(0);
    expect(Buffer.from(p!.body).equals(bodyBefore)).toBe(true);
    const halves = p!.split!()!;
    expect(halves).toHaveLength(2);
    const got = byId(halves.flatMap((h) => allSpans(decodeAgentPayload(h.body))));
    expect(got.size).toBe(12);
    for (const t of first) expectSent(got, t);
    expect(halves.map((h) => h.items)).toEqual([6, 6]);
  });

  it('keeps many requests’ chunks apart until the flush, across slabs', () => {
    const a = agent();
    const sent = Array.from({ length: 400 }, (_, i) => trace(i % 10, 3, { resource: `GET /r/${i}` }));
    // distinct span ids for the de-duplicator
    sent.forEach((t, i) => {
      for (const s of t) {
        s.span_id += BigInt(i) << 20n;
        if (s.parent_id !== 0) s.parent_id += BigInt(i) << 20n;
      }
    });
    for (let i = 0; i < sent.length; i += 4) a.handleV04(body(sent.slice(i, i + 4)), header);
    const got = byId(
      a
        .flush()
        .filter((x) => x.kind === 'traces')
        .flatMap((p) => allSpans(decodeAgentPayload(p.body))),
    );
    expect(got.size).toBe(1200);
    for (const t of sent) expectSent(got, t);
  });

  it('carves chunks from slabs, gives large ones their own buffer, and keeps a bounded number', () => {
    const arena = new ChunkArena(2);
    const x = arena.take(100);
    const y = arena.take(200);
    expect(x.buffer).toBe(y.buffer);
    expect(y.byteOffset).toBe(x.byteOffset + 100);
    const big = arena.take(1 << 20);
    expect(big.length).toBe(1 << 20);
    expect(big.buffer).not.toBe(x.buffer);
    for (let i = 0; i < 10; i++) arena.take(30_000);
    expect(arena.bytes).toBeGreaterThan(2 * 128 * 1024);
    arena.reset();
    expect(arena.bytes).toBe(2 * 128 * 1024);
    expect(arena.take(10).buffer).toBe(x.buffer);
  });

  it('fills a slab’s tail with a later, smaller chunk', () => {
    const arena = new ChunkArena();
    const first = [1, 2, 3, 4].map(() => arena.take(30_000));
    expect(new Set(first.map((c) => c.buffer)).size).toBe(1);
    // does not fit in the first slab's tail: a second slab
    const second = arena.take(20_000);
    expect(second.buffer).not.toBe(first[0]!.buffer);
    const small = arena.take(5_000);
    expect(small.buffer).toBe(first[0]!.buffer);
    expect(small.byteOffset).toBe(first[0]!.byteOffset + 120_000);
  });
});

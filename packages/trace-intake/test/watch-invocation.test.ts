// watchInvocation: the app hears when an invocation's `aws.lambda` span is buffered (its trace is
// ready to flush), from what datadog-lambda-js 12 with dd-trace sends.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromEnv, TraceAgent } from '../src/index.js';
import { allSpans, decodeAgentPayload } from './helpers/agent-payload-schema.js';

const fixture = (file: string) =>
  new Uint8Array(readFileSync(new URL(`./fixtures/dd-lambda-v12/${file}`, import.meta.url)));
const RID_1 = '00000000-0000-4000-8000-000000000001';
const RID_2 = '00000000-0000-4000-8000-000000000002';
const header = { lang: 'nodejs', tracerVersion: '5.132.0' };

function agent() {
  return new TraceAgent({
    ...fromEnv({ DD_SERVICE: 'svc' }),
    port: 0,
    functionName: 'my-function',
    tags: { functionname: 'my-function' },
  });
}
const spanNames = (a: TraceAgent) =>
  a
    .flush()
    .filter((p) => p.kind === 'traces')
    .flatMap((p) => allSpans(decodeAgentPayload(p.body)).map((s) => s.name));

describe('watchInvocation', () => {
  it('calls back once the watched request id’s aws.lambda is buffered, and only once', () => {
    const a = agent();
    const heard: string[] = [];
    a.watchInvocation(RID_2, () => heard.push('2'));
    a.handleV04(fixture('trace-2.msgpack'), header);
    expect(heard).toEqual(['2']);
    a.handleV04(fixture('trace-2.msgpack'), header);
    expect(heard).toEqual(['2']);
    // what it heard of is in the next flush
    expect(spanNames(a)).toContain('aws.lambda');
  });

  it('ignores other invocations, and a replaced or cleared watch', () => {
    const a = agent();
    const heard: string[] = [];
    a.watchInvocation(RID_1, () => heard.push('1'));
    a.handleV04(fixture('trace-2.msgpack'), header);
    expect(heard).toEqual([]);
    // (a flush forgets the trace-2 just buffered: a watch set after it would hear at once)
    a.flush();
    a.watchInvocation(RID_2, () => heard.push('2'));
    a.watchInvocation(undefined);
    a.handleV04(fixture('trace-2.msgpack'), header);
    expect(heard).toEqual([]);
  });

  it('waits with a trace held for the cold start: heard when it is buffered', () => {
    const a = agent();
    const heard: string[] = [];
    a.watchInvocation(RID_1, () => heard.push('1'));
    // trace-1 carries aws.lambda.load: it waits for the init report (or the next flush)
    a.handleV04(fixture('trace-1.msgpack'), header);
    expect(a.buffered.spans).toBeGreaterThan(0);
    expect(heard).toEqual([]);
    a.setColdStart({ startNs: Date.now() * 1e6 - 500e6, durationMs: 300, requestId: RID_1 });
    expect(heard).toEqual(['1']);
    expect(spanNames(a)).toEqual(
      expect.arrayContaining(['aws.lambda', 'aws.lambda.load', 'aws.lambda.cold_start']),
    );
  });
});

describe('watchInvocation, a trace buffered before the watch', () => {
  it('calls back at once when the invocation’s aws.lambda came before the watch was set', () => {
    const a = agent();
    a.handleV04(fixture('trace-2.msgpack'), header);
    const heard: string[] = [];
    a.watchInvocation(RID_2, () => heard.push('2'));
    expect(heard).toEqual(['2']);
    // heard once: the watch is spent
    a.handleV04(fixture('trace-2.msgpack'), header);
    expect(heard).toEqual(['2']);
  });

  it('forgets what a flush took, and remembers 16 invocations at most', () => {
    const a = agent();
    a.handleV04(fixture('trace-2.msgpack'), header);
    a.flush();
    const heard: string[] = [];
    a.watchInvocation(RID_2, () => heard.push('after flush'));
    expect(heard).toEqual([]);
    a.watchInvocation(undefined);
    // RID_2's trace, then 16 of the extension's own aws.lambda spans for other invocations
    a.handleV04(fixture('trace-2.msgpack'), header);
    for (let i = 0; i < 16; i++) {
      a.handleOwnSpans([
        {
          trace_id: BigInt(1000 + i),
          span_id: BigInt(2000 + i),
          parent_id: 0n,
          name: 'aws.lambda',
          service: 'svc',
          resource: 'my-function',
          type: 'serverless',
          start: BigInt(Date.now()) * 1_000_000n,
          duration: 1_000_000n,
          error: 0,
          meta: { request_id: `other-${i}` },
          metrics: { _sampling_priority_v1: 1 },
        },
      ]);
    }
    a.watchInvocation('other-15', () => heard.push('other-15'));
    a.watchInvocation(RID_2, () => heard.push('2'));
    expect(heard).toEqual(['other-15']);
  });

  it('reads request_id on the transcoded path even when no observer asks for it', () => {
    // No function name: no invocation tracer, whose keys would list request_id.
    const a = new TraceAgent({ ...fromEnv({ DD_SERVICE: 'svc' }), port: 0 });
    const heard: string[] = [];
    a.watchInvocation(RID_2, () => heard.push('2'));
    a.handleV04(fixture('trace-2.msgpack'), header);
    expect(a.counters.requestsTranscoded).toBe(1);
    expect(heard).toEqual(['2']);
  });
});

describe('flush with keepHeld', () => {
  it('leaves the requests held for the cold start, which the next flush takes with their parent', () => {
    const a = agent();
    a.handleV04(fixture('trace-1.msgpack'), header);
    const held = a.buffered.spans;
    expect(held).toBeGreaterThan(0);
    expect(spanNamesOf(a.flush(false, { keepHeld: true }))).not.toContain('aws.lambda.load');
    expect(a.buffered.spans).toBe(held);
    a.setColdStart({ startNs: Date.now() * 1e6 - 500e6, durationMs: 300, requestId: RID_1 });
    const spans = a
      .flush()
      .filter((p) => p.kind === 'traces')
      .flatMap((p) => allSpans(decodeAgentPayload(p.body)));
    const coldStart = spans.find((s) => s.name === 'aws.lambda.cold_start');
    const load = spans.find((s) => s.name === 'aws.lambda.load');
    expect(coldStart).toBeDefined();
    expect(load?.parentID).toEqual(coldStart?.spanID);
  });
});

function spanNamesOf(payloads: ReturnType<TraceAgent['flush']>): string[] {
  return payloads
    .filter((p) => p.kind === 'traces')
    .flatMap((p) => allSpans(decodeAgentPayload(p.body)).map((s) => s.name));
}

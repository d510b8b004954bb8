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

// The tracer's own calls, as dd-trace 5 (under datadog-lambda-js) reports them: the runtime's
// `GET .../invocation/next` and `POST .../response` to the Runtime API, whose port is the one in
// `AWS_LAMBDA_RUNTIME_API` (9001 on Lambda, any port in a local sandbox), and the port only as a metric.
import { describe, expect, it } from 'vitest';
import { fromEnv, type Span, TraceAgent, tracerHeadersFrom } from '../src/index.js';
import { allSpans, decodeAgentPayload } from './helpers/agent-payload-schema.js';

const H = tracerHeadersFrom({ 'datadog-meta-lang': 'nodejs', 'datadog-meta-tracer-version': '5.0.0' });

// meta and metrics of a span dd-trace 5 sent to the extension (captured), on a given Runtime API port
function runtimeApiCall(port: number, method: 'GET' | 'POST', id: bigint): Span {
  const path =
    method === 'GET'
      ? '/2018-06-01/runtime/invocation/next'
      : '/2018-06-01/runtime/invocation/ecd9c55b-0c31-42ab-b207-9525149d3e69/response';
  return {
    service: 'demo',
    name: 'http.request',
    resource: method,
    type: 'http',
    trace_id: id,
    span_id: id,
    parent_id: 0n,
    start: 1_700_000_000_000_000_000n,
    duration: 113_770_000,
    error: 0,
    meta: {
      '_dd.p.tid': '6b11b56300000000',
      '_dd.p.dm': '-0',
      service: 'demo',
      'runtime-id': '260477d6-1dd6-470a-99fc-94399ab20c9b',
      component: 'http',
      'span.kind': 'client',
      'http.method': method,
      'http.url': `http://127.0.0.1:${port}${path}`,
      'out.host': '127.0.0.1',
      'http.status_code': method === 'GET' ? '200' : '202',
      '_dd.integration': 'http',
      language: 'javascript',
    },
    metrics: {
      '_dd.agent_psr': 1,
      '_dd.top_level': 1,
      '_dd.measured': 1,
      'network.destination.port': port,
      process_id: 15809,
      _sampling_priority_v1: 1,
    },
  };
}

function agent(internalPorts?: number[]) {
  return new TraceAgent({
    ...fromEnv({ DD_SERVICE: 'demo' }),
    functionName: 'f',
    functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:f',
    region: 'us-east-1',
    tags: { functionname: 'f' },
    internalPorts,
  });
}
const sentNames = (a: TraceAgent) =>
  a
    .flush(true)
    .filter((p) => p.kind === 'traces')
    .flatMap((p) => allSpans(decodeAgentPayload(p.body)))
    .map((s) => `${s.name} ${s.resource}`);

describe("the tracer's calls to the Runtime API", () => {
  it('are dropped on 9001 (Lambda) without any option', () => {
    const a = agent();
    a.handleTraces([[runtimeApiCall(9001, 'GET', 1n)], [runtimeApiCall(9001, 'POST', 2n)]], H);
    expect(sentNames(a)).toEqual([]);
    expect(a.processor.counters.spansDropped.internal).toBe(2);
  });

  it("are dropped on the port passed as internalPorts (a sandbox's Runtime API)", () => {
    const a = agent([39869]);
    const user = { ...runtimeApiCall(39869, 'GET', 3n), resource: 'GET', span_id: 4n };
    user.meta = { ...user.meta, 'http.url': 'https://api.example.com/items', 'out.host': 'api.example.com' };
    user.metrics = { ...user.metrics, 'network.destination.port': 443 };
    a.handleTraces([[runtimeApiCall(39869, 'GET', 1n)], [runtimeApiCall(39869, 'POST', 2n)], [user]], H);
    expect(sentNames(a)).toEqual(['http.request GET']);
    expect(a.processor.counters.spansDropped.internal).toBe(2);
  });

  it('are dropped by host and the metric port when the URL is absent', () => {
    const a = agent([39869]);
    const s = runtimeApiCall(39869, 'POST', 5n);
    delete s.meta['http.url'];
    a.handleTraces([[s]], H);
    expect(sentNames(a)).toEqual([]);
  });

  it('on another port, a loopback call of the function is kept', () => {
    const a = agent();
    a.handleTraces([[runtimeApiCall(39869, 'GET', 6n)]], H);
    expect(sentNames(a)).toEqual(['http.request GET']);
  });
});

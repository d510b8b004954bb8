// The defaults end to end: our receiver on fromEnv's port (8126) and dd-trace with no agent settings.
import { afterEach, expect, it } from 'vitest';
import { createTraceReceiver, fromEnv, TraceAgent } from '../src/index.js';
import { allSpans, decodeAgentPayload } from './helpers/agent-payload-schema.js';
import { type RunningApp, startApp, waitFor } from './helpers/child.js';

let app: RunningApp | undefined;
let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await app?.stop();
  await close?.();
});

it('dd-trace in Lambda mode finds the receiver on 127.0.0.1:8126 without any configuration', async () => {
  const options = fromEnv({});
  expect(options.port).toBe(8126);
  expect(options.host).toBe('127.0.0.1');
  const agent = new TraceAgent(options);
  const receiver = createTraceReceiver(agent, options);
  const { port } = await receiver.listen();
  close = () => receiver.close();
  expect(port).toBe(8126);
  app = startApp('dd-trace-app.cjs', {
    AWS_LAMBDA_FUNCTION_NAME: 'my-function',
    DD_TRACE_EXPERIMENTAL_EXPORTER: 'agent',
  });
  const made = (await app.output) as { spanId: string; traceId: string }[];
  await waitFor(() => agent.buffered.spans >= 3, 20_000, 'spans on 8126');
  const spans = agent.flush(true).flatMap((p) => allSpans(decodeAgentPayload(p.body)));
  for (const m of made.slice(0, 3)) expect(spans.find((s) => s.spanID === m.spanId)?.traceID).toBe(m.traceId);
});

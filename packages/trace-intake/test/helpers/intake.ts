import {
  createTraceReceiver,
  fromEnv,
  type OutgoingPayload,
  TraceAgent,
  type TraceAgentOptions,
  type TraceReceiver,
} from '../../src/index.js';

export interface TestIntake {
  agent: TraceAgent;
  receiver: TraceReceiver;
  port: number;
  url: string;
  proxied: OutgoingPayload[];
  traceRequests: () => number;
  paths: string[];
  close(): Promise<void>;
}

/** The agent and its receiver on 127.0.0.1, a free port. */
export async function startIntake(
  env: Record<string, string> = {},
  overrides: Partial<TraceAgentOptions> = {},
  receiverOverrides: { maxTraceBodyBytes?: number; maxOtherBodyBytes?: number } = {},
): Promise<TestIntake> {
  const base = fromEnv(env);
  const agent = new TraceAgent({ ...base, port: 0, ...overrides });
  const proxied: OutgoingPayload[] = [];
  let traceRequests = 0;
  const receiver = createTraceReceiver(agent, {
    host: '127.0.0.1',
    port: 0,
    maxTraceBodyBytes: receiverOverrides.maxTraceBodyBytes ?? base.maxTraceBodyBytes,
    maxOtherBodyBytes: receiverOverrides.maxOtherBodyBytes ?? base.maxOtherBodyBytes,
    onProxy: (p) => proxied.push(p),
    additionalTags: { functionname: 'my-function' },
    onTraces: () => {
      traceRequests++;
    },
  });
  const paths: string[] = [];
  // on the server itself: the hot trace routes are answered before fastify sees the request
  receiver.app.server.prependListener('request', (req) => {
    paths.push(req.url ?? '');
  });
  const { port } = await receiver.listen();
  return {
    agent,
    receiver,
    port,
    url: `http://127.0.0.1:${port}`,
    proxied,
    traceRequests: () => traceRequests,
    paths,
    close: () => receiver.close(),
  };
}

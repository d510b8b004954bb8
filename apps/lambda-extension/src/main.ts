// The layer's entry (serverless-agent/datadog-agent.cjs, a few kilobytes): registration first, with
// built-ins only, and, while it is on its way, the sockets the function may use during its init and
// the Telemetry listener's. Once registered it subscribes and sends the first `next` itself, still
// with built-ins only; the agent (serverless-agent/agent.cjs, from its code cache) loads once that
// request is written, and the lifecycle takes over the client, its pending `next` and the sockets.
import { Agent } from 'node:http';
import { type Registration, register } from '@serverless-agent/lifecycle/register';
import { ExtensionsClient, logsEnabledFromEnv, subscribeTelemetry } from '@serverless-agent/lifecycle/start';
import type { RunOptions } from './agent.js';
import { bindEarlyListeners, type EarlyListeners } from './early.js';
import type { EarlyHttpListener } from './early-listeners.js';
import { type Env, mergeEnv, yamlPathOf } from './env.js';
import { FIRST_NEXT_WAIT_MS, firstNextSent } from './first-next.js';
import type { Logger } from './logger.js';
import { portsFromEnv } from './ports.js';

// process.uptime(), not performance.now(): the `performance` global loads perf_hooks and eight
// modules of its own on first use, before the register request could be written.
const startedAt = process.uptime() * 1000;
// When each step of the start was done, in ms since the process started (logged at debug).
const steps: Record<string, number> = { entry: startedAt };
const done = (step: string) => {
  steps[step] = process.uptime() * 1000;
};
const managedInstances = process.env.AWS_LAMBDA_INITIALIZATION_TYPE === 'lambda-managed-instances';
// One kept-alive connection to the Lambda API for registration, the subscription and every `next`:
// each request after the first is written at once, not a turn of the event loop after a new
// connection's connect (by then, with the sockets binding, several turns).
const lambdaApi = new Agent({ keepAlive: true, maxSockets: 1 });
const registration = register({ managedInstances, agent: lambdaApi });
// Port problems are reported by the agent, which reads the same variables with its logger.
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
let env: Env = {};
let telemetryBound: (telemetry: EarlyHttpListener) => void = () => {};
const telemetrySocket = new Promise<EarlyHttpListener>((resolve) => {
  telemetryBound = resolve;
});
// The sockets bind from the loop turn after the register request is written (it goes out once its
// connect is seen; anything run before that turn delays it), the Telemetry listener's first, the
// others one per turn, so that the register answer is handled between two: well before Lambda,
// having the registration, has started the runtime's process, let alone run the function's code.
const early = new Promise<EarlyListeners>((resolve, reject) =>
  setImmediate(() => {
    env = mergeEnv(process.env, quiet);
    bindEarlyListeners(portsFromEnv(env, quiet), telemetryBound).then(resolve, reject);
  }),
);
early.catch(() => {});
const load = (sent?: RunOptions['sent']) =>
  void import('./agent.js').then(({ run }) =>
    run({ registration, startedAt, steps, early, ...(sent ? { sent } : {}) }),
  );

const settled = (p: Promise<unknown>) =>
  p.then(
    () => true,
    () => false,
  );

// Subscribes, then sends the first `next`, then loads the agent. Anything unusual (no sockets, a
// datadog.yaml, which may turn logs off and so change what is subscribed) leaves both to the agent,
// as it does a refused registration.
async function toFirstNext(registered: Registration): Promise<RunOptions['sent']> {
  done('registered');
  const runtimeApi = process.env.AWS_LAMBDA_RUNTIME_API;
  // The other sockets may still be binding: the subscription needs only this one.
  const telemetry = await Promise.race([telemetrySocket, early.then((l) => l.telemetry)]).catch(
    () => undefined,
  );
  if (!telemetry || !runtimeApi || yamlPathOf(process.env)) return undefined;
  const client = new ExtensionsClient(runtimeApi, registered, { agent: lambdaApi });
  // Lambda refuses a subscription after the first `next`: that waits for its answer, whatever it is.
  const subscription = subscribeTelemetry({
    runtimeApi,
    extensionId: registered.extensionId,
    port: telemetry.port,
    logsEnabled: logsEnabledFromEnv(env),
    managedInstances,
    agent: lambdaApi,
  });
  const answered = settled(subscription);
  // Every listener accepts before the first `next` (or none bound: the agent binds and goes idle).
  if (!(await settled(early))) return undefined;
  await answered;
  done('subscribed');
  const written = firstNextSent(FIRST_NEXT_WAIT_MS);
  client.prefetchNext();
  await written;
  done('first next written');
  return { client, subscription };
}

registration.then(
  (r) => toFirstNext(r).then(load, () => load()),
  () => load(),
);

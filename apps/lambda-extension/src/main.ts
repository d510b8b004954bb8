// The layer's entry (serverless-agent/datadog-agent.cjs, a few kilobytes): registration first, with
// built-ins only, and, while it is on its way, the sockets the function may use during its init.
// The agent (serverless-agent/agent.cjs, from its code cache) loads once registration is answered.
import { register } from '@serverless-agent/lifecycle/register';
import { bindEarlyListeners, type EarlyListeners } from './early.js';
import { mergeEnv } from './env.js';
import type { Logger } from './logger.js';
import { portsFromEnv } from './ports.js';

const startedAt = performance.now();
const registration = register({
  managedInstances: process.env.AWS_LAMBDA_INITIALIZATION_TYPE === 'lambda-managed-instances',
});
// Port problems are reported by the agent, which reads the same variables with its logger.
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
// The sockets bind on the loop turn after the register request is written (it goes out once its
// connect is seen; anything run before that turn delays it): well before Lambda, having the
// registration, has started the runtime's process, let alone run the function's code.
const early = new Promise<EarlyListeners>((resolve, reject) =>
  setImmediate(() =>
    bindEarlyListeners(portsFromEnv(mergeEnv(process.env, quiet), quiet)).then(resolve, reject),
  ),
);
early.catch(() => {});
const load = () => void import('./agent.js').then(({ run }) => run({ registration, startedAt, early }));
registration.then(load, load);

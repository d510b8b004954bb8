// The layer's entry (serverless-agent/datadog-agent.cjs, a few kilobytes): registration first, with
// built-ins only, and, while it is on its way, the sockets the function may use during its init.
// The agent (serverless-agent/agent.cjs) is compiled and loaded once registration is answered.
import { register } from '@serverless-agent/lifecycle/register';
import { bindEarlyListeners } from './early.js';
import { mergeEnv } from './env.js';
import type { Logger } from './logger.js';
import { portsFromEnv } from './ports.js';

const startedAt = performance.now();
const registration = register({
  managedInstances: process.env.AWS_LAMBDA_INITIALIZATION_TYPE === 'lambda-managed-instances',
});
// Port problems are reported by the agent, which reads the same variables with its logger.
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const early = bindEarlyListeners(portsFromEnv(mergeEnv(process.env, quiet), quiet));
early.catch(() => {});
const load = () => void import('./agent.js').then(({ run }) => run({ registration, startedAt, early }));
registration.then(load, load);

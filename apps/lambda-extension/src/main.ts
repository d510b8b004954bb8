// The layer's entry (bundled into serverless-agent/datadog-agent.cjs). Registration is the first
// thing it does, with built-ins only; the rest loads while the answer is on its way.
import { register } from '@serverless-agent/lifecycle/register';

const startedAt = performance.now();
const registration = register({
  managedInstances: process.env.AWS_LAMBDA_INITIALIZATION_TYPE === 'lambda-managed-instances',
});
// Load the agent once the request is answered: compiling it earlier would hold the request back.
const load = () => void import('./agent.js').then(({ run }) => run({ registration, startedAt }));
registration.then(load, load);

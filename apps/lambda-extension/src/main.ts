// The layer's entry (bundled into serverless-agent/datadog-agent.cjs). Registration is the first
// thing it does, with built-ins only; everything else loads while the answer is on its way.
import { register } from './extensions-api.js';

const startedAt = performance.now();
const registration = register({
  managedInstances: process.env.AWS_LAMBDA_INITIALIZATION_TYPE === 'lambda-managed-instances',
});
// Handled by the agent; this keeps an early refusal from counting as unhandled meanwhile.
registration.catch(() => {});
void import('./agent.js').then(({ run }) => run({ registration, startedAt }));

// The layer's entry (bundled into serverless-agent/datadog-agent.cjs). Registration is the first
// thing it does, with built-ins only; the rest loads once the request is on the wire, while the
// answer is on its way.
import type { Registration } from './extensions-api.js';
import { register } from './extensions-api.js';

const startedAt = performance.now();
let registration: Promise<Registration> | undefined;
let loading = false;
const load = () => {
  if (loading) return;
  loading = true;
  // Deferred a turn so `registration` is assigned even when the request failed synchronously.
  setImmediate(
    () => void import('./agent.js').then(({ run }) => run({ registration: registration!, startedAt })),
  );
};
registration = register({
  managedInstances: process.env.AWS_LAMBDA_INITIALIZATION_TYPE === 'lambda-managed-instances',
  onSent: load,
});
// A refusal is handled by the agent; this also loads it when the request never went out.
registration.catch(load);

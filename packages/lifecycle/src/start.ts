/**
 * `@serverless-agent/lifecycle/start`: what an entry needs to get an extension to its first `next`
 * with built-ins only (`node:http`), before the rest of the lifecycle is loaded: the Extensions
 * client, the Telemetry subscription and the rule that picks its types. `Lifecycle.start` then
 * takes over what was done (`EarlyStart`).
 */
export { type ExtensionEvent, ExtensionsClient } from './extensions-client.js';
export { logsEnabledFromEnv } from './logs-enabled.js';
export { type SubscribeOutcome, subscribeTelemetry } from './telemetry/subscribe.js';

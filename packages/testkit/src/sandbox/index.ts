// The local Lambda sandbox's public surface (re-exported by src/index.ts).

export { type DemoOptions, runDemo } from './demo.js';
export { NODE_RUNTIME_BOOTSTRAP, NULL_EXTENSION, NULL_EXTENSION_DIR, SAMPLE_FUNCTION_DIR } from './paths.js';
export { mountNamespaceSupported, type ProcStatus, procStatus } from './processes.js';
export { LambdaSandbox, type LambdaSandboxEvents } from './sandbox.js';
export { type ScriptedExtension, writeScriptedExtension } from './scripted-extension.js';
export {
  BUFFERING_LIMITS,
  SCHEMA_VERSIONS,
  type SchemaVersion,
  type SubscriberStats,
  type TelemetryDestination,
  type TelemetrySubscription,
  validateSubscription,
} from './telemetry.js';
export type * from './types.js';

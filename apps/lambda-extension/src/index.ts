/**
 * @serverless-agent/lambda-extension: the drop-in Datadog Lambda Extension layer
 * (extensions/datadog-agent). The layer runs `main.ts`; this file is the package's whole public
 * surface, for tests and tools.
 */
export const PACKAGE = { name: '@serverless-agent/lambda-extension', version: '0.1.0' } as const;

export {
  idleReason,
  logsEnabled,
  type RunOptions,
  run,
} from './agent.js';
export { bindEarlyListeners, closeEarlyListeners, type EarlyListeners, proxyTo } from './early.js';
export {
  DATAGRAM_QUEUE,
  EarlyHttpListener,
  type EarlyStats,
  EarlyUdpListener,
  type QueueLimits,
  REQUEST_QUEUE,
} from './early-listeners.js';
export { type Env, mergeEnv, yamlPathOf, yamlToEnv } from './env.js';
export { FlushDriver, waitsForRuntimeDone } from './flush-driver.js';
export { createLogger, type Logger, type LogLevel, parseLogLevel } from './logger.js';
export { DEFAULT_PORTS, type Ports, portsFromEnv, runtimeApiPort, tracerInternalPorts } from './ports.js';
export { CountingSink, type OutgoingPayload, type PayloadSink } from './sink.js';
export { type FunctionIdentity, functionIdentity, functionTags } from './tags.js';
export { HONOURED, NOT_SUPPORTED_YET, unsupportedSet, warnUnsupported } from './variables.js';
export { VERSION } from './version.js';

/**
 * @serverless-agent/lifecycle: Lambda Extensions API client, Telemetry API subscription and
 * listener, the invocation processor, enhanced metrics and the :8124 hooks.
 *
 * This file is the package's whole public surface (plus `./register`, the built-ins-only entry
 * that registers before anything heavy loads, and `./start`, the built-ins-only pieces that get an
 * entry to its first `next` before the rest loads).
 */
export const PACKAGE = { name: '@serverless-agent/lifecycle', version: '0.1.0' } as const;

export {
  type ErrorReport,
  type ExtensionEvent,
  ExtensionsClient,
  type InvokeEvent,
  parseExtensionEvent,
  type ShutdownEvent,
  type ShutdownReason,
  type TracingHeader,
} from './extensions-client.js';
export { decodeHeaderValue, spanContextFromHeaders, startResponseHeaders } from './hooks/headers.js';
export {
  type ContextExtractor,
  DEFAULT_HOOKS_PORT,
  errorFromHeaders,
  HooksServer,
  type HooksServerOptions,
  type HooksStats,
  type HookTarget,
  MAX_HOOK_BODY_BYTES,
  REQUEST_ID_HEADER,
} from './hooks/server.js';
export type { ListeningSocket } from './http-listen.js';
export type {
  InvocationError,
  LifecycleEvent,
  LifecycleEventType,
  LifecycleListener,
  OutOfMemoryDetector,
  SpanContext,
} from './invocation/events.js';
export { isOutOfMemoryLogLine, OUT_OF_MEMORY_LOG_PATTERNS } from './invocation/oom.js';
export {
  InvocationProcessor,
  type InvocationProcessorOptions,
  PROACTIVE_INITIALIZATION_THRESHOLD_MS,
  type ProcessorStats,
} from './invocation/processor.js';
export {
  type EarlyStart,
  Lifecycle,
  type LifecycleDeps,
  type LifecycleState,
  type LoopHandlers,
  type StartResult,
} from './lifecycle.js';
export { type Logger, noopLogger } from './logger.js';
export { logsEnabledFromEnv, parseBool } from './logs-enabled.js';
export {
  ARM_LAMBDA_PRICE_PER_GB_SECOND,
  type Architecture,
  architectureOf,
  BASE_LAMBDA_INVOCATION_PRICE,
  ENHANCED,
  type EnhancedMetricName,
  type EnhancedMetricSample,
  estimatedCostUsd,
  type MetricSubmit,
  pricePerGbSecond,
  X86_LAMBDA_PRICE_PER_GB_SECOND,
} from './metrics/enhanced.js';
export {
  type CpuCounters,
  type CpuUtilization,
  cpuUtilization,
  type NetworkCounters,
  type ProcessUsage,
  ProcReader,
  type ProcReaderOptions,
  parseCpu,
  parseLimits,
  parseNetDev,
  type TmpUsage,
  type UsagePeaks,
  UsageSampler,
} from './metrics/proc.js';
export { fromEnv, type LifecycleOptions } from './options.js';
export {
  EXTENSION_NAME,
  type ExtensionEventType,
  ExtensionsApiError,
  type RegisterOptions,
  type Registration,
  register,
} from './register.cjs';
export { type RuntimeSources, resolveRuntime } from './runtime.js';
export * from './telemetry/events.js';
export {
  DEFAULT_TELEMETRY_PORT,
  TelemetryListener,
  type TelemetryListenerOptions,
  type TelemetryListenerStats,
  type TelemetrySink,
} from './telemetry/listener.js';
export {
  type SubscribeOptions,
  type SubscribeOutcome,
  type SubscriptionRequest,
  subscribeTelemetry,
  subscriptionRequest,
  TELEMETRY_API_VERSION,
} from './telemetry/subscribe.js';

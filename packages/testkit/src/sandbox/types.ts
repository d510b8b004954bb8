// Public shapes of the sandbox: options, Telemetry API events, per-invocation records.

export interface SandboxLogger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export type InitializationType =
  | 'on-demand'
  | 'provisioned-concurrency'
  | 'snap-start'
  | 'lambda-managed-instances';

export type InitPhase = 'init' | 'invoke';
export type Status = 'success' | 'error' | 'failure' | 'timeout';
export type ShutdownReason = 'spindown' | 'timeout' | 'failure';
export type ExtensionEventType = 'INVOKE' | 'SHUTDOWN';
export type TelemetryType = 'platform' | 'function' | 'extension';

export interface TraceContext {
  spanId?: string;
  type: 'X-Amzn-Trace-Id';
  value: string;
}

export interface Span {
  name: string;
  start: string;
  durationMs: number;
}

/** One Telemetry API event as delivered to subscribers (`time` is ISO-8601 UTC with milliseconds). */
export type TelemetryEvent =
  | { time: string; type: 'platform.initStart'; record: InitStartRecord }
  | { time: string; type: 'platform.initRuntimeDone'; record: InitRuntimeDoneRecord }
  | { time: string; type: 'platform.initReport'; record: InitReportRecord }
  | { time: string; type: 'platform.start'; record: StartRecord }
  | { time: string; type: 'platform.runtimeDone'; record: RuntimeDoneRecord }
  | { time: string; type: 'platform.report'; record: ReportRecord }
  | { time: string; type: 'platform.extension'; record: ExtensionStateRecord }
  | { time: string; type: 'platform.telemetrySubscription'; record: TelemetrySubscriptionRecord }
  | { time: string; type: 'platform.logsDropped'; record: LogsDroppedRecord }
  | { time: string; type: 'platform.restoreStart'; record: RestoreStartRecord }
  | { time: string; type: 'platform.restoreRuntimeDone'; record: RestoreRuntimeDoneRecord }
  | { time: string; type: 'platform.restoreReport'; record: RestoreReportRecord }
  | { time: string; type: 'function'; record: string | Record<string, unknown> }
  | { time: string; type: 'extension'; record: string | Record<string, unknown> };

export type TelemetryEventType = TelemetryEvent['type'];
export type TelemetryEventOf<T extends TelemetryEventType> = Extract<TelemetryEvent, { type: T }>;

export interface InitStartRecord {
  initializationType: InitializationType;
  phase: InitPhase;
  runtimeVersion?: string;
  runtimeVersionArn?: string;
  functionName?: string;
  functionVersion?: string;
  instanceId?: string;
  instanceMaxMemory?: number;
  tracing?: TraceContext;
}
export interface InitRuntimeDoneRecord {
  initializationType: InitializationType;
  phase?: InitPhase;
  status: Status;
  errorType?: string;
  spans?: Span[];
}
export interface InitReportRecord {
  initializationType: InitializationType;
  phase: InitPhase;
  metrics: { durationMs: number };
  status?: Status;
  errorType?: string;
  spans?: Span[];
}
export interface StartRecord {
  requestId: string;
  version?: string;
  tracing?: TraceContext;
}
export interface RuntimeDoneRecord {
  requestId: string;
  status: Status;
  errorType?: string;
  metrics?: { durationMs: number; producedBytes?: number };
  tracing?: TraceContext;
  spans?: Span[];
}
export interface ReportMetrics {
  durationMs: number;
  billedDurationMs?: number;
  memorySizeMB?: number;
  maxMemoryUsedMB?: number;
  initDurationMs?: number;
  restoreDurationMs?: number;
}
export interface ReportRecord {
  requestId: string;
  status: Status;
  errorType?: string;
  metrics: ReportMetrics;
  tracing?: TraceContext;
  spans?: Span[];
}
export interface ExtensionStateRecord {
  name: string;
  state: string;
  events: ExtensionEventType[];
  errorType?: string;
}
export interface TelemetrySubscriptionRecord {
  name: string;
  state: 'Subscribed';
  types: TelemetryType[];
}
export interface LogsDroppedRecord {
  reason: string;
  droppedRecords: number;
  droppedBytes: number;
}
export interface RestoreStartRecord {
  runtimeVersion?: string;
  runtimeVersionArn?: string;
  functionName?: string;
  functionVersion?: string;
  instanceId?: string;
  instanceMaxMemory?: number;
}
export interface RestoreRuntimeDoneRecord {
  status: Status;
  errorType?: string;
  spans?: Span[];
}
export interface RestoreReportRecord {
  status: Status;
  errorType?: string;
  metrics?: { durationMs: number };
  spans?: Span[];
}

/** A line written by a child process, as the sandbox captured it. */
export interface LogLine {
  source: 'function' | 'extension';
  /** The extension's file name, or `runtime`. */
  name: string;
  stream: 'stdout' | 'stderr';
  line: string;
  time: string;
}

/** Start-up and memory figures of one external extension. */
export interface ExtensionRecord {
  name: string;
  pid: number;
  /** Subscribed events (empty until it registers). */
  events: ExtensionEventType[];
  /** Milliseconds from spawn to a successful register, or undefined if it never registered. */
  spawnToRegisterMs?: number;
  /** Milliseconds from spawn to its first `event/next` (the extension is ready). */
  spawnToFirstNextMs?: number;
  /** Resident set size from /proc/<pid>/status, in KiB, sampled at the end of the invocation. */
  rssKB?: number;
}

export interface InvocationRecord {
  requestId: string;
  status: Status;
  errorType?: string;
  /** True when this invocation ran a fresh init first (cold start or suppressed init). */
  coldStart: boolean;
  /** Init duration when the invocation ran after (or, for a suppressed init, inside) a fresh init. */
  initDurationMs?: number;
  /** Invocation start → runtime response (or timeout, crash, OOM). */
  runtimeDurationMs: number;
  /** Runtime response → every INVOKE-subscribed extension back on `next`. */
  postRuntimeDurationMs: number;
  /** Invocation start → invocation complete (what `platform.report` carries). */
  durationMs: number;
  maxMemoryUsedMB: number;
  extensions: ExtensionRecord[];
}

export interface InvokeResult {
  requestId: string;
  status: Status;
  errorType?: string;
  /** The runtime's response body parsed as JSON when it is JSON, else the raw string. */
  response?: unknown;
  /** The runtime's error body (`{errorType, errorMessage, trace}`) for `status: 'error'`. */
  error?: unknown;
  record: InvocationRecord;
  report: ReportRecord;
  /** Lines the runtime and the extensions wrote during the invocation (at most 10000). */
  logs: LogLine[];
  /**
   * When the invocation ended its environment (a timeout, a crash, an out-of-memory kill): the
   * SHUTDOWN (`timeout` or `failure`) that followed, and how each process ended.
   */
  reset?: ShutdownResult;
}

export interface InitResult {
  status: Status;
  errorType?: string;
  durationMs: number;
  phase: InitPhase;
  extensions: ExtensionRecord[];
}

export interface ShutdownResult {
  reason: ShutdownReason;
  durationMs: number;
  /** How each process ended: on its own (`exit`) or SIGKILLed at the deadline (`killed`). */
  processes: {
    name: string;
    pid: number;
    ended: 'exit' | 'killed';
    code: number | null;
    signal: string | null;
  }[];
}

export interface InvokeOptions {
  requestId?: string;
  /** X-Ray trace header value; when set, INVOKE, platform events and the runtime get it. */
  traceId?: string;
  clientContext?: unknown;
  cognitoIdentity?: unknown;
}

export interface LambdaSandboxOptions {
  /** Folder holding the function code (`LAMBDA_TASK_ROOT`). */
  taskRoot?: string;
  /** `_HANDLER`, e.g. `index.handler`. Default `index.handler`. */
  handler?: string;
  /**
   * The runtime process. Default: the Node runtime shipped in the testkit (`NODE_RUNTIME_BOOTSTRAP`),
   * run by the current `node`.
   */
  runtime?: { command: string; args?: string[] };
  /** A folder scanned as Lambda scans `/opt/extensions` (executable files, in name order). */
  extensionsDir?: string;
  /** Executable files to spawn as external extensions, in addition to `extensionsDir`. */
  extensions?: string[];
  /**
   * Names of external extensions that run outside the sandbox, e.g. an extension client inside the
   * test process pointed at `await sandbox.listen()`. Init waits for them to register as for spawned
   * ones, and they may subscribe to SHUTDOWN; having no process, they are never frozen or killed,
   * and shutdown does not wait for them to exit.
   */
  outsideExtensions?: string[];
  functionName?: string;
  functionVersion?: string;
  region?: string;
  accountId?: string;
  /** `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`; a runtime whose RSS passes it is killed. Default 1024. */
  memorySizeMB?: number;
  /** Function timeout. Default 3000 ms. */
  timeoutMs?: number;
  /** Init budget. Default 10000 ms. */
  initTimeoutMs?: number;
  /** Shutdown budget when an external extension is registered. Default 2000 ms. */
  shutdownTimeoutMs?: number;
  /** Customer environment variables, given to the runtime and the extensions. */
  env?: Record<string, string>;
  initializationType?: InitializationType;
  /** SnapStart: init once, then the first invoke emits restoreStart / restoreRuntimeDone / restoreReport. */
  snapStart?: boolean;
  /** `AWS_LAMBDA_LOG_FORMAT`: `Text` (default) or `JSON`. */
  logFormat?: 'Text' | 'JSON';
  /** SIGSTOP the processes between invocations, as Lambda freezes the environment. Default true. */
  freeze?: boolean;
  /**
   * Run the runtime in its own mount namespace with this folder bound over `/opt`
   * (`unshare -m` as root, `unshare -rm` otherwise). The real `/opt` is never touched.
   */
  optDir?: string;
  /** Interval of the RSS sampling that enforces the memory limit. Default 20 ms. */
  memorySampleMs?: number;
  /** Receives every line the children write (after it became a telemetry record). */
  onLog?: (line: LogLine) => void;
  logger?: SandboxLogger;
  /** Port to listen on (127.0.0.1). Default 0: a free port. */
  port?: number;
}

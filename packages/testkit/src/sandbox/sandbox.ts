// LambdaSandbox: a local Lambda execution environment. One loopback HTTP server carries the
// Runtime, Extensions and Telemetry APIs; the sandbox spawns the extensions and the runtime, runs
// the init / invoke / shutdown phases with Lambda's deadlines, freezes the processes between
// invocations, enforces the memory limit, and emits the Telemetry API events.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { accessSync, constants, existsSync, readdirSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { BodyTooLargeError, header, isUuid, readBody, sendError, sendJson } from './http.js';
import { NODE_RUNTIME_BOOTSTRAP } from './paths.js';
import { type Child, procStatus, signalGroup, spawnChild, withOptMount } from './processes.js';
import {
  type SubscriberStats,
  TelemetrySubscriber,
  type TelemetrySubscription,
  validateSubscription,
} from './telemetry.js';
import type {
  ExtensionEventType,
  ExtensionRecord,
  InitializationType,
  InitPhase,
  InitResult,
  InvocationRecord,
  InvokeOptions,
  InvokeResult,
  LambdaSandboxOptions,
  LogLine,
  ReportRecord,
  SandboxLogger,
  ShutdownReason,
  ShutdownResult,
  Span,
  Status,
  TelemetryEvent,
  TelemetryEventOf,
  TelemetryEventType,
  TraceContext,
} from './types.js';

const MAX_EXTENSIONS = 10;
const MAX_RESPONSE_BYTES = 6 * 1024 * 1024;
const MAX_REQUEST_BYTES = 1024 * 1024;
const RUNTIME_SHUTDOWN_MS = 300;
const RUNTIME_SHUTDOWN_WITH_INTERNAL_MS = 500;
const TELEMETRY_LOG_LIMIT = 100_000;
const MAX_INVOCATION_LOGS = 10_000;

const noopLogger: SandboxLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Events of a LambdaSandbox (`sandbox.on(name, listener)`). */
export interface LambdaSandboxEvents {
  /** Every Telemetry API event the platform produced, before buffering. */
  telemetry: [TelemetryEvent];
  /** Every line a child wrote. */
  log: [LogLine];
  /** The runtime and every extension wait on `next` and were SIGSTOPped. */
  freeze: [];
  /** The processes were SIGCONTinued. */
  thaw: [];
  init: [InitResult];
  invoke: [InvokeResult];
  shutdown: [ShutdownResult];
}

interface Agent {
  id: string;
  name: string;
  events: ExtensionEventType[];
  external: boolean;
  child?: Child;
  registeredAt: number;
  firstNextAt?: number;
  pendingNext?: ServerResponse;
  queued: object[];
  onNext: boolean;
  subscriber?: TelemetrySubscriber;
}

interface Invocation {
  requestId: string;
  deadlineMs: number;
  event: Buffer;
  headers: Record<string, string>;
  startedAt: number;
  delivered: boolean;
  logs: LogLine[];
  outcome?: { status: 'success' | 'error'; errorType?: string; body: Buffer; at: number; readMs: number };
}

interface Failure {
  status: Status;
  errorType?: string;
}

interface Environment {
  generation: number;
  externals: Child[];
  runtime?: Child;
  agents: Map<string, Agent>;
  registrationOpen: boolean;
  /** The runtime reached its first `next` (or reported an init error). */
  runtimeInitDone: boolean;
  runtimePendingNext?: ServerResponse;
  runtimeOnNext: boolean;
  phase: InitPhase;
  initType: InitializationType;
  initFailure?: Failure;
  /** A failure while invoking: crash, exit, OOM. */
  failure?: Failure & { oom?: boolean };
  current?: Invocation;
  /** SIGSTOP was sent. */
  frozen: boolean;
  /** ...and /proc shows every process stopped. */
  stopped: boolean;
  shuttingDown: boolean;
  dead: boolean;
  initDurationMs?: number;
  reportInitDuration: boolean;
  restorePending: boolean;
  maxRssKB: number;
}

function iso(epochMs = Date.now()): string {
  return new Date(epochMs).toISOString();
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

function executablesIn(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return [];
  }
  return names
    .map((n) => join(dir, n))
    .filter((f) => {
      try {
        if (!statSync(f).isFile()) return false;
        accessSync(f, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}

/**
 * A local Lambda execution environment. `start()` runs init, `invoke()` one invocation,
 * `shutdown()` the shutdown phase; every result is typed, and every platform event is both
 * delivered to Telemetry API subscribers and emitted as a `telemetry` event.
 */
export class LambdaSandbox extends EventEmitter<LambdaSandboxEvents> {
  readonly functionName: string;
  readonly functionVersion: string;
  readonly region: string;
  readonly accountId: string;
  readonly memorySizeMB: number;
  readonly timeoutMs: number;
  readonly initTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  readonly initializationType: InitializationType;
  /** Every Telemetry API event produced so far (bounded), in order. */
  readonly events: TelemetryEvent[] = [];
  /** One record per completed invocation. */
  readonly records: InvocationRecord[] = [];

  private readonly opts: LambdaSandboxOptions;
  private readonly logger: SandboxLogger;
  private server: Server | undefined;
  private port = 0;
  private env: Environment | undefined;
  private generation = 0;
  private suppressedInit = false;
  private closed = false;
  /** If the host process exits without a shutdown, no stopped or orphaned child may outlive it. */
  private readonly killOnExit = () => {
    const env = this.env;
    if (!env) return;
    for (const c of [...(env.runtime ? [env.runtime] : []), ...env.externals]) {
      signalGroup(c.pid, 'SIGKILL');
    }
  };
  private started = false;
  private waiters = new Set<() => void>();
  private chain: Promise<unknown> = Promise.resolve();
  /** Events since the last successful init, replayed to each new subscriber. */
  private replay: TelemetryEvent[] = [];
  private readonly logStream =
    `${new Date().toISOString().slice(0, 10).replace(/-/g, '/')}/[$LATEST]${randomBytes(16).toString('hex')}`;
  private readonly instanceId = randomBytes(16).toString('hex');

  constructor(options: LambdaSandboxOptions = {}) {
    super();
    this.opts = options;
    this.logger = options.logger ?? noopLogger;
    this.functionName = options.functionName ?? 'my-function';
    this.functionVersion = options.functionVersion ?? '$LATEST';
    this.region = options.region ?? 'us-east-1';
    this.accountId = options.accountId ?? '123456789012';
    this.memorySizeMB = options.memorySizeMB ?? 1024;
    this.timeoutMs = options.timeoutMs ?? 3000;
    this.initTimeoutMs = options.initTimeoutMs ?? 10_000;
    this.shutdownTimeoutMs = options.shutdownTimeoutMs ?? 2000;
    this.initializationType = options.snapStart ? 'snap-start' : (options.initializationType ?? 'on-demand');
  }

  /** `host:port` of the APIs, as given to the children in `AWS_LAMBDA_RUNTIME_API`. */
  get runtimeApi(): string {
    return `127.0.0.1:${this.port}`;
  }

  get functionArn(): string {
    return `arn:aws:lambda:${this.region}:${this.accountId}:function:${this.functionName}`;
  }

  get managedInstances(): boolean {
    return this.initializationType === 'lambda-managed-instances';
  }

  /** True while the environment is frozen (between invocations) and /proc shows it stopped. */
  get frozen(): boolean {
    return this.env?.stopped ?? false;
  }

  /** Pids of the live processes of the current environment (each the leader of its group). */
  get pids(): { runtime?: number; extensions: { name: string; pid: number }[] } {
    const env = this.env;
    const live = (c: Child | undefined) => c && !c.exitInfo;
    return {
      runtime: live(env?.runtime) ? env!.runtime!.pid : undefined,
      extensions: (env?.externals ?? []).filter(live).map((c) => ({ name: c.name, pid: c.pid })),
    };
  }

  /** Starts the APIs and runs init. Resolves with the init outcome (a failed init does not throw). */
  start(): Promise<InitResult> {
    return this.serial(async () => {
      if (this.started) throw new Error('LambdaSandbox already started');
      this.started = true;
      process.once('exit', this.killOnExit);
      await this.listen();
      const result = await this.runInit('init', this.initTimeoutMs);
      if (result.status !== 'success') this.suppressedInit = true;
      else this.scheduleFreeze();
      this.emit('init', result);
      return result;
    });
  }

  /** Runs one invocation (invocations are serialised). */
  invoke(event: unknown = {}, options: InvokeOptions = {}): Promise<InvokeResult> {
    return this.serial(() => this.runInvoke(event, options));
  }

  /** Runs the shutdown phase and closes the APIs. */
  shutdown(reason: ShutdownReason = 'spindown'): Promise<ShutdownResult> {
    return this.serial(async () => {
      if (this.closed) return { reason, durationMs: 0, processes: [] };
      this.closed = true;
      const result = this.env
        ? await this.shutdownEnv(this.env, reason)
        : { reason, durationMs: 0, processes: [] };
      await this.closeServer();
      process.off('exit', this.killOnExit);
      this.emit('shutdown', result);
      return result;
    });
  }

  /** How many error answers the APIs gave, by `errorType` (bad requests from the children). */
  readonly apiErrors: Record<string, number> = {};

  /** The Telemetry API subscriptions of the current environment, with their delivery counters. */
  get subscriptions(): { name: string; subscription: TelemetrySubscription; stats: SubscriberStats }[] {
    return [...(this.env?.agents.values() ?? [])].flatMap((a) =>
      a.subscriber
        ? [{ name: a.name, subscription: a.subscriber.subscription, stats: { ...a.subscriber.stats } }]
        : [],
    );
  }

  /** Resolves when the environment is frozen (false after `timeoutMs`). */
  waitForFreeze(timeoutMs = 5000): Promise<boolean> {
    return this.waitUntil(() => this.env?.stopped === true, performance.now() + timeoutMs);
  }

  /** Resolves with the first produced Telemetry event of `type` that matches `predicate`. */
  waitForEvent<T extends TelemetryEventType>(
    type: T,
    predicate: (e: TelemetryEventOf<T>) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<TelemetryEventOf<T>> {
    const found = this.events.find((e) => e.type === type && predicate(e as TelemetryEventOf<T>));
    if (found) return Promise.resolve(found as TelemetryEventOf<T>);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('telemetry', listener);
        reject(new Error(`no ${type} event within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (e: TelemetryEvent) => {
        if (e.type === type && predicate(e as TelemetryEventOf<T>)) {
          clearTimeout(timer);
          this.off('telemetry', listener);
          resolve(e as TelemetryEventOf<T>);
        }
      };
      this.on('telemetry', listener);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Phases

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private pushRecord(record: InvocationRecord): void {
    if (this.records.length >= TELEMETRY_LOG_LIMIT) this.records.shift();
    this.records.push(record);
  }

  private async runInit(phase: InitPhase, budgetMs: number): Promise<InitResult> {
    const env: Environment = {
      generation: ++this.generation,
      externals: [],
      agents: new Map(),
      registrationOpen: true,
      runtimeInitDone: false,
      runtimeOnNext: false,
      phase,
      initType: this.initializationType,
      frozen: false,
      stopped: false,
      shuttingDown: false,
      dead: false,
      reportInitDuration: false,
      restorePending: false,
      maxRssKB: 0,
    };
    this.env = env;
    if (phase === 'init') this.replay = [];
    const t0 = performance.now();
    const deadline = t0 + budgetMs;
    const initStart: TelemetryEventOf<'platform.initStart'>['record'] = {
      initializationType: env.initType,
      phase,
      runtimeVersion: this.runtimeVersion(),
      runtimeVersionArn: this.runtimeVersionArn(),
      functionName: this.functionName,
      functionVersion: this.functionVersion,
    };
    if (this.managedInstances) {
      initStart.instanceId = this.instanceId;
      initStart.instanceMaxMemory = this.memorySizeMB * 1024 * 1024;
    }
    this.produce({ time: iso(), type: 'platform.initStart', record: initStart });

    // As on Lambda, a `disable-extensions-jwigqn8j` file in /opt turns the external extensions off.
    const disabled =
      this.opts.optDir !== undefined && existsSync(join(this.opts.optDir, 'disable-extensions-jwigqn8j'));
    const files = disabled
      ? []
      : [
          ...(this.opts.extensionsDir ? executablesIn(this.opts.extensionsDir) : []),
          ...(this.opts.extensions ?? []),
        ];
    for (const file of files) env.externals.push(this.spawnExtension(env, file));
    const sampler = this.sampleMemory(env);
    try {
      // The runtime starts once every external extension has registered.
      const registered = await this.waitUntil(
        () =>
          env.initFailure !== undefined ||
          (env.externals.every((c) => this.agentOf(env, c) !== undefined) &&
            this.outsideNames().every((n) => [...env.agents.values()].some((a) => a.name === n))),
        deadline,
      );
      if (registered && !env.initFailure) {
        env.runtime = this.spawnRuntime(env);
        await this.waitUntil(
          () =>
            env.initFailure !== undefined ||
            (env.runtimeOnNext && [...env.agents.values()].every((a) => a.onNext)),
          deadline,
        );
      }
    } finally {
      clearInterval(sampler);
    }
    const ready = env.runtimeOnNext && [...env.agents.values()].every((a) => a.onNext);
    const failure: Failure | undefined = env.initFailure ?? (ready ? undefined : { status: 'timeout' });
    const durationMs = round3(performance.now() - t0);
    if (failure && !env.runtimeInitDone && env.runtime) {
      env.runtimeInitDone = true;
      this.produce({
        time: iso(),
        type: 'platform.initRuntimeDone',
        record: { initializationType: env.initType, phase, status: failure.status, ...errorTypeOf(failure) },
      });
    }
    this.produce({
      time: iso(),
      type: 'platform.initReport',
      record: {
        initializationType: env.initType,
        phase,
        status: failure?.status ?? 'success',
        ...errorTypeOf(failure),
        metrics: { durationMs },
      },
    });
    env.registrationOpen = false;
    const result: InitResult = {
      status: failure?.status ?? 'success',
      ...errorTypeOf(failure),
      durationMs,
      phase,
      extensions: this.extensionRecords(env),
    };
    if (failure) {
      await this.shutdownEnv(env, 'failure');
    } else {
      env.initDurationMs = durationMs;
      // Provisioned concurrency and SnapStart init ahead of traffic: no initDurationMs in the report.
      env.reportInitDuration =
        phase === 'init' && env.initType !== 'snap-start' && env.initType !== 'provisioned-concurrency';
      env.restorePending = this.opts.snapStart === true;
    }
    return result;
  }

  private async runInvoke(event: unknown, options: InvokeOptions): Promise<InvokeResult> {
    if (this.closed || !this.started) throw new Error('LambdaSandbox is not running');
    const requestId = options.requestId ?? randomUUID();
    const eventBody = Buffer.from(JSON.stringify(event ?? null));
    let t0 = performance.now();
    let deadlineMs = Date.now() + this.timeoutMs;
    let coldStart = false;
    let initDurationMs: number | undefined;
    if (this.env && (this.env.failure || this.env.dead)) {
      // Something crashed between invocations: Lambda resets the environment before the next one.
      await this.shutdownEnv(this.env, 'failure');
    }

    if (!this.env && !this.suppressedInit) {
      // A fresh environment after a reset (timeout, crash, OOM): a normal cold start.
      const init = await this.runInit('init', this.initTimeoutMs);
      if (init.status !== 'success') this.suppressedInit = true;
      t0 = performance.now();
      deadlineMs = Date.now() + this.timeoutMs;
    }
    if (this.suppressedInit) {
      // The suppressed init: init runs again inside this invoke, under the function timeout.
      coldStart = true;
      const init = await this.runInit('invoke', this.timeoutMs);
      if (init.status !== 'success') return this.failedInvoke(requestId, t0, init, options);
      this.suppressedInit = false;
      initDurationMs = init.durationMs;
    }
    const env = this.env!;
    if (env.reportInitDuration) {
      coldStart = true;
      initDurationMs = env.initDurationMs;
      env.reportInitDuration = false;
    }
    this.cancelFreeze();
    this.thaw(env);

    let restoreDurationMs: number | undefined;
    if (env.restorePending) {
      env.restorePending = false;
      coldStart = true;
      const r0 = performance.now();
      this.produce({
        time: iso(),
        type: 'platform.restoreStart',
        record: {
          runtimeVersion: this.runtimeVersion(),
          runtimeVersionArn: this.runtimeVersionArn(),
          functionName: this.functionName,
          functionVersion: this.functionVersion,
        },
      });
      this.produce({ time: iso(), type: 'platform.restoreRuntimeDone', record: { status: 'success' } });
      restoreDurationMs = round3(performance.now() - r0);
      this.produce({
        time: iso(),
        type: 'platform.restoreReport',
        record: { status: 'success', metrics: { durationMs: restoreDurationMs } },
      });
      t0 = performance.now();
      deadlineMs = Date.now() + this.timeoutMs;
    }

    const tracing = this.tracingOf(options);
    this.produce({
      time: iso(),
      type: 'platform.start',
      record: { requestId, version: this.functionVersion, ...(tracing ? { tracing } : {}) },
    });
    const headers: Record<string, string> = {
      'Lambda-Runtime-Aws-Request-Id': requestId,
      'Lambda-Runtime-Deadline-Ms': String(deadlineMs),
      'Lambda-Runtime-Invoked-Function-Arn': this.functionArn,
    };
    if (options.traceId) headers['Lambda-Runtime-Trace-Id'] = options.traceId;
    if (options.clientContext !== undefined)
      headers['Lambda-Runtime-Client-Context'] = JSON.stringify(options.clientContext);
    if (options.cognitoIdentity !== undefined) {
      headers['Lambda-Runtime-Cognito-Identity'] = JSON.stringify(options.cognitoIdentity);
    }
    const t0Epoch = Date.now();
    const inv: Invocation = {
      requestId,
      deadlineMs,
      event: eventBody,
      headers,
      startedAt: t0,
      delivered: false,
      logs: [],
    };
    env.current = inv;
    env.maxRssKB = 0;

    // INVOKE reaches the extensions as the runtime gets the request.
    const invokeEvent: Record<string, unknown> = {
      eventType: 'INVOKE',
      deadlineMs,
      requestId,
      invokedFunctionArn: this.functionArn,
    };
    if (options.traceId) invokeEvent.tracing = { type: 'X-Amzn-Trace-Id', value: options.traceId };
    const invokeAgents = [...env.agents.values()].filter((a) => a.events.includes('INVOKE'));
    for (const a of invokeAgents) this.deliver(a, invokeEvent);
    this.offerInvocation(env);

    const sampler = this.sampleMemory(env);
    const deadline = t0 + this.timeoutMs;
    await this.waitUntil(() => inv.outcome !== undefined || env.failure !== undefined, deadline);
    const runtimeEnd = performance.now();
    let status: Status;
    let errorType: string | undefined;
    // A runtime that reported its outcome and then exited (an uncaught error) keeps that outcome;
    // the exit still resets the environment.
    const overrides = () =>
      env.failure !== undefined && !(inv.outcome && env.failure.errorType === 'Runtime.ExitError');
    if (overrides()) {
      ({ status, errorType } = env.failure!);
    } else if (inv.outcome) {
      status = inv.outcome.status;
      errorType = inv.outcome.errorType;
    } else {
      status = 'timeout';
    }
    const runtimeDurationMs = round3((inv.outcome?.at ?? runtimeEnd) - t0);
    const spans: Span[] | undefined = inv.outcome
      ? [
          {
            name: 'responseLatency',
            start: iso(t0Epoch),
            durationMs: round3(inv.outcome.at - inv.outcome.readMs - t0),
          },
          {
            name: 'responseDuration',
            start: iso(t0Epoch + (inv.outcome.at - inv.outcome.readMs - t0)),
            durationMs: round3(inv.outcome.readMs),
          },
        ]
      : undefined;
    this.produce({
      time: iso(),
      type: 'platform.runtimeDone',
      record: {
        requestId,
        status,
        ...(errorType ? { errorType } : {}),
        metrics: {
          durationMs: status === 'timeout' ? this.timeoutMs : runtimeDurationMs,
          producedBytes: inv.outcome?.body.length ?? 0,
        },
        ...(tracing ? { tracing } : {}),
        ...(spans ? { spans } : {}),
      },
    });

    // The invoke completes when every INVOKE-subscribed extension is back on `next`, and the runtime
    // too (or gone: a runtime that reports an uncaught error and exits).
    let extensionsBackAt: number | undefined;
    if (status === 'success' || status === 'error') {
      const extensionsBack = () => invokeAgents.every((a) => a.onNext || a.child?.exitInfo);
      const runtimeBack = () => env.runtimeOnNext || env.runtime?.exitInfo !== undefined;
      const back = await this.waitUntil(() => {
        if (extensionsBackAt === undefined && extensionsBack()) extensionsBackAt = performance.now();
        return env.failure !== undefined || (extensionsBack() && runtimeBack());
      }, deadline);
      if (overrides()) ({ status, errorType } = env.failure!);
      else if (!back) {
        status = 'timeout';
        errorType = undefined;
      }
    }
    clearInterval(sampler);
    this.sampleOnce(env);
    // The invoke's duration ends when the runtime has responded and the extensions are back (the
    // runtime's own next call, waited for above, is not billed): duration = runtime + post-runtime.
    const now = performance.now();
    const responded = inv.outcome?.at ?? now;
    const end =
      status === 'timeout' || extensionsBackAt === undefined ? now : Math.max(extensionsBackAt, responded);
    const postRuntimeDurationMs = round3(
      status === 'timeout' && !inv.outcome ? 0 : Math.max(0, end - responded),
    );
    const durationMs = round3(status === 'timeout' ? Math.max(this.timeoutMs, end - t0) : end - t0);
    const oom = env.failure?.oom === true;
    const maxMemoryUsedMB = oom
      ? this.memorySizeMB
      : Math.min(this.memorySizeMB, Math.max(1, Math.ceil(env.maxRssKB / 1024)));
    const metrics: ReportRecord['metrics'] = this.managedInstances
      ? { durationMs }
      : {
          durationMs,
          billedDurationMs: Math.ceil(durationMs),
          memorySizeMB: this.memorySizeMB,
          maxMemoryUsedMB,
          ...(initDurationMs !== undefined && !coldStartSuppressed(env) ? { initDurationMs } : {}),
          ...(restoreDurationMs !== undefined ? { restoreDurationMs } : {}),
        };
    const report: ReportRecord = {
      requestId,
      status,
      ...(errorType ? { errorType } : {}),
      metrics,
      ...(tracing ? { tracing } : {}),
      ...(spans ? { spans } : {}),
    };
    this.produce({ time: iso(), type: 'platform.report', record: report });
    for (const a of env.agents.values()) a.subscriber?.flush();

    const record: InvocationRecord = {
      requestId,
      status,
      ...(errorType ? { errorType } : {}),
      coldStart,
      ...(initDurationMs !== undefined ? { initDurationMs } : {}),
      runtimeDurationMs: status === 'timeout' && !inv.outcome ? round3(this.timeoutMs) : runtimeDurationMs,
      postRuntimeDurationMs,
      durationMs,
      maxMemoryUsedMB,
      extensions: this.extensionRecords(env),
    };
    this.pushRecord(record);
    const result: InvokeResult = {
      requestId,
      status,
      ...(errorType ? { errorType } : {}),
      record,
      report,
      logs: inv.logs,
    };
    if (inv.outcome) {
      const parsed = parseBody(inv.outcome.body);
      if (inv.outcome.status === 'success') result.response = parsed;
      else result.error = parsed;
    }
    env.current = undefined;

    if (status === 'timeout' || env.failure) {
      // A timeout or a crash resets the environment; the next invoke starts a fresh one.
      result.reset = await this.shutdownEnv(env, status === 'timeout' ? 'timeout' : 'failure');
    } else {
      this.scheduleFreeze();
    }
    this.emit('invoke', result);
    return result;
  }

  private failedInvoke(
    requestId: string,
    t0: number,
    init: InitResult,
    options: InvokeOptions,
  ): InvokeResult {
    const durationMs = round3(performance.now() - t0);
    const tracing = this.tracingOf(options);
    const status: Status = init.status;
    const errorType = init.errorType ?? (status === 'timeout' ? undefined : 'Runtime.Unknown');
    const report: ReportRecord = {
      requestId,
      status,
      ...(errorType ? { errorType } : {}),
      metrics: this.managedInstances
        ? { durationMs }
        : {
            durationMs,
            billedDurationMs: Math.ceil(durationMs),
            memorySizeMB: this.memorySizeMB,
            maxMemoryUsedMB: 1,
          },
      ...(tracing ? { tracing } : {}),
    };
    this.produce({
      time: iso(),
      type: 'platform.start',
      record: { requestId, version: this.functionVersion, ...(tracing ? { tracing } : {}) },
    });
    this.produce({ time: iso(), type: 'platform.report', record: report });
    const record: InvocationRecord = {
      requestId,
      status,
      ...(errorType ? { errorType } : {}),
      coldStart: true,
      initDurationMs: init.durationMs,
      runtimeDurationMs: 0,
      postRuntimeDurationMs: 0,
      durationMs,
      maxMemoryUsedMB: 1,
      extensions: init.extensions,
    };
    this.pushRecord(record);
    const result: InvokeResult = {
      requestId,
      status,
      ...(errorType ? { errorType } : {}),
      record,
      report,
      logs: [],
    };
    this.emit('invoke', result);
    return result;
  }

  /**
   * The shutdown phase: the runtime gets SIGTERM and 300 ms, then the SHUTDOWN-subscribed
   * extensions get the SHUTDOWN event and the rest of the window; SIGKILL at the deadline.
   */
  private async shutdownEnv(env: Environment, reason: ShutdownReason): Promise<ShutdownResult> {
    const t0 = performance.now();
    env.shuttingDown = true;
    env.registrationOpen = false;
    this.cancelFreeze();
    this.thaw(env);
    const hasExternal = [...env.agents.values()].some((a) => a.external);
    const windowMs = hasExternal ? this.shutdownTimeoutMs : RUNTIME_SHUTDOWN_MS;
    const hasInternal = [...env.agents.values()].some((a) => !a.external);
    const runtimeMs = hasInternal ? RUNTIME_SHUTDOWN_WITH_INTERNAL_MS : RUNTIME_SHUTDOWN_MS;
    const deadline = t0 + windowMs;
    const deadlineMs = Date.now() + windowMs;
    for (const a of env.agents.values()) a.subscriber?.flush();

    const killed = new Set<Child>();
    if (env.runtime && !env.runtime.exitInfo) {
      const rt = env.runtime;
      if (reason === 'spindown') {
        signalGroup(rt.pid, 'SIGTERM');
        await this.waitUntil(() => rt.exitInfo !== undefined, t0 + Math.min(runtimeMs, windowMs));
      }
      if (!rt.exitInfo) {
        killed.add(rt);
        signalGroup(rt.pid, 'SIGKILL');
      }
    }
    const shutdownEvent = { eventType: 'SHUTDOWN', shutdownReason: reason, deadlineMs };
    for (const a of env.agents.values()) {
      if (!a.external) continue;
      if (a.events.includes('SHUTDOWN')) this.deliver(a, shutdownEvent);
    }
    for (const c of env.externals) {
      const agent = this.agentOf(env, c);
      if (!c.exitInfo && !agent?.events.includes('SHUTDOWN')) {
        killed.add(c);
        signalGroup(c.pid, 'SIGKILL');
      }
    }
    await this.waitUntil(() => env.externals.every((c) => c.exitInfo !== undefined), deadline);
    for (const c of [...env.externals, ...(env.runtime ? [env.runtime] : [])]) {
      if (!c.exitInfo) {
        killed.add(c);
        signalGroup(c.pid, 'SIGKILL');
      }
    }
    // The group leader may be gone while its children live on: kill the groups regardless.
    for (const c of [...env.externals, ...(env.runtime ? [env.runtime] : [])]) signalGroup(c.pid, 'SIGKILL');
    await Promise.all([...env.externals, ...(env.runtime ? [env.runtime] : [])].map((c) => c.exited));
    for (const a of env.agents.values()) {
      a.pendingNext?.destroy();
      a.pendingNext = undefined;
      await a.subscriber?.idle(50);
      a.subscriber?.close();
    }
    env.runtimePendingNext?.destroy();
    env.dead = true;
    if (this.env === env) this.env = undefined;
    this.poke();
    return {
      reason,
      durationMs: round3(performance.now() - t0),
      processes: [...(env.runtime ? [env.runtime] : []), ...env.externals].map((c) => ({
        name: c.name,
        pid: c.pid,
        ended: killed.has(c) ? 'killed' : 'exit',
        code: c.exitInfo?.code ?? null,
        signal: c.exitInfo?.signal ?? null,
      })),
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Freeze

  private freezeToken = 0;

  private scheduleFreeze(): void {
    if (this.opts.freeze === false || this.managedInstances) return;
    const env = this.env;
    if (!env) return;
    const token = ++this.freezeToken;
    const idle = () =>
      env.dead ||
      token !== this.freezeToken ||
      (env.runtimeOnNext && [...env.agents.values()].every((a) => a.onNext || a.child?.exitInfo));
    void this.waitUntil(idle).then(() => {
      if (env.dead || token !== this.freezeToken || env.shuttingDown || env.current) return;
      const children = this.liveChildren(env);
      for (const c of children) signalGroup(c.pid, 'SIGSTOP');
      // A signal is delivered when the process is next scheduled: wait until /proc shows it stopped.
      env.frozen = true;
      void waitStopped(children.map((c) => c.pid)).then(() => {
        if (env.dead || !env.frozen) return;
        env.stopped = true;
        this.poke();
        this.emit('freeze');
      });
    });
  }

  private cancelFreeze(): void {
    this.freezeToken++;
  }

  private thaw(env: Environment): void {
    if (!env.frozen) return;
    for (const c of this.liveChildren(env)) signalGroup(c.pid, 'SIGCONT');
    env.frozen = false;
    env.stopped = false;
    this.emit('thaw');
  }

  private liveChildren(env: Environment): Child[] {
    return [...(env.runtime ? [env.runtime] : []), ...env.externals].filter((c) => !c.exitInfo);
  }

  // ---------------------------------------------------------------------------------------------
  // Memory

  private sampleMemory(env: Environment): NodeJS.Timeout {
    const t = setInterval(() => this.sampleOnce(env), this.opts.memorySampleMs ?? 20);
    t.unref();
    return t;
  }

  private sampleOnce(env: Environment): void {
    if (env.dead || env.frozen) return;
    let total = 0;
    const rt = env.runtime && !env.runtime.exitInfo ? procStatus(env.runtime.pid) : undefined;
    if (rt) total += rt.rssKB;
    for (const c of env.externals) if (!c.exitInfo) total += procStatus(c.pid)?.rssKB ?? 0;
    env.maxRssKB = Math.max(env.maxRssKB, total);
    if (rt && rt.rssKB > this.memorySizeMB * 1024 && !env.failure && env.runtime) {
      // Lambda's cgroup would kill the runtime; so do we, and report it as Lambda does.
      this.logger.warn(`runtime RSS ${rt.rssKB} KiB passed ${this.memorySizeMB} MB: killed`);
      env.failure = { status: 'error', errorType: 'Runtime.OutOfMemory', oom: true };
      if (!env.runtimeInitDone) env.initFailure = { status: 'error', errorType: 'Runtime.OutOfMemory' };
      signalGroup(env.runtime.pid, 'SIGKILL');
      this.poke();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Processes

  private baseEnv(): Record<string, string> {
    const custom = this.opts.env ?? {};
    return {
      PATH: `${dirname(process.execPath)}:${process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'}`,
      LANG: 'en_US.UTF-8',
      TZ: ':UTC',
      AWS_LAMBDA_RUNTIME_API: this.runtimeApi,
      AWS_LAMBDA_FUNCTION_NAME: this.functionName,
      AWS_LAMBDA_FUNCTION_VERSION: this.functionVersion,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(this.memorySizeMB),
      AWS_LAMBDA_INITIALIZATION_TYPE: this.initializationType,
      AWS_REGION: this.region,
      AWS_DEFAULT_REGION: this.region,
      // The documented example credentials: the sandbox never talks to AWS.
      AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      AWS_SESSION_TOKEN: 'sandbox-session-token',
      ...custom,
    };
  }

  private spawnExtension(env: Environment, file: string): Child {
    // Extensions get the customer and platform variables, never the runtime-only `_` ones.
    const childEnv = Object.fromEntries(Object.entries(this.baseEnv()).filter(([k]) => !k.startsWith('_')));
    const name = basename(file);
    return spawnChild({
      name,
      command: file,
      args: [],
      cwd: dirname(file),
      env: childEnv,
      onLine: (stream, line) => this.captureLine('extension', name, stream, line),
      onExit: (child) => this.onExtensionExit(env, child),
    });
  }

  private spawnRuntime(env: Environment): Child {
    const taskRoot = this.opts.taskRoot ?? process.cwd();
    const runtime = this.opts.runtime ?? { command: process.execPath, args: [NODE_RUNTIME_BOOTSTRAP] };
    const nodeMajor = process.versions.node.split('.')[0];
    const childEnv: Record<string, string> = {
      ...this.baseEnv(),
      _HANDLER: this.opts.handler ?? 'index.handler',
      LAMBDA_TASK_ROOT: taskRoot,
      LAMBDA_RUNTIME_DIR: dirname(runtime.args?.[0] ?? runtime.command),
      AWS_EXECUTION_ENV: `AWS_Lambda_nodejs${nodeMajor}.x`,
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${this.functionName}`,
      AWS_LAMBDA_LOG_STREAM_NAME: this.logStream,
      AWS_XRAY_DAEMON_ADDRESS: '169.254.79.129:2000',
      NODE_PATH: `/opt/nodejs/node${nodeMajor}/node_modules:/opt/nodejs/node_modules:${taskRoot}`,
      ...(this.opts.logFormat === 'JSON' ? { AWS_LAMBDA_LOG_FORMAT: 'JSON' } : {}),
      ...(this.managedInstances ? { AWS_LAMBDA_MAX_CONCURRENCY: '1' } : {}),
      ...(this.opts.env ?? {}),
    };
    const { command, args } = this.opts.optDir
      ? withOptMount(this.opts.optDir, runtime.command, runtime.args ?? [])
      : { command: runtime.command, args: runtime.args ?? [] };
    return spawnChild({
      name: 'runtime',
      command,
      args,
      cwd: taskRoot,
      env: childEnv,
      onLine: (stream, line) => this.captureLine('function', 'runtime', stream, line),
      onExit: () => this.onRuntimeExit(env),
    });
  }

  private onExtensionExit(env: Environment, child: Child): void {
    if (!env.shuttingDown && !env.dead) {
      const agent = this.agentOf(env, child);
      this.logger.warn(`extension ${child.name} exited (${child.exitInfo?.code ?? child.exitInfo?.signal})`);
      if (env.registrationOpen) env.initFailure ??= { status: 'error', errorType: 'Extension.Crash' };
      else env.failure ??= { status: 'failure', errorType: 'Extension.Crash' };
      if (agent) agent.onNext = false;
    }
    this.poke();
  }

  private onRuntimeExit(env: Environment): void {
    if (!env.shuttingDown && !env.dead) {
      if (env.registrationOpen) env.initFailure ??= { status: 'error', errorType: 'Runtime.ExitError' };
      else env.failure ??= { status: 'failure', errorType: 'Runtime.ExitError' };
      env.runtimeOnNext = false;
    }
    this.poke();
  }

  private captureLine(
    source: 'function' | 'extension',
    name: string,
    stream: 'stdout' | 'stderr',
    line: string,
  ): void {
    const time = iso();
    let record: string | Record<string, unknown> = line;
    if (source === 'function') {
      record = `${line.replace(/\r/g, '\n')}\n`;
      if (this.opts.logFormat === 'JSON' && line.startsWith('{')) {
        try {
          const parsed = JSON.parse(line);
          if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) record = parsed;
        } catch {
          // Not JSON after all: keep the text record.
        }
      }
    }
    this.produce({ time, type: source, record } as TelemetryEvent);
    const entry: LogLine = { source, name, stream, line, time };
    const inv = this.env?.current;
    if (inv && inv.logs.length < MAX_INVOCATION_LOGS) inv.logs.push(entry);
    this.emit('log', entry);
    this.opts.onLog?.(entry);
  }

  private agentOf(env: Environment, child: Child): Agent | undefined {
    for (const a of env.agents.values()) if (a.child === child) return a;
    return undefined;
  }

  private extensionRecords(env: Environment): ExtensionRecord[] {
    return env.externals.map((c) => {
      const a = this.agentOf(env, c);
      const rss = c.exitInfo ? undefined : procStatus(c.pid)?.rssKB;
      return {
        name: c.name,
        pid: c.pid,
        events: a?.events ?? [],
        ...(a ? { spawnToRegisterMs: round3(a.registeredAt - c.spawnedAt) } : {}),
        ...(a?.firstNextAt !== undefined ? { spawnToFirstNextMs: round3(a.firstNextAt - c.spawnedAt) } : {}),
        ...(rss !== undefined ? { rssKB: rss } : {}),
      };
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Telemetry

  private produce(event: TelemetryEvent): void {
    if (this.events.length >= TELEMETRY_LOG_LIMIT) this.events.shift();
    this.events.push(event);
    const env = this.env;
    // Only init-phase events (and those of a failed init, for the retry) are kept for replay.
    if ((!env || env.registrationOpen || this.suppressedInit) && this.replay.length < TELEMETRY_LOG_LIMIT) {
      this.replay.push(event);
    }
    if (env) for (const a of env.agents.values()) a.subscriber?.push(event);
    this.emit('telemetry', event);
  }

  private runtimeVersion(): string {
    return `nodejs:${process.versions.node.split('.')[0]}.v${process.versions.node.split('.')[1]}`;
  }

  private runtimeVersionArn(): string {
    const hash = createHash('sha256').update(process.version).digest('hex');
    return `arn:aws:lambda:${this.region}::runtime:${hash}`;
  }

  private tracingOf(options: InvokeOptions): TraceContext | undefined {
    if (!options.traceId) return undefined;
    return { spanId: randomBytes(8).toString('hex'), type: 'X-Amzn-Trace-Id', value: options.traceId };
  }

  // ---------------------------------------------------------------------------------------------
  // Waiting

  private waitUntil(pred: () => boolean, deadline?: number): Promise<boolean> {
    if (pred()) return Promise.resolve(true);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const cleanup = () => {
        this.waiters.delete(check);
        clearTimeout(timer);
      };
      const check = () => {
        if (pred()) {
          cleanup();
          resolve(true);
        }
      };
      this.waiters.add(check);
      if (deadline !== undefined) {
        // Timers may fire a little early against performance.now(): re-arm until the deadline.
        const arm = () => {
          const left = deadline - performance.now();
          if (left > 0) {
            timer = setTimeout(arm, Math.ceil(left));
            return;
          }
          cleanup();
          resolve(pred());
        };
        arm();
      }
    });
  }

  private poke(): void {
    for (const w of [...this.waiters]) w();
  }

  // ---------------------------------------------------------------------------------------------
  // The HTTP server: Runtime API, Extensions API, Telemetry API

  /**
   * Opens the APIs (idempotent; `start()` calls it). Resolves with `runtimeApi`, so that a test can
   * point an extension running outside the sandbox (`outsideExtensions`) at it before init.
   */
  async listen(): Promise<string> {
    if (!this.server) await this.openServer();
    return this.runtimeApi;
  }

  private outsideNames(): string[] {
    return this.opts.outsideExtensions ?? [];
  }

  private openServer(): Promise<void> {
    const server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        this.logger.error(`platform API: ${String(err)}`);
        if (!res.headersSent) this.answerError(res, 500, 'ServiceException', 'Internal error');
      });
    });
    server.keepAliveTimeout = 0;
    server.requestTimeout = 0;
    server.headersTimeout = 0;
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port ?? 0, '127.0.0.1', () => {
        this.port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  private closeServer(): Promise<void> {
    const server = this.server;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = (req.url ?? '/').split('?')[0]!;
    const m = req.method ?? 'GET';
    if (url === '/2020-01-01/extension/register' && m === 'POST') return this.register(req, res);
    if (url === '/2020-01-01/extension/event/next' && m === 'GET') return this.extensionNext(req, res);
    if (url === '/2020-01-01/extension/init/error' && m === 'POST')
      return this.extensionError(req, res, 'init');
    if (url === '/2020-01-01/extension/exit/error' && m === 'POST')
      return this.extensionError(req, res, 'exit');
    if (url === '/2022-07-01/telemetry' && m === 'PUT') return this.subscribe(req, res);
    if (url === '/2020-08-15/logs' && m === 'PUT') {
      req.resume();
      return sendJson(res, 202, {
        errorMessage: 'Logs API is not supported',
        errorType: 'Logs.NotSupported',
      });
    }
    if (url === '/2018-06-01/runtime/invocation/next' && m === 'GET') return this.runtimeNext(req, res);
    if (url === '/2018-06-01/runtime/init/error' && m === 'POST') return this.runtimeInitError(req, res);
    const inv = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url);
    if (inv && m === 'POST') return this.runtimeResult(req, res, inv[1]!, inv[2] as 'response' | 'error');
    req.resume();
    this.answerError(res, 404, 'InvalidRequest', `No route for ${m} ${url}`);
  }

  private lastErrorLog = Number.NEGATIVE_INFINITY;

  private answerError(res: ServerResponse, status: number, errorType: string, message: string): void {
    this.apiErrors[errorType] = (this.apiErrors[errorType] ?? 0) + 1;
    // One line per second at most: a misbehaving child must not flood the log.
    const now = performance.now();
    if (now - this.lastErrorLog >= 1000) {
      this.lastErrorLog = now;
      this.logger.debug(`platform API answered ${status} ${errorType}: ${message}`);
    }
    sendError(res, status, errorType, message);
  }

  // Extensions API

  private async register(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const env = this.env;
    const name = header(req, 'Lambda-Extension-Name') ?? '';
    let body: unknown;
    try {
      const raw = await readBody(req, MAX_REQUEST_BYTES);
      body = JSON.parse(raw.toString('utf8') || 'null');
    } catch {
      return this.answerError(res, 403, 'InvalidRequestFormat', 'Request body is not valid JSON');
    }
    if (name === '')
      return this.answerError(res, 403, 'Extension.InvalidExtensionName', 'Empty extension name');
    if (!env?.registrationOpen || env.shuttingDown) {
      return this.answerError(
        res,
        403,
        'Extension.RegistrationClosed',
        'Extension registration closed already',
      );
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return this.answerError(res, 403, 'InvalidRequestFormat', 'Request body must be a JSON object');
    }
    const b = body as { events?: unknown; configurationKeys?: unknown };
    if (b.configurationKeys !== undefined) {
      return this.answerError(res, 403, 'InvalidRequestFormat', 'configurationKeys is no longer supported');
    }
    const events = b.events ?? [];
    if (!Array.isArray(events) || events.some((e) => e !== 'INVOKE' && e !== 'SHUTDOWN')) {
      return this.answerError(res, 403, 'Extension.InvalidEventType', 'Events must be INVOKE or SHUTDOWN');
    }
    const child = env.externals.find((c) => c.name === name);
    const outside = this.outsideNames().includes(name);
    if (!child && !outside && events.includes('SHUTDOWN')) {
      return this.answerError(
        res,
        403,
        'Extension.InvalidEventType',
        'Internal extensions cannot subscribe to SHUTDOWN',
      );
    }
    if (this.managedInstances && events.includes('INVOKE')) {
      return this.answerError(res, 403, 'Extension.InvalidEventType', 'INVOKE is not supported in this mode');
    }
    if ([...env.agents.values()].some((a) => a.name === name)) {
      return this.answerError(
        res,
        403,
        'Extension.InvalidExtensionState',
        `Extension ${name} is already registered`,
      );
    }
    if (env.agents.size >= MAX_EXTENSIONS) {
      return this.answerError(res, 403, 'Extension.TooManyExtensions', 'Too many extensions registered');
    }
    const agent: Agent = {
      id: randomUUID(),
      name,
      events: [...new Set(events as ExtensionEventType[])],
      external: child !== undefined || outside,
      registeredAt: performance.now(),
      queued: [],
      onNext: false,
      ...(child ? { child } : {}),
    };
    env.agents.set(agent.id, agent);
    const accept = (header(req, 'Lambda-Extension-Accept-Feature') ?? '').split(',').map((s) => s.trim());
    sendJson(
      res,
      200,
      {
        functionName: this.functionName,
        functionVersion: this.functionVersion,
        handler: this.opts.handler ?? 'index.handler',
        ...(accept.includes('accountId') ? { accountId: this.accountId } : {}),
      },
      { 'Lambda-Extension-Identifier': agent.id },
    );
    this.poke();
  }

  /** Resolves the caller's agent or answers the AWS error and returns undefined. */
  private agentFor(req: IncomingMessage, res: ServerResponse): Agent | undefined {
    const id = header(req, 'Lambda-Extension-Identifier');
    if (!id) {
      this.answerError(
        res,
        403,
        'Extension.MissingExtensionIdentifier',
        'Missing Lambda-Extension-Identifier header',
      );
      return undefined;
    }
    if (!isUuid(id)) {
      this.answerError(
        res,
        403,
        'Extension.InvalidExtensionIdentifier',
        'Invalid Lambda-Extension-Identifier',
      );
      return undefined;
    }
    const agent = this.env?.agents.get(id);
    if (!agent) {
      this.answerError(res, 403, 'Extension.UnknownExtensionIdentifier', 'Unknown extension');
      return undefined;
    }
    return agent;
  }

  private extensionNext(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    const agent = this.agentFor(req, res);
    if (!agent) return;
    if (agent.pendingNext && !agent.pendingNext.destroyed) {
      this.answerError(res, 403, 'Extension.InvalidExtensionState', 'A next request is already pending');
      return;
    }
    if (agent.firstNextAt === undefined) {
      agent.firstNextAt = performance.now();
      this.produce({
        time: iso(),
        type: 'platform.extension',
        record: { name: agent.name, state: 'Ready', events: agent.events },
      });
    }
    const queued = agent.queued.shift();
    if (queued) {
      this.answerNext(res, queued);
      return;
    }
    agent.pendingNext = res;
    agent.onNext = true;
    res.on('close', () => {
      if (agent.pendingNext === res) agent.pendingNext = undefined;
    });
    this.poke();
  }

  private deliver(agent: Agent, event: object): void {
    agent.onNext = false;
    const res = agent.pendingNext;
    agent.pendingNext = undefined;
    if (res && !res.destroyed) this.answerNext(res, event);
    else agent.queued.push(event);
  }

  private answerNext(res: ServerResponse, event: object): void {
    sendJson(res, 200, event, { 'Lambda-Extension-Event-Identifier': randomUUID() });
  }

  private async extensionError(
    req: IncomingMessage,
    res: ServerResponse,
    kind: 'init' | 'exit',
  ): Promise<void> {
    let raw: Buffer;
    try {
      raw = await readBody(req, MAX_REQUEST_BYTES);
    } catch {
      return this.answerError(res, 413, 'RequestEntityTooLarge', 'Request too large');
    }
    const agent = this.agentFor(req, res);
    if (!agent) return;
    const errorType = header(req, 'Lambda-Extension-Function-Error-Type');
    if (!errorType)
      return this.answerError(
        res,
        403,
        'Extension.MissingHeader',
        'Missing Lambda-Extension-Function-Error-Type',
      );
    if (raw.length > 0) {
      try {
        JSON.parse(raw.toString('utf8'));
      } catch {
        return this.answerError(res, 403, 'InvalidRequestFormat', 'Request body is not valid JSON');
      }
    }
    const env = this.env!;
    if (kind === 'init') {
      if (!env.registrationOpen) {
        return this.answerError(
          res,
          403,
          'Extension.InvalidExtensionState',
          'init/error is only valid during init',
        );
      }
      env.initFailure ??= { status: 'error', errorType };
    } else if (!env.registrationOpen && !env.shuttingDown) {
      env.failure ??= { status: 'failure', errorType };
    }
    this.logger.warn(`extension ${agent.name} reported ${kind}/error ${errorType}`);
    sendJson(res, 202, { status: 'OK' });
    this.poke();
  }

  // Telemetry API

  private async subscribe(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw: Buffer;
    try {
      raw = await readBody(req, MAX_REQUEST_BYTES);
    } catch (err) {
      if (err instanceof BodyTooLargeError)
        return this.answerError(res, 400, 'ValidationError', 'Request body too large');
      throw err;
    }
    const agent = this.agentFor(req, res);
    if (!agent) return;
    if (agent.firstNextAt !== undefined || !this.env?.registrationOpen) {
      return this.answerError(
        res,
        403,
        'Telemetry.SubscriptionClosed',
        'Telemetry API subscription is closed',
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return this.answerError(res, 400, 'ValidationError', 'Request body is not valid JSON');
    }
    const v = validateSubscription(body, this.managedInstances ? '2025-01-29' : undefined);
    if (!v.ok) return this.answerError(res, 400, 'ValidationError', v.message);
    agent.subscriber?.close();
    const sub = new TelemetrySubscriber(agent.name, v.value, this.logger);
    agent.subscriber = sub;
    sendJson(res, 200, 'OK');
    // Events produced before the subscription (in this init) are replayed, then the subscription event.
    for (const e of this.replay) sub.push(e);
    this.produce({
      time: iso(),
      type: 'platform.telemetrySubscription',
      record: { name: agent.name, state: 'Subscribed', types: v.value.types },
    });
  }

  // Runtime API

  private runtimeNext(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    const env = this.env;
    if (!env || env.shuttingDown) return; // never answered: the process is about to go
    if (env.runtimePendingNext && !env.runtimePendingNext.destroyed) {
      this.answerError(res, 403, 'InvalidStateTransition', 'A next request is already pending');
      return;
    }
    if (!env.runtimeInitDone) {
      env.runtimeInitDone = true;
      this.produce({
        time: iso(),
        type: 'platform.initRuntimeDone',
        record: { initializationType: env.initType, phase: env.phase, status: 'success' },
      });
    }
    env.runtimePendingNext = res;
    env.runtimeOnNext = true;
    res.on('close', () => {
      if (env.runtimePendingNext === res) env.runtimePendingNext = undefined;
    });
    this.offerInvocation(env);
    this.poke();
  }

  private offerInvocation(env: Environment): void {
    const inv = env.current;
    const res = env.runtimePendingNext;
    if (!inv || inv.delivered || !res || res.destroyed) return;
    inv.delivered = true;
    env.runtimePendingNext = undefined;
    env.runtimeOnNext = false;
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Content-Length': inv.event.length,
      ...inv.headers,
    });
    res.end(inv.event);
  }

  private async runtimeInitError(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req, MAX_REQUEST_BYTES).catch(() => Buffer.alloc(0));
    const env = this.env;
    if (!env || env.runtimeInitDone || !env.registrationOpen) {
      return this.answerError(
        res,
        403,
        'InvalidStateTransition',
        'State transition from Ready to InitError failed',
      );
    }
    const errorType =
      header(req, 'Lambda-Runtime-Function-Error-Type') ?? errorTypeFromBody(raw) ?? 'Runtime.Unknown';
    env.runtimeInitDone = true;
    env.initFailure ??= { status: 'error', errorType };
    this.produce({
      time: iso(),
      type: 'platform.initRuntimeDone',
      record: { initializationType: env.initType, phase: env.phase, status: 'error', errorType },
    });
    sendJson(res, 202, { status: 'OK' });
    this.poke();
  }

  private async runtimeResult(
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    kind: 'response' | 'error',
  ): Promise<void> {
    const env = this.env;
    const inv = env?.current;
    const readStart = performance.now();
    let body: Buffer;
    let tooLarge = false;
    try {
      body = await readBody(req, kind === 'response' ? MAX_RESPONSE_BYTES : MAX_REQUEST_BYTES);
    } catch (err) {
      if (!(err instanceof BodyTooLargeError)) throw err;
      tooLarge = true;
      body = Buffer.alloc(0);
    }
    if (!env || !inv || inv.requestId !== requestId) {
      return this.answerError(res, 400, 'InvalidRequestID', 'Invalid request ID');
    }
    if (inv.outcome) {
      return this.answerError(res, 403, 'InvalidStateTransition', 'Invocation already completed');
    }
    const at = performance.now();
    const readMs = at - readStart;
    if (tooLarge) {
      inv.outcome = {
        status: 'error',
        errorType: 'Function.ResponseSizeTooLarge',
        body: Buffer.from(
          JSON.stringify({
            errorType: 'Function.ResponseSizeTooLarge',
            errorMessage: `Response payload size exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`,
          }),
        ),
        at,
        readMs,
      };
      this.answerError(res, 413, 'RequestEntityTooLarge', 'Response payload too large');
    } else if (kind === 'response') {
      inv.outcome = { status: 'success', body, at, readMs };
      sendJson(res, 202, { status: 'OK' });
    } else {
      const errorType =
        header(req, 'Lambda-Runtime-Function-Error-Type') ?? errorTypeFromBody(body) ?? 'Unhandled';
      inv.outcome = { status: 'error', errorType, body, at, readMs };
      sendJson(res, 202, { status: 'OK' });
    }
    this.poke();
  }
}

async function waitStopped(pids: number[], timeoutMs = 1000): Promise<void> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const pending = pids.filter((p) => {
      const st = procStatus(p)?.state;
      return st !== undefined && st !== 'T' && st !== 'Z';
    });
    if (pending.length === 0 || performance.now() > until) return;
    await new Promise((r) => setTimeout(r, 1));
  }
}

function errorTypeOf(f: Failure | undefined): { errorType?: string } {
  return f?.errorType ? { errorType: f.errorType } : {};
}

function coldStartSuppressed(env: Environment): boolean {
  return env.phase === 'invoke';
}

function errorTypeFromBody(raw: Buffer): string | undefined {
  try {
    const b = JSON.parse(raw.toString('utf8'));
    return typeof b?.errorType === 'string' ? b.errorType : undefined;
  } catch {
    return undefined;
  }
}

function parseBody(raw: Buffer): unknown {
  const text = raw.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

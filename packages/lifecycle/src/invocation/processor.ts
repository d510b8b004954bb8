// One context per request id, fed by INVOKE, platform.start, platform.runtimeDone and
// platform.report in whatever order they come (a report can arrive after the next thaw). It turns
// them into enhanced-metric samples and typed events.
import type { InvokeEvent, ShutdownEvent } from '../extensions-client.js';
import { errorMessage, type Logger, noopLogger, OnceLogger } from '../logger.js';
import {
  type Architecture,
  architectureOf,
  ENHANCED,
  type EnhancedMetricName,
  estimatedCostUsd,
  type MetricSubmit,
} from '../metrics/enhanced.js';
import {
  type CpuCounters,
  cpuUtilization,
  type NetworkCounters,
  ProcReader,
  type UsagePeaks,
  UsageSampler,
} from '../metrics/proc.js';
import type { ReportRecord, RuntimeDoneRecord, TelemetryEvent } from '../telemetry/events.js';
import type { LifecycleEvent, LifecycleListener, OutOfMemoryDetector } from './events.js';

export const PROACTIVE_INITIALIZATION_THRESHOLD_MS = 10_000;

export interface InvocationProcessorOptions {
  /** `DD_ENHANCED_METRICS`; default true. */
  enhancedMetrics?: boolean;
  /** `DD_LAMBDA_PROC_ENHANCED_METRICS`; default true. */
  procEnhancedMetrics?: boolean;
  managedInstances?: boolean;
  /**
   * SnapStart (`AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`): the first invocation is a restore even
   * when `platform.restoreStart` arrives after its INVOKE.
   */
  snapStart?: boolean;
  architecture?: Architecture;
  /** Where samples go (the app connects dogstatsd's in-process submit). */
  submit?: MetricSubmit;
  /**
   * Extra per-invocation tags, e.g. `runtime:nodejs20.x` resolved by the app; a function is asked at
   * each emission (the runtime can only be read once its process is there).
   */
  invocationTags?: readonly string[] | (() => readonly string[]);
  logger?: Logger;
  now?: () => number;
  /** Epoch ms the extension process started; the proactive-initialization clock starts here. */
  startedAt?: number;
  proc?: ProcReader;
  procSampleIntervalMs?: number;
  maxContexts?: number;
}

export interface ProcessorStats {
  contexts: number;
  evictedContexts: number;
  eventsForFinishedRequests: number;
  submitErrors: number;
  listenerErrors: number;
}

interface Context {
  requestId: string;
  seq: number;
  coldStart: boolean;
  proactive: boolean;
  snapStart: boolean;
  invokeSeen: boolean;
  startSeen: boolean;
  invocationsEmitted: boolean;
  heldInvocationsAt?: number;
  runtimeDone?: { durationMs?: number; status: string; time: number };
  report?: ReportRecord['metrics'];
  postRuntimeEmitted: boolean;
  errorCounted: boolean;
  timeoutCounted: boolean;
  oomCounted: boolean;
  procStart?: ProcSnapshot;
  /** Where the network/cpu-time window closed, when that came before the report. */
  procEnd?: ProcSnapshot;
  procTotalsEmitted: boolean;
}

interface InvocationFlags {
  coldStart: boolean;
  proactive: boolean;
}

interface ProcSnapshot {
  net?: NetworkCounters;
  cpu?: CpuCounters;
}

/** What a finished invocation keeps: its tags' flags and what was counted, for late errors and OOMs. */
type Finished = Pick<
  Context,
  'requestId' | 'coldStart' | 'proactive' | 'errorCounted' | 'timeoutCounted' | 'oomCounted'
>;

// Late errors and OOM log lines come within a Telemetry batch or two (an environment runs one
// invocation at a time, a managed instance a few): a few dozen finished invocations cover them.
const FINISHED_MEMORY = 64;

export class InvocationProcessor {
  private readonly contexts = new Map<string, Context>();
  // Finished contexts stay a while: late hook errors and log-line OOMs still dedupe against them.
  private readonly finished = new Map<string, Finished>();
  private readonly listeners = new Set<LifecycleListener>();
  private readonly waiters = new Map<string, Array<() => void>>();
  private readonly logger: Logger;
  private readonly once: OnceLogger;
  private readonly now: () => number;
  private readonly startedAt: number;
  private readonly enhanced: boolean;
  private procEnabled: boolean;
  private telemetryAvailable = true;
  private readonly managed: boolean;
  private readonly arch: Architecture;
  private readonly reader: ProcReader;
  private readonly sampler: UsageSampler;
  private seq = 0;
  private anyInvocation = false;
  private initStartSeen = false;
  // Set by initStart, which usually comes before the first INVOKE: it tags everything after it.
  private durable = false;
  private initReportSeen = false;
  private initDurationFallbackEmitted = false;
  private initType: string | undefined;
  private restoreStartedAt: number | undefined;
  private lastRequestId: string | undefined;
  private lastInvocation: InvocationFlags | undefined;
  readonly stats: ProcessorStats = {
    contexts: 0,
    evictedContexts: 0,
    eventsForFinishedRequests: 0,
    submitErrors: 0,
    listenerErrors: 0,
  };

  constructor(private readonly options: InvocationProcessorOptions = {}) {
    this.logger = options.logger ?? noopLogger;
    this.once = new OnceLogger(this.logger);
    this.now = options.now ?? Date.now;
    this.startedAt = options.startedAt ?? Math.round(performance.timeOrigin);
    this.enhanced = options.enhancedMetrics ?? true;
    this.managed = options.managedInstances ?? false;
    this.procEnabled = this.enhanced && (options.procEnhancedMetrics ?? true);
    this.arch = options.architecture ?? architectureOf(process.arch);
    this.reader = options.proc ?? new ProcReader();
    this.sampler = new UsageSampler(this.reader, options.procSampleIntervalMs ?? 10);
  }

  subscribe(listener: LifecycleListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The request id of the invocation most recently started, for log lines that carry none. */
  get currentRequestId(): string | undefined {
    return this.lastRequestId;
  }

  /** Request ids whose runtime has not finished yet. */
  inFlight(): string[] {
    return [...this.contexts.values()].filter((c) => !c.runtimeDone).map((c) => c.requestId);
  }

  /** Request ids still waiting for their runtimeDone or their report. */
  pending(): string[] {
    return [...this.contexts.keys()];
  }

  /** Resolves true once runtimeDone for the request has been processed, false on timeout. */
  waitForRuntimeDone(requestId: string, timeoutMs: number): Promise<boolean> {
    const ctx = this.contexts.get(requestId);
    if (this.finished.has(requestId) || ctx?.runtimeDone) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const list = this.waiters.get(requestId);
        if (list) {
          const i = list.indexOf(done);
          if (i >= 0) list.splice(i, 1);
          if (list.length === 0) this.waiters.delete(requestId);
        }
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const list = this.waiters.get(requestId) ?? [];
      list.push(done);
      this.waiters.set(requestId, list);
    });
  }

  /**
   * Without platform events (the subscription failed or is not supported) nothing will release a
   * held invocation count or stop the /proc sampler: count at INVOKE and skip the /proc metrics.
   */
  telemetryUnavailable(): void {
    this.telemetryAvailable = false;
    this.procEnabled = false;
    if (this.sampler.running) this.sampler.stop();
    for (const ctx of this.contexts.values()) {
      ctx.procStart = undefined;
      this.releaseInvocations(ctx);
    }
  }

  // ---- inputs ----------------------------------------------------------------------------

  /** @param time when the INVOKE came (it may have waited for the loop: an early `next`). */
  onInvoke(event: InvokeEvent, time = this.now()): void {
    const ctx = this.context(event.requestId, time);
    if (!ctx || ctx.invokeSeen) return;
    ctx.invokeSeen = true;
    const start: LifecycleEvent = {
      type: 'invocationStart',
      requestId: event.requestId,
      time,
      deadlineMs: event.deadlineMs,
      invokedFunctionArn: event.invokedFunctionArn,
      coldStart: ctx.coldStart,
      proactiveInitialization: ctx.proactive,
      snapStartRestore: ctx.snapStart,
    };
    if (event.tracing) start.tracing = event.tracing;
    this.publish(start);
  }

  onTelemetry(events: TelemetryEvent[]): void {
    for (const event of events) {
      try {
        this.onTelemetryEvent(event);
      } catch (err) {
        this.once.warn(
          `telemetry:${event.type}`,
          `${event.type} could not be processed: ${errorMessage(err)}`,
        );
      }
    }
    this.publish({ type: 'telemetry', events });
  }

  /** The log-line OOM detector's entry point (the logs package's hook, wired by the app). */
  outOfMemoryDetected(info: { requestId?: string; time?: number } = {}): void {
    const requestId = info.requestId ?? this.lastRequestId;
    const time = info.time ?? this.now();
    if (requestId === undefined) {
      this.countOom(undefined, time, 'log-line');
      return;
    }
    const ctx = this.contexts.get(requestId) ?? this.finished.get(requestId);
    if (ctx) this.countOom(ctx, time, 'log-line');
    else this.countOom(undefined, time, 'log-line', requestId);
  }

  /** An error the tracer reported at end-invocation (thrown error or 5xx). */
  invocationErrored(requestId: string | undefined, time = this.now()): void {
    // A hook can beat its INVOKE here (the runtime and the extension get the invoke at once): the
    // context starts now, and the INVOKE joins it.
    const ctx = requestId ? (this.finished.get(requestId) ?? this.context(requestId, time)) : undefined;
    if (ctx) this.countError(ctx, time);
    else this.emit(ENHANCED.errors, 1, time, this.ambientTags());
  }

  onShutdown(event: ShutdownEvent): void {
    const time = this.now();
    this.emit(ENHANCED.shutdowns, 1, time, this.ambientTags());
    if (!this.anyInvocation) this.emit(ENHANCED.unusedInit, 1, time, this.ambientTags());
    const inFlight = this.inFlight();
    for (const ctx of this.contexts.values()) {
      this.releaseInvocations(ctx);
      if (!ctx.runtimeDone) {
        // The runtime never finished: the environment is going away under it.
        if (event.shutdownReason === 'timeout') this.countTimeout(ctx, time);
        else if (event.shutdownReason === 'failure') this.countError(ctx, time);
      }
      this.procTotals(ctx, time, this.tagsOf(ctx));
    }
    const peaks = this.sampler.stop();
    if (this.procEnabled && this.managed) {
      this.emitUsage(this.sampler.sampled ? peaks : this.sampleOnce(), time, this.ambientTags());
    }
    this.publish({
      type: 'shutdown',
      time,
      reason: event.shutdownReason,
      deadlineMs: event.deadlineMs,
      inFlight,
    });
  }

  // ---- telemetry -------------------------------------------------------------------------

  private onTelemetryEvent(event: TelemetryEvent): void {
    switch (event.type) {
      case 'platform.initStart': {
        const r = event.record;
        this.initStartSeen = true;
        this.initType = r.initializationType;
        const suppressed = r.phase === 'invoke';
        if (suppressed) {
          this.logger.warn(
            'function init is running inside the first invocation (suppressed init): the earlier init failed or timed out',
          );
        }
        if ((r.runtimeVersion ?? '').includes('DurableFunction')) this.durable = true;
        const out: LifecycleEvent = {
          type: 'initStart',
          time: event.time,
          initializationType: r.initializationType,
          phase: r.phase,
          suppressed,
        };
        if (r.runtimeVersion) out.runtimeVersion = r.runtimeVersion;
        if (r.runtimeVersionArn) out.runtimeVersionArn = r.runtimeVersionArn;
        this.publish(out);
        for (const ctx of this.contexts.values()) this.releaseInvocations(ctx);
        return;
      }
      case 'platform.initReport': {
        const r = event.record;
        const status = r.status ?? 'success';
        const suppressed = r.phase === 'invoke';
        if (status !== 'success') {
          this.logger.warn(
            `function init ended with status ${status}${r.errorType ? ` (${r.errorType})` : ''} after ${r.metrics.durationMs} ms${
              suppressed
                ? ' during the first invocation'
                : '; Lambda runs it again inside the first invocation'
            }`,
          );
        }
        // Every init counts, the suppressed one inside the first invoke too: each took its time.
        this.initReportSeen = true;
        this.emit(ENHANCED.initDuration, r.metrics.durationMs * 0.001, event.time, [
          ...this.ambientTags(),
          `init_type:${r.initializationType}`,
        ]);
        const out: LifecycleEvent = {
          type: 'initReport',
          time: event.time,
          initializationType: r.initializationType,
          phase: r.phase,
          status,
          durationMs: r.metrics.durationMs,
          suppressed,
        };
        if (r.errorType) out.errorType = r.errorType;
        this.publish(out);
        return;
      }
      case 'platform.restoreStart':
        this.restoreStartedAt = event.time;
        this.publish({ type: 'restoreStart', time: event.time });
        return;
      case 'platform.restoreReport': {
        const r = event.record;
        if (r.metrics)
          this.emit(
            ENHANCED.snapstartRestoreDuration,
            r.metrics.durationMs * 0.001,
            event.time,
            this.ambientTags(),
          );
        const out: LifecycleEvent = { type: 'restoreReport', time: event.time, status: r.status };
        if (r.errorType) out.errorType = r.errorType;
        if (r.metrics) out.durationMs = r.metrics.durationMs;
        this.publish(out);
        return;
      }
      case 'platform.start': {
        const r = event.record;
        const ctx = this.context(r.requestId, event.time);
        if (!ctx || ctx.startSeen) return;
        ctx.startSeen = true;
        const out: LifecycleEvent = { type: 'platformStart', requestId: r.requestId, time: event.time };
        if (r.version) out.version = r.version;
        if (r.tracing) out.tracing = r.tracing;
        this.publish(out);
        if (this.managed) {
          this.publish({
            type: 'invocationStart',
            requestId: r.requestId,
            time: event.time,
            coldStart: false,
            proactiveInitialization: false,
            snapStartRestore: false,
          });
        }
        return;
      }
      case 'platform.runtimeDone': {
        const ctx = this.context(event.record.requestId, event.time);
        if (ctx) this.runtimeDone(ctx, event.record, event.time, false);
        return;
      }
      case 'platform.report': {
        const ctx = this.context(event.record.requestId, event.time);
        if (ctx) this.report(ctx, event.record, event.time);
        return;
      }
      default:
        return;
    }
  }

  private runtimeDone(ctx: Context, r: RuntimeDoneRecord, time: number, synthetic: boolean): void {
    if (ctx.runtimeDone) return;
    const done: Context['runtimeDone'] = { status: r.status, time };
    if (r.metrics) done.durationMs = r.metrics.durationMs;
    ctx.runtimeDone = done;
    this.releaseInvocations(ctx);
    const tags = this.tagsOf(ctx);
    if (r.metrics) {
      this.emit(ENHANCED.runtimeDuration, r.metrics.durationMs, time, tags);
      if (r.metrics.producedBytes !== undefined)
        this.emit(ENHANCED.producedBytes, r.metrics.producedBytes, time, tags);
    }
    if (r.status === 'timeout') this.countTimeout(ctx, time);
    else if (r.status !== 'success') this.countError(ctx, time);
    if (r.status === 'error' && r.errorType === 'Runtime.OutOfMemory')
      this.countOom(ctx, time, 'runtime-done');
    if (ctx.procStart) this.procAtRuntimeDone(ctx, time, tags);
    this.maybePostRuntime(ctx, time);
    const out: LifecycleEvent = {
      type: 'runtimeDone',
      requestId: ctx.requestId,
      time,
      status: r.status,
      timedOut: r.status === 'timeout',
      synthetic,
    };
    if (r.errorType) out.errorType = r.errorType;
    if (r.metrics) {
      out.durationMs = r.metrics.durationMs;
      if (r.metrics.producedBytes !== undefined) out.producedBytes = r.metrics.producedBytes;
    }
    if (r.spans) out.spans = r.spans;
    this.publish(out);
    const waiting = this.waiters.get(ctx.requestId);
    if (waiting) {
      this.waiters.delete(ctx.requestId);
      for (const w of waiting) w();
    }
    this.maybeFinish(ctx);
  }

  private report(ctx: Context, r: ReportRecord, time: number): void {
    if (ctx.report) return;
    if (this.managed && !ctx.runtimeDone) {
      const latency = r.spans?.find((s) => s.name === 'responseLatency');
      const synthetic: RuntimeDoneRecord = {
        requestId: r.requestId,
        status: r.status,
        metrics: { durationMs: latency ? latency.durationMs : r.metrics.durationMs },
      };
      if (r.errorType) synthetic.errorType = r.errorType;
      this.runtimeDone(ctx, synthetic, time, true);
    }
    ctx.report = r.metrics;
    this.releaseInvocations(ctx);
    const tags = this.tagsOf(ctx);
    const m = r.metrics;
    this.emit(ENHANCED.duration, m.durationMs * 0.001, time, tags);
    if (!this.managed) {
      if (m.billedDurationMs !== undefined)
        this.emit(ENHANCED.billedDuration, m.billedDurationMs * 0.001, time, tags);
      if (m.maxMemoryUsedMB !== undefined) this.emit(ENHANCED.maxMemoryUsed, m.maxMemoryUsedMB, time, tags);
      if (m.memorySizeMB !== undefined) this.emit(ENHANCED.memorySize, m.memorySizeMB, time, tags);
      if (m.billedDurationMs !== undefined && m.memorySizeMB !== undefined) {
        this.emit(
          ENHANCED.estimatedCost,
          estimatedCostUsd(m.billedDurationMs, m.memorySizeMB, this.arch),
          time,
          tags,
        );
      }
      // The fallback for a platform that sent no initReport, once (a report repeats the cold start's).
      if (m.initDurationMs !== undefined && !this.initReportSeen && !this.initDurationFallbackEmitted) {
        this.initDurationFallbackEmitted = true;
        this.emit(ENHANCED.initDuration, m.initDurationMs * 0.001, time, [
          ...tags,
          `init_type:${this.initType ?? 'on-demand'}`,
        ]);
      }
    }
    if (
      m.maxMemoryUsedMB !== undefined &&
      m.memorySizeMB !== undefined &&
      m.maxMemoryUsedMB === m.memorySizeMB
    ) {
      this.countOom(ctx, time, 'report');
    }
    if (!ctx.runtimeDone && r.status === 'timeout') this.countTimeout(ctx, time);
    this.procTotals(ctx, time, tags);
    const late = ctx.seq < this.seq;
    const post = this.maybePostRuntime(ctx, time);
    const out: LifecycleEvent = {
      type: 'report',
      requestId: ctx.requestId,
      time,
      status: r.status,
      metrics: r.metrics,
      late,
    };
    if (r.errorType) out.errorType = r.errorType;
    const postMs = post ?? this.postRuntimeMs(ctx);
    if (postMs !== undefined) out.postRuntimeDurationMs = postMs;
    this.publish(out);
    this.maybeFinish(ctx);
    if (this.managed && this.contexts.size === 0) this.sampler.pause();
  }

  private postRuntimeMs(ctx: Context): number | undefined {
    if (this.managed || !ctx.report || ctx.runtimeDone?.durationMs === undefined) return undefined;
    return Math.max(0, ctx.report.durationMs - ctx.runtimeDone.durationMs);
  }

  private maybePostRuntime(ctx: Context, time: number): number | undefined {
    if (ctx.postRuntimeEmitted) return undefined;
    const post = this.postRuntimeMs(ctx);
    if (post === undefined) return undefined;
    ctx.postRuntimeEmitted = true;
    this.emit(ENHANCED.postRuntimeDuration, post, time, this.tagsOf(ctx));
    return post;
  }

  private maybeFinish(ctx: Context): void {
    if (!ctx.runtimeDone || !ctx.report) return;
    this.contexts.delete(ctx.requestId);
    // Only what dedupes a late error or OOM stays (not the report, runtimeDone, /proc readings).
    this.finished.set(ctx.requestId, {
      requestId: ctx.requestId,
      coldStart: ctx.coldStart,
      proactive: ctx.proactive,
      errorCounted: ctx.errorCounted,
      timeoutCounted: ctx.timeoutCounted,
      oomCounted: ctx.oomCounted,
    });
    if (this.finished.size > FINISHED_MEMORY) {
      const oldest = this.finished.keys().next().value;
      if (oldest !== undefined) this.finished.delete(oldest);
    }
  }

  /** How many invocations the processor holds: open ones, and finished ones kept for late events. */
  retained(): { open: number; finished: number } {
    return { open: this.contexts.size, finished: this.finished.size };
  }

  // ---- contexts --------------------------------------------------------------------------

  private context(requestId: string, time: number): Context | undefined {
    const existing = this.contexts.get(requestId);
    if (existing) return existing;
    if (this.finished.has(requestId)) {
      this.stats.eventsForFinishedRequests++;
      return undefined;
    }
    const first = !this.anyInvocation;
    this.anyInvocation = true;
    let coldStart = false;
    let proactive = false;
    let snapStart = false;
    if (first && !this.managed) {
      snapStart = this.restoreStartedAt !== undefined || (this.options.snapStart ?? false);
      // A restored snapshot's process clock started long ago: without restoreStart, it is no proactive init.
      const since = this.restoreStartedAt ?? (snapStart ? time : this.startedAt);
      proactive = time - since > PROACTIVE_INITIALIZATION_THRESHOLD_MS;
      coldStart = !proactive;
    }
    const ctx: Context = {
      requestId,
      seq: ++this.seq,
      coldStart,
      proactive,
      snapStart,
      invokeSeen: false,
      startSeen: false,
      invocationsEmitted: false,
      postRuntimeEmitted: false,
      errorCounted: false,
      timeoutCounted: false,
      oomCounted: false,
      procTotalsEmitted: false,
    };
    this.contexts.set(requestId, ctx);
    this.stats.contexts++;
    this.lastRequestId = requestId;
    this.lastInvocation = { coldStart, proactive };
    const max = this.options.maxContexts ?? 500;
    while (this.contexts.size > max) {
      const oldest = this.contexts.keys().next().value;
      if (oldest === undefined) break;
      this.contexts.delete(oldest);
      this.stats.evictedContexts++;
      this.once.warn('evicted', `more than ${max} invocations open: the oldest are dropped (counted)`);
    }
    // On a cold start the count waits for initStart, which may tag it `durable_function:true`.
    if (coldStart && !this.initStartSeen && this.telemetryAvailable) ctx.heldInvocationsAt = time;
    else this.emitInvocations(ctx, time);
    if (this.procEnabled) {
      const snap = this.snapshot();
      if (this.managed) {
        // Invocations overlap: the usage peaks are the sandbox's, kept from the first invocation
        // to SHUTDOWN, sampled while any invocation runs.
        this.sampler.resume();
      } else {
        // One invocation at a time: a new one means the earlier ones' post-runtime work ended at
        // their freeze, so a report still to come measures up to here, not into this invocation.
        for (const other of this.contexts.values()) {
          if (other !== ctx && other.procStart && !other.procEnd) other.procEnd = snap;
        }
        this.sampler.start();
      }
      ctx.procStart = snap;
    }
    return ctx;
  }

  private emitInvocations(ctx: Context, time: number): void {
    if (ctx.invocationsEmitted) return;
    ctx.invocationsEmitted = true;
    ctx.heldInvocationsAt = undefined;
    this.emit(ENHANCED.invocations, 1, time, this.tagsOf(ctx));
  }

  private releaseInvocations(ctx: Context): void {
    if (ctx.heldInvocationsAt !== undefined) this.emitInvocations(ctx, ctx.heldInvocationsAt);
  }

  private countError(ctx: Finished, time: number): void {
    if (ctx.errorCounted) return;
    ctx.errorCounted = true;
    this.emit(ENHANCED.errors, 1, time, this.tagsOf(ctx));
  }

  private countTimeout(ctx: Finished, time: number): void {
    this.countError(ctx, time);
    if (ctx.timeoutCounted) return;
    ctx.timeoutCounted = true;
    this.emit(ENHANCED.timeouts, 1, time, this.tagsOf(ctx));
  }

  private countOom(
    ctx: Finished | undefined,
    time: number,
    detector: OutOfMemoryDetector,
    requestId?: string,
  ): void {
    if (ctx) {
      if (ctx.oomCounted) return;
      ctx.oomCounted = true;
    }
    this.emit(ENHANCED.outOfMemory, 1, time, ctx ? this.tagsOf(ctx) : this.ambientTags());
    const out: LifecycleEvent = { type: 'outOfMemory', time, detector };
    const id = ctx?.requestId ?? requestId;
    if (id) out.requestId = id;
    this.publish(out);
  }

  // ---- /proc -----------------------------------------------------------------------------

  private snapshot(): ProcSnapshot {
    const out: ProcSnapshot = {};
    const net = this.reader.network();
    const cpu = this.reader.cpu();
    if (net) out.net = net;
    if (cpu) out.cpu = cpu;
    return out;
  }

  private sampleOnce(): UsagePeaks {
    return this.sampler.reading();
  }

  private procAtRuntimeDone(ctx: Context, time: number, tags: string[]): void {
    const start = ctx.procStart ?? {};
    const end = this.snapshot();
    if (start.cpu && end.cpu) {
      const u = cpuUtilization(start.cpu, end.cpu);
      if (u) {
        this.emit(ENHANCED.cpuTotalUtilizationPct, u.totalPct, time, tags);
        this.emit(ENHANCED.cpuTotalUtilization, u.totalCores, time, tags);
        this.emit(ENHANCED.numCores, u.numCores, time, tags);
        this.emit(ENHANCED.cpuMaxUtilization, u.maxPct, time, tags);
        this.emit(ENHANCED.cpuMinUtilization, u.minPct, time, tags);
      }
    }
    if (this.managed) return; // usage is the sandbox's, emitted at SHUTDOWN
    const stillOpen = [...this.contexts.values()].some((c) => c !== ctx && !c.runtimeDone);
    this.emitUsage(stillOpen ? this.sampleOnce() : this.sampler.stop(), time, tags);
  }

  /**
   * Network and cpu time of the whole invocation, INVOKE to its report: what the extension does
   * after the runtime answered (the flush) belongs to the invocation too.
   */
  private procTotals(ctx: Context, time: number, tags: string[]): void {
    const start = ctx.procStart;
    if (!start || ctx.procTotalsEmitted) return;
    ctx.procTotalsEmitted = true;
    const end = ctx.procEnd ?? this.snapshot();
    if (start.cpu && end.cpu) {
      const user = Math.max(0, end.cpu.userMs - start.cpu.userMs);
      const system = Math.max(0, end.cpu.systemMs - start.cpu.systemMs);
      this.emit(ENHANCED.cpuUserTime, user, time, tags);
      this.emit(ENHANCED.cpuSystemTime, system, time, tags);
      this.emit(ENHANCED.cpuTotalTime, user + system, time, tags);
    }
    if (start.net && end.net) {
      const rx = Math.max(0, end.net.rxBytes - start.net.rxBytes);
      const tx = Math.max(0, end.net.txBytes - start.net.txBytes);
      this.emit(ENHANCED.rxBytes, rx, time, tags);
      this.emit(ENHANCED.txBytes, tx, time, tags);
      this.emit(ENHANCED.totalNetwork, rx + tx, time, tags);
    }
  }

  private emitUsage(peaks: UsagePeaks, time: number, tags: string[]): void {
    if (peaks.tmp) {
      this.emit(ENHANCED.tmpMax, peaks.tmp.maxBytes, time, tags);
      this.emit(ENHANCED.tmpUsed, peaks.tmpUsedPeak, time, tags);
      this.emit(ENHANCED.tmpFree, Math.max(0, peaks.tmp.maxBytes - peaks.tmpUsedPeak), time, tags);
    }
    if (peaks.fdMax !== undefined) this.emit(ENHANCED.fdMax, peaks.fdMax, time, tags);
    if (peaks.fdUsePeak > 0) this.emit(ENHANCED.fdUse, peaks.fdUsePeak, time, tags);
    if (peaks.threadsMax !== undefined) this.emit(ENHANCED.threadsMax, peaks.threadsMax, time, tags);
    if (peaks.threadsUsePeak > 0) this.emit(ENHANCED.threadsUse, peaks.threadsUsePeak, time, tags);
  }

  // ---- output ----------------------------------------------------------------------------

  private tagsOf(flags: InvocationFlags | undefined): string[] {
    const tags = flags && !this.managed ? [`cold_start:${flags.coldStart}`] : [];
    if (flags?.proactive) tags.push('proactive_initialization:true');
    if (this.durable) tags.push('durable_function:true');
    const extra = this.options.invocationTags;
    return [...tags, ...((typeof extra === 'function' ? extra() : extra) ?? [])];
  }

  /**
   * For a metric of no one invocation (init, restore, shutdown): the real extension tags it with
   * its current per-invocation tags, those of the latest invocation, none before the first.
   */
  private ambientTags(): string[] {
    return this.tagsOf(this.lastInvocation);
  }

  private emit(name: EnhancedMetricName, value: number, timeMs: number, tags: string[]): void {
    if (!this.enhanced || !this.options.submit) return;
    try {
      this.options.submit({ name, value, tags, timestamp: Math.floor(timeMs / 1000), type: 'distribution' });
    } catch (err) {
      this.stats.submitErrors++;
      this.once.warn('submit', `enhanced metric submit failed: ${errorMessage(err)}`);
    }
  }

  /** Publishes to every listener; the hooks server publishes through here too. */
  publish(event: LifecycleEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        this.stats.listenerErrors++;
        this.once.warn(`listener:${event.type}`, `a ${event.type} listener failed: ${errorMessage(err)}`);
      }
    }
  }
}

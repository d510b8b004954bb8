// Universal instrumentation: the lifecycle's hook and platform events, handed to trace-intake's
// invocation tracer. A tracer that calls /lambda/start-invocation (Java, .NET, Go, Ruby, Python with
// the hooks) gets the `aws.lambda` span, the inferred trigger spans and the cold start from us; one
// that makes `aws.lambda` itself (datadog-lambda-js) only gets the cold start, so nothing is doubled.
import type { IncomingHttpHeaders } from 'node:http';
import type { SpanContext as HookContext, LifecycleEvent } from '@serverless-agent/lifecycle';
import type { TraceAgent } from '@serverless-agent/trace-intake';
import type { Logger } from './logger.js';

const MAX_OPEN_STARTS = 64;
const NS_PER_MS = 1e6;

export class InvocationSpans {
  /** Requests whose tracer called start-invocation and not yet end-invocation. */
  private readonly open = new Set<string>();
  /**
   * Start-invocations without a request id not yet paired with their INVOKE (the lifecycle pairs
   * them first in, first out and says so in the universalStart it publishes then).
   */
  private anonymousStarts = 0;
  private initStartMs: number | undefined;
  private initDurationMs: number | undefined;
  private first: { requestId: string; coldStart: boolean; restore: boolean } | undefined;
  private restoreStartMs: number | undefined;
  private restoreDurationMs: number | undefined;
  private coldStartGiven = false;

  /** Events that could not be made into spans (logged once). */
  failed = 0;

  constructor(
    private readonly agent: TraceAgent,
    private readonly logger: Logger,
    /** The function's runtime (`runtime` tag of aws.lambda), resolved at the first INVOKE. */
    private readonly runtime: () => string | undefined = () => undefined,
  ) {}

  /**
   * /lambda/start-invocation: the trace context the hook answers with (the event's, or one started
   * here when an inferred span begins the trace), in the lifecycle's shape.
   */
  startInvocation(
    event: unknown,
    headers: IncomingHttpHeaders,
    requestId: string | undefined,
  ): HookContext | undefined {
    const tracer = this.agent.invocations;
    if (!tracer) return undefined;
    if (requestId === undefined) this.anonymousStarts++;
    else this.remember(requestId);
    const input: Parameters<typeof tracer.startInvocation>[0] = { headers, event };
    if (requestId !== undefined) input.requestId = requestId;
    const { context } = tracer.startInvocation(input);
    if (!context) return undefined;
    const out: HookContext = { traceId: ((context.traceIdHigh ?? 0n) << 64n) | context.traceId };
    if (context.spanId !== 0n) out.parentId = context.spanId;
    if (context.samplingPriority !== undefined) out.samplingPriority = context.samplingPriority;
    if (Object.keys(context.tags).length > 0) out.tags = context.tags;
    return out;
  }

  onEvent(event: LifecycleEvent): void {
    try {
      this.route(event);
    } catch (err) {
      if (this.failed++ === 0)
        this.logger.warn(
          `invocation spans: a ${event.type} event failed (counted): ${(err as Error).message}`,
        );
    }
  }

  private route(event: LifecycleEvent): void {
    const tracer = this.agent.invocations;
    if (!tracer) return;
    switch (event.type) {
      case 'initStart':
        this.initStartMs ??= event.time;
        break;
      case 'initReport':
        this.initDurationMs ??= event.durationMs;
        break;
      case 'restoreStart':
        this.restoreStartMs ??= event.time;
        break;
      case 'restoreReport':
        if (event.durationMs !== undefined) this.restoreDurationMs ??= event.durationMs;
        break;
      case 'invocationStart': {
        // SnapStart restores and proactive initialisations are no cold start of this invocation.
        this.first ??= {
          requestId: event.requestId,
          coldStart: event.coldStart && !event.proactiveInitialization && !event.snapStartRestore,
          restore: event.snapStartRestore,
        };
        const flags: Parameters<typeof tracer.invocationStarted>[1] = {
          coldStart: event.coldStart && !event.proactiveInitialization,
          proactiveInitialization: event.proactiveInitialization,
        };
        const runtime = this.runtime();
        if (runtime) flags.tags = { runtime };
        tracer.invocationStarted(event.requestId, flags);
        break;
      }
      case 'universalStart':
        // Also when the trace pipeline was not there yet to answer it: the span then comes from the
        // end-invocation headers alone.
        if (event.requestId !== undefined) {
          if (!this.open.has(event.requestId) && this.anonymousStarts > 0) {
            // the start answered without a request id, now paired with its INVOKE
            this.anonymousStarts--;
            tracer.pairRequestId(event.requestId);
          }
          this.remember(event.requestId);
        } else this.remember(undefined);
        break;
      case 'platformStart':
        tracer.platformStart(event.requestId, event.time * NS_PER_MS);
        break;
      case 'universalEnd': {
        // The span is ours only when the tracer asked for it at start-invocation.
        if (!this.open.delete(event.requestId ?? '')) break;
        const input: Parameters<typeof tracer.endInvocation>[0] = {
          headers: event.headers,
          response: event.response,
          timeNs: event.time * NS_PER_MS,
          // timed by platform.start and runtimeDone, as the Datadog extension times it
          awaitRuntimeDone: event.requestId !== undefined,
        };
        if (event.requestId !== undefined) input.requestId = event.requestId;
        if (event.error) input.error = event.error;
        tracer.endInvocation(input);
        break;
      }
      case 'runtimeDone':
        // Timed out: the tracer never got to end-invocation. The span still goes, as the Datadog
        // extension's Timeout error. A crash (no end-invocation either) gets none, as there.
        if (event.timedOut) this.endTimedOut(event.requestId, event.time);
        tracer.runtimeDone(event.requestId, event.time * NS_PER_MS, event.durationMs);
        break;
      case 'shutdown':
        // The environment goes away under invocations that timed out and whose runtimeDone may never
        // come: their spans go with the final flush, as everything still held.
        if (event.reason === 'timeout')
          for (const requestId of event.inFlight) this.endTimedOut(requestId, event.time);
        tracer.releaseAll();
        break;
      default:
        return;
    }
    this.maybeColdStart();
  }

  private endTimedOut(requestId: string, timeMs: number): void {
    const tracer = this.agent.invocations;
    if (!tracer || !this.open.delete(requestId)) return;
    tracer.endInvocation({
      requestId,
      headers: {},
      // The Datadog extension's own words for a timeout (users alert on them).
      error: { message: 'Datadog detected a Timeout', type: 'Timeout' },
      response: undefined,
      timeNs: timeMs * NS_PER_MS,
      awaitRuntimeDone: true,
    });
  }

  private remember(requestId: string | undefined): void {
    this.open.add(requestId ?? '');
    if (this.open.size > MAX_OPEN_STARTS) this.open.delete(this.open.values().next().value as string);
  }

  private maybeColdStart(): void {
    if (this.coldStartGiven || !this.first) return;
    if (this.first.restore) {
      // SnapStart: the restore replaces the cold start (the init ran when the snapshot was taken)
      if (this.restoreStartMs === undefined || this.restoreDurationMs === undefined) return;
      this.coldStartGiven = true;
      this.agent.setColdStart({
        name: 'aws.lambda.snapstart_restore',
        startNs: this.restoreStartMs * NS_PER_MS,
        durationMs: this.restoreDurationMs,
        requestId: this.first.requestId,
      });
      return;
    }
    if (this.initStartMs === undefined || this.initDurationMs === undefined) return;
    this.coldStartGiven = true;
    if (!this.first.coldStart) return;
    this.agent.setColdStart({
      startNs: this.initStartMs * NS_PER_MS,
      durationMs: this.initDurationMs,
      requestId: this.first.requestId,
    });
  }
}

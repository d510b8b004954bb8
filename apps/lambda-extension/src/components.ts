// The heavy part of the agent (fastify, undici, msgpackr, the encoders), loaded after the first
// `next` (in the layer, a file of its own: serverless-agent/components.cjs): it takes over the early
// listeners' queues and builds the pipelines listeners → parsers → aggregators → encoders → forwarder.
import type { IncomingHttpHeaders } from 'node:http';
import type { FlushOutcome } from '@serverless-agent/flush-strategy';
import type {
  SpanContext as HookContext,
  Lifecycle,
  LifecycleDeps,
  LifecycleEvent,
  Registration,
} from '@serverless-agent/lifecycle';
import type { EarlyListeners } from './early.js';
import type { Env } from './env.js';
import type { FlushDriver } from './flush-driver.js';
import { tuneHeapForSteadyState } from './heap-tuning.js';
import { InvocationSpans } from './invocation-spans.js';
import { type Logger, parseLogLevel } from './logger.js';
import { tracerInternalPorts } from './ports.js';
import { functionIdentity, functionTags } from './tags.js';
import { type Stamp, timelineFromEnv } from './timeline.js';
import { VERSION } from './version.js';

export type EnhancedSample = Parameters<NonNullable<LifecycleDeps['submit']>>[0];

export interface Components {
  ingestTelemetry: (events: unknown) => void;
  /** The lifecycle's invocation, platform and hook events, for the extension's own spans. */
  onLifecycleEvent: (event: LifecycleEvent) => void;
  /** /lambda/start-invocation's trace context. */
  startInvocation: (
    event: unknown,
    headers: IncomingHttpHeaders,
    requestId: string | undefined,
  ) => HookContext | undefined;
  stats: () => Record<string, unknown>;
  /** The API key's secret (Secrets Manager, KMS, SSM) could not be resolved. */
  apiKeyFailed: () => boolean;
  submit: (sample: EnhancedSample) => void;
  driver: FlushDriver;
  flushAll: (force: boolean) => Promise<FlushOutcome>;
  /**
   * The invocation ends with a blocking flush (the End path): its sends start once its trace is
   * ready, before `runtimeDone`; the flush itself sends the rest and waits for all of them.
   */
  flushAheadOf: (requestId: string) => void;
  /**
   * Sizes V8's heap for the invocations to come (heap-tuning.ts), once loading is over; returns
   * what to call at each idle moment.
   */
  tuneHeap: () => () => boolean;
  close: () => Promise<void>;
}

export async function loadComponents(
  env: Env,
  registration: Registration,
  early: EarlyListeners,
  lifecycle: Lifecycle,
  logger: Logger,
  counts: { datagrams: number; datagramBytes: number; droppedPayloads: number; droppedItems: number },
  /** The API key's secret did not resolve: the app goes idle. */
  onApiKeyFailed: () => void = () => {},
  /** The function's runtime, resolved once for the metrics and the spans. */
  runtime: () => string | undefined = () => undefined,
  /** The timeline's stamps (SERVERLESS_AGENT_TIMELINE), shared with the app's: one warning if it cannot write. */
  tl: Stamp | undefined = timelineFromEnv(env, logger),
): Promise<Components> {
  const [dogstatsd, traceIntake, flushStrategy, forwarderModule, logsModule, { FlushDriver }] =
    await Promise.all([
      import('@serverless-agent/dogstatsd'),
      import('@serverless-agent/trace-intake'),
      import('@serverless-agent/flush-strategy'),
      import('@serverless-agent/forwarder'),
      import('@serverless-agent/logs'),
      import('./flush-driver.js'),
    ]);
  const forwarder = forwarderModule.createForwarder(forwarderModule.fromEnv(env, logger));
  // Sockets, TLS and codecs during init, so the first flush does not pay for them.
  void forwarder.warmUp().catch(() => {});

  const id = functionIdentity(env, registration.accountId);
  const tags = functionTags(env, id);
  const traceOptions = traceIntake.fromEnv(env, logger);
  const agent = new traceIntake.TraceAgent({
    ...traceOptions,
    logger,
    agentVersion: VERSION,
    tags: { ...traceOptions.tags, ...tags },
    functionName: id.functionName,
    functionArn: id.functionArn,
    region: id.region,
    accountId: id.accountId,
    internalPorts: tracerInternalPorts(env, early.ports),
  });
  const receiver = traceIntake.createTraceReceiver(agent, {
    host: '127.0.0.1',
    port: early.ports.traces,
    maxTraceBodyBytes: traceOptions.maxTraceBodyBytes,
    maxOtherBodyBytes: traceOptions.maxOtherBodyBytes,
    onProxy: (payload) => void forwarder.send(toForwarder(payload), { signal: AbortSignal.timeout(10_000) }),
    additionalTags: tags,
  });
  const invocationSpans = new InvocationSpans(agent, logger, runtime);
  // The requests that arrive on our already-bound server: the trace routes served at once, the rest
  // by fastify, built on the first such request (none during a function's init: see the README).
  early.traces.attach(
    tl
      ? (req, res) => {
          tl(`trace request ${req.url}`);
          res.on('finish', () => tl(`trace answered ${req.url}`));
          receiver.handle(req, res);
        }
      : receiver.handle,
  );

  const logsConfig = logsModule.fromEnv(env, logger);
  const logs = new logsModule.LambdaLogs({
    enabled: logsConfig.enabled,
    rules: logsConfig.rules,
    service: logsConfig.service,
    shipOwnLogs: logsConfig.shipOwnLogs,
    functionArn: id.functionArn,
    tags: { ...parseDdTags(env.DD_TAGS), ...tags, ...unifiedTags(env) },
    // Each batch waits for the flush compressed, as the forwarder sends it.
    codec: forwarder.payloadCodec('logs'),
    logger,
    onOutOfMemory: (r) =>
      lifecycle.processor.outOfMemoryDetected({ requestId: r.requestId ?? undefined, time: r.timestamp }),
  });
  // Telemetry that arrived before this loaded is replayed by the agent through `ingestTelemetry`.

  const statsdConfig = dogstatsd.fromEnv(env, logger);
  const aggregatorOptions = {
    ...statsdConfig.aggregator,
    globalTags: [
      ...(statsdConfig.aggregator.globalTags ?? []),
      ...Object.entries(tags).map(([k, v]) => `${k}:${v}`),
    ],
    logger,
  };
  const aggregator = new dogstatsd.Aggregator(aggregatorOptions);
  const maxDatagram = statsdConfig.bufferSize;
  try {
    early.dogstatsd.socket.setRecvBufferSize(statsdConfig.recvBufferSize);
  } catch (err) {
    logger.debug(`dogstatsd: receive buffer left as the kernel set it: ${(err as Error).message}`);
  }
  early.dogstatsd.attach((msg) => {
    counts.datagrams++;
    counts.datagramBytes += msg.length;
    aggregator.ingest(msg, Math.min(msg.length, maxDatagram));
  });

  // Datagrams the kernel dropped while the socket's buffer was full never reach us: read its counter
  // so that loss is counted too (and said, at most once a minute).
  let kernelDropsSeen = dogstatsd.kernelUdpDrops(early.ports.dogstatsd) ?? 0;
  let kernelDropsSaidAt = Number.NEGATIVE_INFINITY;
  let kernelDropped = 0;
  /** Takes in what the kernel dropped since the last look; the running total. */
  const countKernelDrops = (): number => {
    const total = dogstatsd.kernelUdpDrops(early.ports.dogstatsd);
    if (total === undefined || total <= kernelDropsSeen) return kernelDropped;
    kernelDropped += total - kernelDropsSeen;
    kernelDropsSeen = total;
    const now = Date.now();
    if (now - kernelDropsSaidAt >= 60_000) {
      kernelDropsSaidAt = now;
      logger.warn(
        `dogstatsd: ${kernelDropped} datagrams dropped by the kernel so far (receive buffer full; DD_DOGSTATSD_SO_RCVBUF raises it)`,
      );
    }
    return kernelDropped;
  };

  const { strategy, flushTimeoutS } = flushStrategy.fromEnv(env, logger);
  const core = new flushStrategy.FlushCore({ strategy, flushTimeoutS, clock: Date.now, logger });
  let shutdownDeadline: number | undefined;
  const debug =
    parseLogLevel(env.DD_LOG_LEVEL).level === 'debug' || parseLogLevel(env.DD_LOG_LEVEL).level === 'trace';
  /**
   * Hands payloads to the forwarder, or drops and counts them when the API key did not resolve.
   * Whether anything was handed over.
   */
  const ship = (
    payloads: ForwarderPayload[],
    options: SendOptions,
    sends: Promise<FlushResult>[],
  ): boolean => {
    if (payloads.length === 0) return false;
    if (forwarder.apiKeyState === 'failed') {
      // Nothing can be sent: dropped here and counted, rather than once per payload by the forwarder.
      counts.droppedPayloads += payloads.length;
      for (const p of payloads) counts.droppedItems += p.items ?? 0;
      onApiKeyFailed();
      return false;
    }
    const kinds = tl ? payloads.map((p) => p.kind).join(',') : '';
    tl?.(`handed ${kinds}`);
    const sent = forwarder.flush(payloads, options);
    sends.push(tl ? sent.finally(() => tl(`sent ${kinds}`)) : sent);
    return true;
  };
  // Every bucket, closed or not: a frozen or shut-down sandbox may never come back for the rest.
  const metricPayloads = async () =>
    (await dogstatsd.flushPayloads(aggregator, { all: true })) as ForwarderPayload[];
  // The End path's blocking flush starts before `runtimeDone`: once the invocation's trace is
  // buffered (its `aws.lambda` span, the tracer's or ours), or its tracer called end-invocation, the
  // traces and metrics that are ready go out while Telemetry still holds the batch with
  // `runtimeDone` (25 ms on Lambda). The flush that the strategy then decides sends what came since
  // (the invocation's log lines, runtimeDone's metrics) and waits for the requests of both: one
  // flush to the strategy, whose clock starts at its decision.
  let aheadFor: string | undefined;
  let ahead: { built: Promise<void>; sends: Promise<FlushResult>[]; payloads: number } | undefined;
  let sentAhead = 0;
  const requestOptions = (force: boolean): SendOptions => {
    // The strategy bounds how long a blocking flush holds `next`; this bounds the requests.
    const budgetMs =
      force && shutdownDeadline !== undefined
        ? Math.max(50, shutdownDeadline - Date.now() - 100)
        : flushTimeoutS * 1000;
    return { signal: AbortSignal.timeout(budgetMs), blocking: true };
  };
  const sendAhead = (requestId: string) => {
    if (aheadFor !== requestId || ahead !== undefined) return;
    aheadFor = undefined;
    tl?.(`ahead ${requestId}`);
    const options = requestOptions(false);
    const sends: Promise<FlushResult>[] = [];
    // Requests held for the cold start stay: the init report may still give their
    // `aws.lambda.load` its parent before the flush after runtimeDone takes them.
    const traces = agent.flush(false, { keepHeld: true }).map(toForwarder);
    // Counted once something went out ahead: empty buffers or a failed API key send nothing.
    let counted = ship(traces, options, sends);
    if (counted) sentAhead++;
    const started = { built: Promise.resolve(), sends, payloads: traces.length };
    started.built = metricPayloads().then((metrics) => {
      started.payloads += metrics.length;
      if (ship(metrics, options, sends) && !counted) {
        counted = true;
        sentAhead++;
      }
    });
    // A failure here is the flush's (it awaits this): not an unhandled rejection meanwhile.
    started.built.catch(() => {});
    ahead = started;
  };
  const flushAheadOf = (requestId: string) => {
    aheadFor = requestId;
    // Called while the receiver handles the tracer's request: the flush starts once it has answered.
    agent.watchInvocation(requestId, () => setImmediate(() => sendAhead(requestId)));
  };
  const flushAll = async (force: boolean): Promise<FlushOutcome> => {
    const t0 = performance.now();
    tl?.('flush-start');
    aheadFor = undefined;
    agent.watchInvocation(undefined);
    const before = ahead;
    ahead = undefined;
    const options = requestOptions(force);
    const sends: Promise<FlushResult>[] = [];
    // This flush's requests and those it started ahead of runtimeDone: it ends when all have.
    const allSends = () => (before ? [...before.sends, ...sends] : sends);
    let first: ForwarderPayload[] = [];
    let metrics: ForwarderPayload[];
    try {
      first = [...agent.flush(force).map(toForwarder), ...logs.flush({ final: force })];
      if (before) {
        // After the sends ahead, what is left is small (runtimeDone's metrics, what came since): it is
        // encoded at once, so that its request leaves with the logs' rather than a loop turn later.
        try {
          await before.built;
          metrics = await metricPayloads();
        } finally {
          ship(first, options, sends);
        }
      } else {
        // Traces and logs are ready-made and go out first (with what waits in the retry buffer); the
        // metrics' encoding, the longest part, then runs while those are on the wire, one turn of the
        // loop later, so that their requests are written before the encoding takes the thread.
        ship(first, options, sends);
        await new Promise<void>((resolve) => setImmediate(resolve));
        metrics = await metricPayloads();
      }
    } catch (err) {
      countKernelDrops();
      await Promise.allSettled(allSends());
      throw err;
    }
    ship(metrics, options, sends);
    // Reading /proc/net/udp takes a few hundred microseconds: once the requests are written (the
    // forwarder writes a batch's a few microtasks later), not before.
    setImmediate(countKernelDrops);
    const t1 = performance.now();
    const results = await Promise.all(allSends());
    tl?.('flush-end');
    if (debug) {
      const built = first.length + metrics.length;
      logger.debug(
        `flush: ${built} payloads built and handed over in ${(t1 - t0).toFixed(1)} ms${before ? ` (and ${before.payloads} before runtimeDone)` : ''}, all sent in ${(performance.now() - t0).toFixed(1)} ms`,
      );
    }
    let incomplete = false;
    for (const result of results) {
      for (const n of Object.values(result.dropped)) if ((n ?? 0) > 0) incomplete = true;
      if (result.buffered > 0) incomplete = true;
    }
    return incomplete ? 'partial' : 'success';
  };
  const driver = new FlushDriver(core, flushAll);
  forwarder.onBackendHealth((event) => {
    // Said on each change: an operator sees why invocations got faster and data later, and when it ended.
    if (event.healthy) logger.info('intake healthy again');
    else
      logger.warn(
        `intake unhealthy: a flush holds the function ${event.unhealthyBudgetMs} ms at most, the rest waits in the retry buffer`,
      );
    void driver.send(event);
  });
  // Once the agent has taken over the queues, while the function still initialises: the metric
  // encoders' first run happens on throwaway metrics here, not in the first invocation's flush.
  setImmediate(() => void dogstatsd.warmUpPayloads(aggregatorOptions).catch(() => {}));
  return {
    ingestTelemetry: (events) => logs.ingest(events),
    onLifecycleEvent: (event) => {
      invocationSpans.onEvent(event);
      // A tracer on the invocation hooks is done with the invocation: what it sent is ready.
      if (event.type === 'universalEnd' && event.requestId !== undefined && event.requestId === aheadFor) {
        const requestId = event.requestId;
        setImmediate(() => sendAhead(requestId));
      }
    },
    apiKeyFailed: () => forwarder.apiKeyState === 'failed',
    startInvocation: (event, headers, requestId) =>
      invocationSpans.startInvocation(event, headers, requestId),
    submit: (sample) => {
      aggregator.submit(sample);
    },
    stats: () => ({
      metrics: { ...aggregator.stats(), kernelDrops: countKernelDrops() },
      traces: agent.counters,
      invocationSpans: { traced: agent.invocations?.invocationsTraced ?? 0, failed: invocationSpans.failed },
      buffered: agent.buffered,
      logs: logs.stats(),
      forwarder: forwarder.stats(),
      flush: { ...core.counters, sentAhead },
    }),
    driver,
    flushAll,
    flushAheadOf,
    tuneHeap: () => tuneHeapForSteadyState(),
    close: async () => {
      await receiver.close().catch(() => {});
      await forwarder.close();
    },
    setShutdownDeadline: (d: number) => {
      shutdownDeadline = d;
    },
  } as Components & { setShutdownDeadline: (d: number) => void };
}

type TracePayload = import('@serverless-agent/trace-intake').OutgoingPayload;
type ForwarderPayload = import('@serverless-agent/forwarder').OutgoingPayload;
type FlushResult = import('@serverless-agent/forwarder').FlushResult;
type SendOptions = import('@serverless-agent/forwarder').SendOptions;

/**
 * The two packages spell one kind differently: trace-intake's `llmobs_eval` is the forwarder's
 * `llmobs_eval_v1` / `llmobs_eval_v2`. The v2 route is the current one; v1 is sent there too.
 */
function toForwarder(p: TracePayload): ForwarderPayload {
  const kind = p.kind === 'llmobs_eval' ? 'llmobs_eval_v2' : p.kind;
  const split = p.split;
  return {
    ...p,
    kind,
    split: split ? () => split()?.map(toForwarder) : undefined,
  } as ForwarderPayload;
}

/** `DD_TAGS`: `k:v` pairs separated by commas or spaces; items without both sides are dropped. */
export function parseDdTags(value: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of (value ?? '').split(/[\s,]+/)) {
    const i = item.indexOf(':');
    if (i <= 0 || i === item.length - 1) continue;
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

function unifiedTags(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  if (env.DD_ENV) out.env = env.DD_ENV;
  if (env.DD_VERSION) out.version = env.DD_VERSION;
  if (env.DD_SERVICE) out.service = env.DD_SERVICE.toLowerCase();
  return out;
}

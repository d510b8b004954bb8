import {
  FileTailer,
  type OutgoingPayload as LogPayload,
  LogPipeline,
  fromEnv as logsFromEnv,
} from '@serverless-agent/logs';
import {
  createTraceReceiver,
  type Span,
  TraceAgent,
  type OutgoingPayload as TracePayload,
  type TraceReceiver,
  fromEnv as traceFromEnv,
} from '@serverless-agent/trace-intake';
import type { AgentContext, RunningAgent, ShutdownInfo } from './agent-types.js';
import { readCgroupCpu } from './cgroup.js';
import { isFalse } from './config.js';
import { EnhancedMetrics, type EnhancedSample } from './enhanced-metrics.js';
import { FlushLoop, flushIntervalFromEnv } from './flush-loop.js';
import { fetchGcpMetadata } from './gcp-metadata.js';
import { type HealthServer, healthPortFrom, startHealthServer, unsupportedSettings } from './health.js';
import { JobSpan } from './job-span.js';
import { logThreadScript } from './log-thread-script.js';
import { LogWorkerClient, startLogThread } from './log-worker-client.js';
import { type MetricsPipeline, startMetrics } from './metrics.js';
import {
  detectPlatform,
  type GcpMetadata,
  mergedTags,
  metricTags,
  platformTags,
  type Tags,
} from './platform.js';
import { type PayloadKind, type Sender, startSender } from './sender.js';

export const VERSION = '0.1.0';

/** Per-kind budgets of the final flush (the spec's newest shutdown: all run at once, inside 9 s). */
export const FINAL_BUDGET_MS: Record<PayloadKind, number> = {
  traces: 2_500,
  logs: 1_500,
  metrics: 5_000,
};
/** The tailer's last read of its files at shutdown, inside the logs budget. */
const DRAIN_BUDGET_MS = 1_000;
/** Share of a core the log thread takes while the command floods its output (the rest is dropped). */
const LOG_THREAD_CPU_SHARE = 0.1;
/** Longest the metadata may hold the pipelines back (Datadog: 6 × the 300 ms request timeout). */
const METADATA_WAIT_MS = 1_800;

type AnyPayload = TracePayload | LogPayload;

function kindOf(p: AnyPayload): PayloadKind {
  if (p.kind === 'logs') return 'logs';
  if (p.kind === 'series' || p.kind === 'sketches' || p.kind === 'check_run' || p.kind === 'events')
    return 'metrics';
  return 'traces';
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Everything beyond the process itself, wired from the packages: platform tags and metadata, the
 * trace receiver behind the early TCP listener, DogStatsD behind the early UDP socket, the logs of
 * the child's output and tailed files, enhanced metrics, the jobs task span, and the forwarder,
 * flushed on the serverless-init timer. Loaded after the child is spawned.
 */
export async function startAgent(context: AgentContext): Promise<RunningAgent> {
  const { env, logger } = context;
  const platform = detectPlatform(env);

  let metadata: GcpMetadata | undefined;
  if (platform.usesGcpMetadata) {
    const host = env.GCE_METADATA_HOST;
    metadata = await withTimeout(fetchGcpMetadata(host ? { host } : {}), METADATA_WAIT_MS);
    if (!metadata) logger.warn('the GCP metadata server did not answer in time; its tags are unknown');
  }
  const versionKey = context.mode === 'sidecar' ? '_dd.datadog_sidecar_version' : 'datadog_init_version';
  const all: Tags = { ...mergedTags(env, platformTags(platform, env, metadata)), [versionKey]: VERSION };
  const common: Tags = { ...mergedTags(env, {}), [versionKey]: VERSION };
  const metricSet = metricTags(all);
  for (const item of (env.DD_DOGSTATSD_TAGS ?? '').split(/[\s,]+/)) {
    const i = item.indexOf(':');
    if (i > 0 && i < item.length - 1) metricSet[item.slice(0, i)] = item.slice(i + 1);
  }
  const service = (env.DD_SERVICE ?? '').toLowerCase();

  // Without a key Datadog's wrapper skips the enhanced metrics; the forwarder reports the rest.
  const apiKeyMissing = !Object.keys(env).some(
    (k) =>
      /^DD_API_KEY(_SECRET_ARN|_SSM_NAME|_SSM_ARN|_KMS_ENCRYPTED)?$|^DD_KMS_API_KEY$/.test(k) &&
      (env[k] ?? '').trim() !== '',
  );
  const sender: Sender = startSender(env, logger);

  // Traces: the receiver takes the connections the early listener held.
  let traceAgent: TraceAgent | undefined;
  let receiver: TraceReceiver | undefined;
  let jobSpan: JobSpan | undefined;
  const proxied: TracePayload[] = [];
  if (context.tcp) {
    const options = traceFromEnv(env, logger, 'serverless-init');
    traceAgent = new TraceAgent({
      ...options,
      port: context.tcp.port,
      tags: { ...options.tags, ...all },
      origin: platform.origin,
      ...(service ? { service } : {}),
      ...(env.DD_ENV ? { env: env.DD_ENV.toLowerCase() } : {}),
      ...(env.DD_VERSION ? { version: env.DD_VERSION.toLowerCase() } : {}),
      agentVersion: VERSION,
      logger,
    });
    const traceEnabled = !isFalse(env.DD_TRACE_ENABLED) && !isFalse(env.DD_APM_ENABLED);
    if (platform.kind === 'cloudrun-job' && traceEnabled) {
      const job = all.job_name ?? '';
      jobSpan = new JobSpan({
        service: service || job || 'gcp.run.job',
        job,
        startMs: context.startedAt,
        tags: all,
      });
      traceAgent.addSpanProcessorHook(
        jobSpan.hook as unknown as Parameters<TraceAgent['addSpanProcessorHook']>[0],
      );
    }
    receiver = createTraceReceiver(traceAgent, {
      host: '127.0.0.1',
      port: context.tcp.port,
      maxTraceBodyBytes: options.maxTraceBodyBytes,
      maxOtherBodyBytes: options.maxOtherBodyBytes,
      additionalTags: all,
      onProxy: (p) => {
        if (proxied.length < 1000) proxied.push(p);
        else logger.warn('apm proxy: buffer full, payload dropped');
      },
    });
    await receiver.app.ready();
    const server = receiver.app.server;
    context.tcp.setHandler((socket) => server.emit('connection', socket));
  }

  // Metrics: DogStatsD behind the early socket, plus the enhanced metrics.
  const metrics: MetricsPipeline | undefined = context.udp ? startMetrics(env, metricSet, logger) : undefined;
  if (metrics && context.udp) context.udp.setHandler(metrics.ingest);
  const enhancedEnabled = !isFalse(env.DD_ENHANCED_METRICS) && metrics !== undefined && !apiKeyMissing;
  const enhanced = enhancedEnabled
    ? new EnhancedMetrics(platform, { all, common, metric: metricSet }, (s: EnhancedSample) =>
        metrics!.submit(s),
      )
    : undefined;
  enhanced?.started();
  const cgroupRoot = env.DD_SERVERLESS_INIT_CGROUP_ROOT;
  const collect = () => enhanced?.collect(Date.now(), readCgroupCpu(cgroupRoot ? { root: cgroupRoot } : {}));
  collect();

  // Logs: the child's output (already held since it started), processed on the log thread, and
  // the tailed files, processed here (they are read at our pace, not the command's).
  const logsConfig = logsFromEnv(env, logger, { target: 'serverless-init' });
  let pipeline: LogPipeline | undefined;
  let output: LogWorkerClient | undefined;
  let tailer: FileTailer | undefined;
  if (logsConfig.enabled) {
    const source = logsConfig.source ?? platform.logSource;
    if (context.output) {
      try {
        const thread = startLogThread(logThreadScript(), {
          env,
          defaultSource: platform.logSource,
          tags: all,
          cpuShare: LOG_THREAD_CPU_SHARE,
        });
        output = new LogWorkerClient(thread, logger);
        context.output.attach(output);
      } catch (err) {
        logger.error(
          `logs: the log thread could not start; the command's output is not shipped: ${(err as Error).message}`,
        );
        context.output.discard();
      }
    }
    if (logsConfig.logPath) {
      const p = new LogPipeline({
        source,
        service: logsConfig.service,
        tags: all,
        rules: logsConfig.rules,
        logger,
      });
      pipeline = p;
      tailer = new FileTailer({
        pattern: logsConfig.logPath,
        startPosition: logsConfig.startPosition,
        ...(logsConfig.runPath ? { registryDir: logsConfig.runPath } : {}),
        maxOpenFiles: logsConfig.openFilesLimit,
        onLine: (line) => p.submit(line),
        logger,
      });
      tailer.start();
    }
  } else {
    context.output?.discard();
  }

  const droppedChunks = () => (context.output?.droppedChunks ?? 0) + (output?.droppedChunks ?? 0);
  const droppedBytes = () => (context.output?.droppedBytes ?? 0) + (output?.droppedBytes ?? 0);

  const collectPayloads = async (final: boolean): Promise<AnyPayload[]> => {
    const out: AnyPayload[] = [];
    if (traceAgent) out.push(...traceAgent.flush(final));
    out.push(...proxied.splice(0));
    if (output) out.push(...(await output.flush()));
    if (pipeline) out.push(...pipeline.flush());
    if (metrics) out.push(...((await metrics.flush(final)) as AnyPayload[]));
    return out;
  };

  const send = async (payloads: AnyPayload[], budgets?: Record<PayloadKind, number>): Promise<void> => {
    if (payloads.length === 0) return;
    const byKind = new Map<PayloadKind, AnyPayload[]>();
    for (const p of payloads) {
      const k = kindOf(p);
      byKind.set(k, [...(byKind.get(k) ?? []), p]);
    }
    await Promise.all(
      [...byKind].map(([kind, list]) =>
        sender.send(list, kind, budgets ? AbortSignal.timeout(budgets[kind]) : undefined),
      ),
    );
  };

  let reportedLost = 0;
  const loop = new FlushLoop({
    intervalMs: flushIntervalFromEnv(env, logger),
    flush: async () => {
      collect();
      const lost = droppedChunks();
      if (lost > reportedLost) {
        logger.warn(
          `logs: the command writes faster than logs can be processed; ${lost} chunks not shipped so far`,
        );
        reportedLost = lost;
      }
      await send(await collectPayloads(false));
    },
    logger,
  });
  loop.start();

  for (const warning of unsupportedSettings(env)) logger.warn(warning);
  // The probe opens last: once it answers, everything above is running.
  const healthPort = healthPortFrom(env, logger);
  let health: HealthServer | undefined;
  if (healthPort !== undefined) {
    health = await startHealthServer({ port: healthPort, logger }).catch((err: Error) => {
      logger.error(`health: cannot listen on tcp port ${healthPort}: ${err.message}`);
      return undefined;
    });
  }

  let terminated = false;
  return {
    onTerminate() {
      if (terminated) return;
      terminated = true;
      // The platform's kill comes soon: ship everything now, while the child shuts down.
      void loop.flushNow();
    },
    async shutdown(info: ShutdownInfo) {
      loop.stop(info.deadline);
      const now = Date.now();
      collect();
      enhanced?.stopped(info.exitCode, now - context.startedAt);
      if (jobSpan && traceAgent)
        traceAgent.handleOwnSpans([jobSpan.finish(now, info.exitCode) as unknown as Span]);
      // The backlog of a command that out-wrote the log thread gets part of the logs budget.
      if (output) await output.finish(DRAIN_BUDGET_MS / 2);
      if (droppedChunks() > 0) {
        logger.warn(
          `logs: ${droppedChunks()} chunks (${droppedBytes()} bytes) of the command's output were not shipped: it wrote faster than logs could be processed`,
        );
      }
      if (tailer) await withTimeout(tailer.drain(), DRAIN_BUDGET_MS);
      // A flush still out (the one SIGTERM started) carries on beside the final one: waiting for it
      // would spend the budget twice.
      const left = Math.max(0, info.deadline - Date.now());
      const budgets = Object.fromEntries(
        Object.entries(FINAL_BUDGET_MS).map(([k, v]) => [k, Math.min(v, left)]),
      ) as Record<PayloadKind, number>;
      await send(await collectPayloads(true), budgets);
      await Promise.all([
        health?.close(),
        output?.close(),
        tailer?.stop(),
        receiver ? closeReceiver(receiver) : undefined,
        withTimeout(sender.close(), 200),
      ]);
    },
  };
}

async function closeReceiver(receiver: TraceReceiver): Promise<void> {
  // The receiver never listened itself: its HTTP server only holds the connections we gave it.
  receiver.app.server.closeAllConnections();
  await withTimeout(receiver.close(), 200);
}

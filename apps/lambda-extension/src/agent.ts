// The extension after registration was sent. Order matters for start-up and for not losing data:
//  1. DogStatsD (UDP) and the trace receiver's port are bound with built-ins, queuing what arrives;
//  2. the lifecycle binds the hooks and the Telemetry listener and subscribes (built-ins only);
//  3. the first `next` goes out as soon as all of that accepts;
//  4. only then the heavy components load (fastify, msgpackr, ...) and take over their queues.
// Nothing here may break the function: an internal fault turns the extension idle (it keeps
// answering `next`, drops and counts, says why once).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FlushOutcome } from '@serverless-agent/flush-strategy';
import type { Lifecycle, LifecycleEvent, Registration } from '@serverless-agent/lifecycle';
import { answer, bindEarlyListeners, closeEarlyListeners, type EarlyListeners, proxyTo } from './early.js';
import { type Env, mergeEnv, type YamlParser, yamlPathOf } from './env.js';
import type { FlushDriver } from './flush-driver.js';
import { createLogger, type Logger, parseLogLevel } from './logger.js';
import { portsFromEnv } from './ports.js';
import { functionIdentity, functionTags } from './tags.js';
import { warnUnsupported } from './variables.js';
import { VERSION } from './version.js';

export interface RunOptions {
  registration: Promise<Registration>;
  /** performance.now() when the process started its entry. */
  startedAt: number;
  env?: Env;
  logger?: Logger;
  /** Ends the process (tests pass their own). */
  exit?: (code: number) => void;
  /** The sockets the entry bound (or failed to bind) while registering; bound here when absent. */
  early?: Promise<EarlyListeners>;
}

/** What a tracer gets while the extension is idle: accepted, dropped (and counted). */
function idleTraceAnswer(counts: { traceRequests: number }) {
  return (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      counts.traceRequests++;
      answer(200, '{"rate_by_service":{}}')(req, res);
    });
  };
}

const FIRST_NEXT_HEADSTART_MS = 5;
const MAX_EARLY_SAMPLES = 10_000;

type EnhancedSample = Parameters<
  NonNullable<import('@serverless-agent/lifecycle').LifecycleDeps['submit']>
>[0];

const API_KEY_SOURCES = ['DD_API_KEY', 'DD_API_KEY_SECRET_ARN', 'DD_KMS_API_KEY', 'DD_API_KEY_SSM_ARN'];

/** Why the extension cannot ship at all, or undefined when it can try (secrets resolve later). */
export function idleReason(env: Env): string | undefined {
  const key = (env.DD_API_KEY ?? '').replace(/\s/g, '');
  if (key !== '') return undefined;
  if (API_KEY_SOURCES.slice(1).some((k) => (env[k] ?? '').trim() !== '')) return undefined;
  return `no API key (${API_KEY_SOURCES.join(', ')} are all unset)`;
}

function truthy(v: string | undefined): boolean | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  const s = v.trim().toLowerCase();
  if (s === 'true' || s === '1') return true;
  if (s === 'false' || s === '0') return false;
  return undefined;
}

/** DD_SERVERLESS_LOGS_ENABLED / DD_LOGS_ENABLED: either set gives their OR (unset counts false). */
export function logsEnabled(env: Env): boolean {
  const a = truthy(env.DD_SERVERLESS_LOGS_ENABLED);
  const b = truthy(env.DD_LOGS_ENABLED);
  if (a === undefined && b === undefined) return true;
  return a === true || b === true;
}

export async function run(options: RunOptions): Promise<void> {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const processEnv = options.env ?? process.env;
  let parseYaml: YamlParser | undefined;
  if (yamlPathOf(processEnv)) parseYaml = (await import('yaml')).parse;
  const bootLogger = options.logger ?? createLogger(parseLogLevel(processEnv.DD_LOG_LEVEL).level);
  const env = mergeEnv(processEnv, bootLogger, parseYaml);
  const level = parseLogLevel(env.DD_LOG_LEVEL);
  const logger = options.logger ?? createLogger(level.level);
  if (level.invalid !== undefined)
    logger.warn(`DD_LOG_LEVEL=${JSON.stringify(level.invalid)} is not a level: using info`);
  const ports = portsFromEnv(env, logger);

  let early: EarlyListeners | undefined;
  let idle = idleReason(env);
  try {
    early = await (options.early ?? bindEarlyListeners(ports));
  } catch (err) {
    idle = `a listener could not bind (${(err as Error).message})`;
  }

  // Built-ins only: safe before the first `next`.
  const lifecycleModule = await import('@serverless-agent/lifecycle');
  const counts = {
    datagrams: 0,
    datagramBytes: 0,
    traceRequests: 0,
    enhancedSamples: 0,
    earlySamplesDropped: 0,
  };
  const earlySamples: EnhancedSample[] = [];
  let submitSample: ((s: EnhancedSample) => void) | undefined;
  let driver: FlushDriver | undefined;
  let components: (Components & { setShutdownDeadline: (d: number) => void }) | undefined;
  let flushAll: (force: boolean) => Promise<FlushOutcome> = async () => 'success';
  const lifecycleOptions = {
    ...lifecycleModule.fromEnv(env, logger),
    // The hooks' public port is the early listener; the lifecycle's own server sits behind it on a
    // free loopback port (unless the early one could not bind).
    hooksPort: early ? 0 : ports.hooks,
    telemetryPort: ports.telemetry,
  };
  const lifecycle: Lifecycle = new lifecycleModule.Lifecycle(lifecycleOptions, {
    logger,
    startedAt: Date.now() - (performance.now() - options.startedAt),
    // Samples computed before the aggregator loaded wait (bounded) and are handed over then.
    submit: (sample) => {
      counts.enhancedSamples++;
      if (submitSample) submitSample(sample);
      else if (earlySamples.length < MAX_EARLY_SAMPLES) earlySamples.push(sample);
      else counts.earlySamplesDropped++;
    },
    onFlush: async () => {
      await flushAll(true);
    },
  });

  const goIdle = (reason: string) => {
    if (idle === undefined) idle = reason;
    lifecycle.fallBackToIdle(reason);
    if (early) {
      early.dogstatsd.attach(countDatagram);
      early.traces.attach(idleTraceAnswer(counts));
      early.hooks.attach((req, res) => {
        req.resume();
        req.on('end', () => answer(200, '{}')(req, res));
      });
    }
  };
  const countDatagram = (msg: Buffer) => {
    counts.datagrams++;
    counts.datagramBytes += msg.length;
  };
  process.on('uncaughtException', (err) => goIdle(`internal error: ${err.message}`));
  process.on('unhandledRejection', (err) =>
    goIdle(`internal error: ${String((err as Error)?.message ?? err)}`),
  );

  const started = await lifecycle.start(options.registration);
  if (early && started.state !== 'unregistered') {
    early.hooks.attach(proxyTo(() => lifecycle.hooks.port));
  }
  if (started.state === 'unregistered') {
    // Exiting during init would fail the function's init (Extension.Crash): stay, doing nothing.
    if (early) await closeEarlyListeners(early);
    await lifecycle.run();
    return;
  }
  const registration = started.registration!;

  if (idle !== undefined) goIdle(idle);
  warnUnsupported(env, logger);
  logger.info(
    `serverless-agent ${VERSION} ready in ${(performance.now() - options.startedAt).toFixed(1)} ms`,
  );
  logger.debug(
    `listening: hooks ${started.hooksPort}, dogstatsd ${early?.ports.dogstatsd}, traces ${early?.ports.traces}, telemetry ${started.telemetryPort}`,
  );

  const runtimeDone = new Map<string, Promise<unknown>>();
  lifecycle.subscribe((event: LifecycleEvent) => {
    if (event.type === 'runtimeDone' && driver) {
      const d = driver;
      // The batch that carried runtimeDone is handed to the logs after its events are processed:
      // flush once it has been, so the invocation's own lines go with it.
      const sent = new Promise<void>((resolve) => setImmediate(resolve)).then(() =>
        d.send({ type: 'runtime-done', requestId: event.requestId }),
      );
      runtimeDone.set(event.requestId, sent);
    }
  });

  // The heavy part, after the first `next` is out (a few milliseconds later: evaluating these
  // modules before the request is written would hold it back); the queues hold what arrives.
  const afterFirstNext = new Promise<void>((resolve) => setTimeout(resolve, FIRST_NEXT_HEADSTART_MS));
  const loaded =
    idle === undefined && early
      ? afterFirstNext
          .then(() => loadComponents(env, registration, early, lifecycle, logger, counts))
          .then(
            (c) => {
              components = c as Components & { setShutdownDeadline: (d: number) => void };
              submitSample = c.submit;
              for (const sample of earlySamples.splice(0)) c.submit(sample);
              flushAll = c.flushAll;
              driver = c.driver;
              return driver.send({ type: 'extension-started' });
            },
            (err: Error) => goIdle(`the components failed to load: ${err.message}`),
          )
      : Promise.resolve();

  const shutdown = await lifecycle.run({
    onInvoke: async (event) => {
      await loaded;
      if (!driver || idle !== undefined) return;
      const decisions = await driver.send({
        type: 'invocation-started',
        deadlineMs: event.deadlineMs,
        requestId: event.requestId,
      });
      const { waitsForRuntimeDone } = await import('./flush-driver.js');
      if (!waitsForRuntimeDone(decisions)) return;
      await lifecycle.processor.waitForRuntimeDone(
        event.requestId,
        Math.max(0, event.deadlineMs - Date.now()),
      );
      await runtimeDone.get(event.requestId);
      runtimeDone.delete(event.requestId);
    },
    onShutdown: async (event) => {
      await loaded;
      if (driver) {
        components?.setShutdownDeadline(event.deadlineMs);
        await driver.send({ type: 'shutdown', deadlineMs: event.deadlineMs });
        driver.close();
      }
      logger.debug(`at shutdown: ${JSON.stringify(components?.stats())}`);
      await components?.close();
    },
  });
  logger.debug(
    `counted: ${counts.datagrams} datagrams, ${counts.traceRequests} idle trace requests, ${counts.enhancedSamples} enhanced metric samples (shutdown: ${shutdown.shutdownReason})`,
  );
  if (early) await closeEarlyListeners(early);
  exit(0);
}

interface Components {
  stats: () => Record<string, unknown>;
  submit: (sample: EnhancedSample) => void;
  driver: FlushDriver;
  flushAll: (force: boolean) => Promise<FlushOutcome>;
  close: () => Promise<void>;
}

async function loadComponents(
  env: Env,
  registration: Registration,
  early: EarlyListeners,
  lifecycle: Lifecycle,
  logger: Logger,
  counts: { datagrams: number; datagramBytes: number },
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
  });
  const receiver = traceIntake.createTraceReceiver(agent, {
    host: '127.0.0.1',
    port: early.ports.traces,
    maxTraceBodyBytes: traceOptions.maxTraceBodyBytes,
    maxOtherBodyBytes: traceOptions.maxOtherBodyBytes,
    onProxy: (payload) => void forwarder.send(toForwarder(payload), { signal: AbortSignal.timeout(10_000) }),
    additionalTags: tags,
  });
  await receiver.app.ready();
  // fastify routes the requests that arrive on our already-bound server.
  early.traces.attach((req, res) => receiver.app.routing(req, res));

  const logsConfig = logsModule.fromEnv(env, logger);
  const logs = new logsModule.LambdaLogs({
    enabled: logsConfig.enabled,
    rules: logsConfig.rules,
    service: logsConfig.service,
    shipOwnLogs: logsConfig.shipOwnLogs,
    functionArn: id.functionArn,
    tags: { ...parseDdTags(env.DD_TAGS), ...tags, ...unifiedTags(env) },
    logger,
    onOutOfMemory: (r) =>
      lifecycle.processor.outOfMemoryDetected({ requestId: r.requestId ?? undefined, time: r.timestamp }),
  });
  lifecycle.subscribe((e) => {
    if (e.type === 'telemetry') logs.ingest(e.events);
  });

  const statsdConfig = dogstatsd.fromEnv(env, logger);
  const aggregator = new dogstatsd.Aggregator({
    ...statsdConfig.aggregator,
    globalTags: [
      ...(statsdConfig.aggregator.globalTags ?? []),
      ...Object.entries(tags).map(([k, v]) => `${k}:${v}`),
    ],
    logger,
  });
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

  const { strategy, flushTimeoutS } = flushStrategy.fromEnv(env, logger);
  const core = new flushStrategy.FlushCore({ strategy, flushTimeoutS, clock: Date.now, logger });
  let shutdownDeadline: number | undefined;
  const debug =
    parseLogLevel(env.DD_LOG_LEVEL).level === 'debug' || parseLogLevel(env.DD_LOG_LEVEL).level === 'trace';
  const flushAll = async (force: boolean): Promise<FlushOutcome> => {
    const t0 = performance.now();
    // Every bucket, closed or not: a frozen or shut-down sandbox may never come back for the rest.
    const metrics = await dogstatsd.flushPayloads(aggregator, { all: true });
    const payloads = [
      ...(metrics as ForwarderPayload[]),
      ...agent.flush(force).map(toForwarder),
      ...logs.flush({ final: force }),
    ];
    // The strategy bounds how long a blocking flush holds `next`; this bounds the requests.
    const budgetMs =
      force && shutdownDeadline !== undefined
        ? Math.max(50, shutdownDeadline - Date.now() - 100)
        : flushTimeoutS * 1000;
    const t1 = performance.now();
    const result = await forwarder.flush(payloads, { signal: AbortSignal.timeout(budgetMs), blocking: true });
    const t2 = performance.now();
    if (debug) {
      logger.debug(
        `flush: ${payloads.length} payloads built in ${(t1 - t0).toFixed(1)} ms, sent in ${(t2 - t1).toFixed(1)} ms`,
      );
    }
    const dropped = Object.values(result.dropped).reduce((a, b) => a + (b ?? 0), 0);
    return dropped > 0 || result.buffered > 0 ? 'partial' : 'success';
  };
  const driver = new FlushDriver(core, flushAll);
  forwarder.onBackendHealth((event) => void driver.send(event));
  return {
    submit: (sample) => {
      aggregator.submit(sample);
    },
    stats: () => ({
      metrics: aggregator.stats(),
      traces: agent.counters,
      buffered: agent.buffered,
      logs: logs.stats(),
      forwarder: forwarder.stats(),
    }),
    driver,
    flushAll,
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

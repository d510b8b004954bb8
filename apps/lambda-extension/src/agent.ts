// The extension after registration was sent. Order matters for start-up and for not losing data:
//  1. DogStatsD (UDP), the trace receiver's, the hooks' and the Telemetry listener's ports are
//     bound with built-ins by the entry, queuing what arrives;
//  2. the entry subscribes and sends the first `next` (built-ins only), then loads this module;
//     the lifecycle takes over the client, the subscription and the Telemetry socket, and puts its
//     hooks server behind the early one (with a datadog.yaml, or when the sockets did not bind, the
//     lifecycle subscribes and sends the first `next` itself, once all of that accepts);
//  3. only then the heavy components load (fastify, msgpackr, ...) and take over their queues.
// Nothing here may break the function: an internal fault turns the extension idle (it keeps
// answering `next`, drops and counts, says why once).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FlushOutcome } from '@serverless-agent/flush-strategy';
import type { EarlyStart, Lifecycle, LifecycleEvent, Registration } from '@serverless-agent/lifecycle';
import { logsEnabledFromEnv } from '@serverless-agent/lifecycle/start';
import type { Components, EnhancedSample } from './components.js';
import { answer, bindEarlyListeners, closeEarlyListeners, type EarlyListeners, proxyTo } from './early.js';
import { type Env, mergeEnv, type YamlParser, yamlPathOf } from './env.js';
import { FIRST_NEXT_WAIT_MS, firstNextSent } from './first-next.js';
import type { FlushDriver } from './flush-driver.js';
import { createLogger, type Logger, parseLogLevel } from './logger.js';
import { portsFromEnv } from './ports.js';
import { runtimeResolver } from './runtime-tag.js';
import { timelineFromEnv } from './timeline.js';
import { warnUnsupported } from './variables.js';
import { VERSION } from './version.js';

export interface RunOptions {
  registration: Promise<Registration>;
  /** process.uptime() in ms when the process started its entry. */
  startedAt: number;
  /** When the entry's steps were done (ms since the process started), for the debug log. */
  steps?: Record<string, number>;
  env?: Env;
  logger?: Logger;
  /** Ends the process (tests pass their own). */
  exit?: (code: number) => void;
  /** The sockets the entry bound (or failed to bind) while registering; bound here when absent. */
  early?: Promise<EarlyListeners>;
  /**
   * The subscription and the first `next` the entry already sent (`client.prefetchNext()`), which
   * the lifecycle takes over; absent, the lifecycle subscribes and sends it.
   */
  sent?: Required<Pick<EarlyStart, 'client' | 'subscription'>>;
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

const MAX_EARLY_SAMPLES = 10_000;
const MAX_RUNTIME_DONE_KEPT = 16;
const MAX_EARLY_TELEMETRY_BATCHES = 1000;
const MAX_EARLY_LIFECYCLE_EVENTS = 1000;
// A start-invocation that beats the trace pipeline's loading waits this long for it at most (the
// tracers wait 1 to 3 s for the answer); past it, the answer carries no context.
const START_INVOCATION_WAIT_MS = 1500;

/** The lifecycle events the extension's own spans are made from. */
const SPAN_EVENTS = new Set<LifecycleEvent['type']>([
  'initStart',
  'initReport',
  'invocationStart',
  'platformStart',
  'universalStart',
  'universalEnd',
  'runtimeDone',
  'restoreStart',
  'restoreReport',
  'shutdown',
]);

function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      () => {
        clearTimeout(timer);
        resolve(undefined);
      },
    );
  });
}

const API_KEY_SOURCES = ['DD_API_KEY', 'DD_API_KEY_SECRET_ARN', 'DD_KMS_API_KEY', 'DD_API_KEY_SSM_ARN'];

/** Why the extension cannot ship at all, or undefined when it can try (secrets resolve later). */
export function idleReason(env: Env): string | undefined {
  const key = (env.DD_API_KEY ?? '').replace(/\s/g, '');
  if (key !== '') return undefined;
  if (API_KEY_SOURCES.slice(1).some((k) => (env[k] ?? '').trim() !== '')) return undefined;
  return `no API key (${API_KEY_SOURCES.join(', ')} are all unset)`;
}

/**
 * DD_SERVERLESS_LOGS_ENABLED / DD_LOGS_ENABLED: either set gives their OR (unset counts false), read
 * as the lifecycle reads them for the subscribed types and with the logs package's booleans.
 */
export function logsEnabled(env: Env): boolean {
  return logsEnabledFromEnv(env);
}

export async function run(options: RunOptions): Promise<void> {
  const loadedAt = process.uptime() * 1000;
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
    hookRequests: 0,
    droppedPayloads: 0,
    droppedItems: 0,
    enhancedSamples: 0,
    earlySamplesDropped: 0,
    earlyTelemetryDropped: 0,
    earlyLifecycleEventsDropped: 0,
  };
  const earlySamples: EnhancedSample[] = [];
  let submitSample: ((s: EnhancedSample) => void) | undefined;
  let driver: FlushDriver | undefined;
  let components: (Components & { setShutdownDeadline: (d: number) => void }) | undefined;
  let flushAll: (force: boolean) => Promise<FlushOutcome> = async () => 'success';
  let componentsSettled: (c: Components | undefined) => void = () => {};
  const componentsLoaded = new Promise<Components | undefined>((resolve) => {
    componentsSettled = resolve;
  });
  const lifecycleOptions = {
    ...lifecycleModule.fromEnv(env, logger),
    // The hooks' public port is the early listener; the lifecycle's own server sits behind it on a
    // free loopback port (unless the early one could not bind).
    hooksPort: early ? 0 : ports.hooks,
    telemetryPort: ports.telemetry,
  };
  const runtime = runtimeResolver(() => lifecycleModule.resolveRuntime({ env }));
  const lifecycle: Lifecycle = new lifecycleModule.Lifecycle(lifecycleOptions, {
    logger,
    invocationTags: () => [`runtime:${runtime()}`],
    startedAt: Date.now() - (process.uptime() * 1000 - options.startedAt),
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
    extractContext: async (event, headers, requestId) => {
      const c = components ?? (await within(componentsLoaded, START_INVOCATION_WAIT_MS));
      return c?.startInvocation(event, headers, requestId);
    },
  });

  // Waits cut short when the extension goes idle: the Telemetry listener closes, so a runtimeDone
  // still awaited would never come (the invocation would run into its deadline).
  const idleWaiters = new Set<() => void>();
  const goIdle = (reason: string) => {
    if (idle === undefined) idle = reason;
    lifecycle.fallBackToIdle(reason);
    for (const stop of idleWaiters) stop();
    idleWaiters.clear();
    if (early) {
      early.dogstatsd.attach(countDatagram);
      early.traces.attach(idleTraceAnswer(counts));
      early.hooks.attach((req, res) => {
        req.resume();
        req.on('end', () => {
          counts.hookRequests++;
          answer(200, '{}')(req, res);
        });
      });
    }
    driver?.close();
  };
  // A secret that did not resolve leaves nothing to send anything with: idle, as upstream.
  const idleIfNoApiKey = () => {
    if (idle === undefined && components?.apiKeyFailed())
      goIdle('the API key could not be resolved: nothing can be sent to Datadog');
  };
  const countDatagram = (msg: Buffer) => {
    counts.datagrams++;
    counts.datagramBytes += msg.length;
  };
  process.on('uncaughtException', (err) => goIdle(`internal error: ${err.message}`));
  process.on('unhandledRejection', (err) =>
    goIdle(`internal error: ${String((err as Error)?.message ?? err)}`),
  );

  const started = await lifecycle.start(options.registration, {
    ...(early ? { telemetry: early.telemetry } : {}),
    ...options.sent,
  });
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
    `serverless-agent ${VERSION} ready in ${(process.uptime() * 1000 - options.startedAt).toFixed(1)} ms`,
  );
  const steps = Object.entries({
    ...options.steps,
    'agent loaded': loadedAt,
    'lifecycle started': process.uptime() * 1000,
  });
  logger.debug(
    `start, ms since the process started: ${steps.map(([k, t]) => `${k} ${t.toFixed(1)}`).join(', ')}`,
  );
  logger.debug(
    `listening: hooks ${started.hooksPort}, dogstatsd ${early?.ports.dogstatsd}, traces ${early?.ports.traces}, telemetry ${started.telemetryPort}`,
  );

  const tl = timelineFromEnv(env, logger);
  const runtimeDone = new Map<string, Promise<unknown>>();
  // Platform and function records that arrive before the logs pipeline loaded wait for it (bounded).
  const earlyTelemetry: unknown[] = [];
  let ingestTelemetry: ((events: unknown) => void) | undefined;
  // Likewise the events the extension's own spans are made from (init, invocations, the hooks).
  const earlyLifecycleEvents: LifecycleEvent[] = [];
  let onLifecycleEvent: ((event: LifecycleEvent) => void) | undefined;
  lifecycle.subscribe((event: LifecycleEvent) => {
    if (SPAN_EVENTS.has(event.type)) {
      if (onLifecycleEvent) onLifecycleEvent(event);
      else if (earlyLifecycleEvents.length < MAX_EARLY_LIFECYCLE_EVENTS) earlyLifecycleEvents.push(event);
      else counts.earlyLifecycleEventsDropped++;
    }
    if (event.type === 'telemetry') {
      tl?.(`telemetry ${Array.isArray(event.events) ? event.events.map((e) => e.type).join(',') : ''}`);
      if (ingestTelemetry) ingestTelemetry(event.events);
      else if (earlyTelemetry.length < MAX_EARLY_TELEMETRY_BATCHES) earlyTelemetry.push(event.events);
      else counts.earlyTelemetryDropped++;
    }
    if (event.type === 'runtimeDone') tl?.(`runtimeDone ${event.requestId}`);
    if (event.type === 'runtimeDone' && driver) {
      const d = driver;
      // The batch that carried runtimeDone is handed to the logs in the same call, once its events
      // are processed: flush a microtask later, when it has been, so the invocation's own lines go
      // with it (a loop turn later would be half a millisecond more of the function's duration).
      const sent = Promise.resolve().then(() => d.send({ type: 'runtime-done', requestId: event.requestId }));
      runtimeDone.set(event.requestId, sent);
      // Only an invocation on the End path takes its entry back out: the others' must not pile up.
      for (const id of runtimeDone.keys()) {
        if (runtimeDone.size <= MAX_RUNTIME_DONE_KEPT) break;
        runtimeDone.delete(id);
      }
    }
  });

  // The heavy part, after the first `next` is out (a few milliseconds later: evaluating these
  // modules before the request is written would hold it back); the queues hold what arrives.
  // Called once `next` is written (it runs after everything the INVOKE set off), not before.
  let collectIfGrown: (() => boolean) | undefined;
  const whenIdle = () => {
    if (collectIfGrown) setImmediate(collectIfGrown);
  };
  const afterFirstNext = options.sent ? Promise.resolve() : firstNextSent(FIRST_NEXT_WAIT_MS);
  let waitsForRuntimeDone: typeof import('./flush-driver.js').waitsForRuntimeDone | undefined;
  const loaded =
    idle === undefined && early
      ? afterFirstNext
          .then(() => import('./components.js'))
          .then(({ loadComponents }) =>
            loadComponents(env, registration, early, lifecycle, logger, counts, idleIfNoApiKey, runtime, tl),
          )
          .then(
            (c) => {
              components = c as Components & { setShutdownDeadline: (d: number) => void };
              submitSample = c.submit;
              ingestTelemetry = c.ingestTelemetry;
              for (const events of earlyTelemetry.splice(0)) c.ingestTelemetry(events);
              for (const sample of earlySamples.splice(0)) c.submit(sample);
              onLifecycleEvent = c.onLifecycleEvent;
              for (const event of earlyLifecycleEvents.splice(0)) c.onLifecycleEvent(event);
              componentsSettled(c);
              flushAll = c.flushAll;
              driver = c.driver;
              // Everything is compiled by now: V8's flags can change without costing a code cache.
              collectIfGrown = c.tuneHeap();
              return driver.send({ type: 'extension-started' });
            },
            (err: Error) => {
              componentsSettled(undefined);
              goIdle(`the components failed to load: ${err.message}`);
            },
          )
      : Promise.resolve();
  if (idle !== undefined || !early) componentsSettled(undefined);

  const shutdown = await lifecycle.run({
    onInvoke: async (event) => {
      tl?.(`invoke ${event.requestId}`);
      await loaded;
      idleIfNoApiKey();
      if (!driver || idle !== undefined) return;
      const decisions = await driver.send({
        type: 'invocation-started',
        deadlineMs: event.deadlineMs,
        requestId: event.requestId,
      });
      // Looked up once: an import per invocation is a few more turns of the microtask queue
      // before `next`.
      waitsForRuntimeDone ??= (await import('./flush-driver.js')).waitsForRuntimeDone;
      if (!waitsForRuntimeDone(decisions)) return whenIdle();
      // goIdle may have run during the awaits above: it found no waiter then, and Telemetry is
      // closed, so runtimeDone will not come. From here to the waiter's registration nothing yields.
      if (idle !== undefined) return whenIdle();
      components?.flushAheadOf(event.requestId);
      const done = lifecycle.processor.waitForRuntimeDone(
        event.requestId,
        Math.max(0, event.deadlineMs - Date.now()),
      );
      await new Promise<void>((resolve) => {
        idleWaiters.add(resolve);
        void done.finally(() => {
          idleWaiters.delete(resolve);
          resolve();
        });
      });
      // Gone idle meanwhile (an API key that failed to resolve at the first send, an internal error).
      if (idle !== undefined) return whenIdle();
      // runtimeDone may have come before the components loaded: then nothing flushed for it yet.
      await (runtimeDone.get(event.requestId) ??
        driver.send({ type: 'runtime-done', requestId: event.requestId }));
      runtimeDone.delete(event.requestId);
      tl?.('invoke-done');
      whenIdle();
    },
    onShutdown: async (event) => {
      await loaded;
      idleIfNoApiKey();
      if (driver && idle === undefined) {
        components?.setShutdownDeadline(event.deadlineMs);
        await driver.send({ type: 'shutdown', deadlineMs: event.deadlineMs });
        driver.close();
      }
      logger.debug(`at shutdown: ${JSON.stringify(components?.stats())}`);
      await components?.close();
    },
  });
  const counted = `${counts.datagrams} datagrams, ${counts.traceRequests} trace requests, ${counts.hookRequests} hook calls`;
  if (idle !== undefined) {
    const before =
      counts.droppedPayloads > 0
        ? `, and ${counts.droppedPayloads} payloads (${counts.droppedItems} items) made before`
        : '';
    logger.info(`idle: dropped ${counted}${before} (shutdown: ${shutdown.shutdownReason})`);
  }
  logger.debug(
    `counted: ${counted} while idle, ${counts.enhancedSamples} enhanced metric samples (shutdown: ${shutdown.shutdownReason})`,
  );
  if (early) await closeEarlyListeners(early);
  exit(0);
}

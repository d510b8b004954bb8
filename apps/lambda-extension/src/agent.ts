// The extension after registration was sent: bind every listener with built-ins (queuing what
// arrives), subscribe to telemetry, call the first `next` as soon as everything accepts, and only
// then build the components. Nothing here may break the function: an internal fault turns the
// extension idle (it keeps answering `next` and every client, drops and counts, says why once).
import { EarlyHttpListener, EarlyUdpListener } from './early-listeners.js';
import { type Env, mergeEnv, type YamlParser, yamlPathOf } from './env.js';
import { type ExtensionEvent, nextEvent, type Registration, subscribeTelemetry } from './extensions-api.js';
import { createLogger, type Logger, parseLogLevel } from './logger.js';
import { DropPipeline, type Pipeline } from './pipeline.js';
import { type Ports, portsFromEnv } from './ports.js';
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
}

export interface Listeners {
  dogstatsd: EarlyUdpListener;
  traces: EarlyHttpListener;
  hooks: EarlyHttpListener;
  telemetry: EarlyHttpListener;
  ports: Ports;
}

const answerJson = (body: string) => (_req: unknown, res: import('node:http').ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(body);
};

export async function bindListeners(ports: Ports): Promise<Listeners> {
  const dogstatsd = new EarlyUdpListener();
  const traces = new EarlyHttpListener(answerJson('{"rate_by_service":{}}'));
  const hooks = new EarlyHttpListener(answerJson('{}'));
  const telemetry = new EarlyHttpListener((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('OK');
  });
  const [d, t, h, tl] = await Promise.all([
    // DogStatsD and the Telemetry listener take any interface, as upstream; the rest is loopback.
    dogstatsd.listen(ports.dogstatsd, '0.0.0.0'),
    traces.listen(ports.traces, '127.0.0.1'),
    hooks.listen(ports.hooks, '127.0.0.1'),
    telemetry.listen(ports.telemetry, '0.0.0.0'),
  ]);
  return { dogstatsd, traces, hooks, telemetry, ports: { dogstatsd: d, traces: t, hooks: h, telemetry: tl } };
}

export async function closeListeners(l: Partial<Listeners>): Promise<void> {
  await Promise.all([l.dogstatsd?.close(), l.traces?.close(), l.hooks?.close(), l.telemetry?.close()]);
}

function truthy(v: string | undefined): boolean | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  const s = v.trim().toLowerCase();
  if (['true', '1', 't', 'yes', 'y', 'on'].includes(s)) return true;
  if (['false', '0', 'f', 'no', 'n', 'off'].includes(s)) return false;
  return undefined;
}

/** DD_SERVERLESS_LOGS_ENABLED / DD_LOGS_ENABLED: either set gives their OR (unset counts false). */
export function logsEnabled(env: Env): boolean {
  const a = truthy(env.DD_SERVERLESS_LOGS_ENABLED);
  const b = truthy(env.DD_LOGS_ENABLED);
  if (a === undefined && b === undefined) return true;
  return a === true || b === true;
}

const API_KEY_SOURCES = ['DD_API_KEY', 'DD_API_KEY_SECRET_ARN', 'DD_KMS_API_KEY', 'DD_API_KEY_SSM_ARN'];

/** Why the extension cannot ship at all, or undefined when it can try. */
export function idleReason(env: Env): string | undefined {
  const key = (env.DD_API_KEY ?? '').replace(/\s/g, '');
  if (key !== '') return undefined;
  if (API_KEY_SOURCES.slice(1).some((k) => (env[k] ?? '') !== '')) {
    return 'the API key is in a secret, and resolving secrets is not supported yet';
  }
  return `no API key (${API_KEY_SOURCES.join(', ')} are all unset)`;
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
  const managedInstances = env.AWS_LAMBDA_INITIALIZATION_TYPE === 'lambda-managed-instances';

  let listeners: Listeners | undefined;
  let bindError: Error | undefined;
  try {
    listeners = await bindListeners(ports);
  } catch (err) {
    bindError = err as Error;
  }

  let registration: Registration;
  try {
    registration = await options.registration;
  } catch (err) {
    // Exiting during init would fail the function's init (Extension.Crash): stay, doing nothing.
    logger.error(`registration failed, the extension stays inactive: ${(err as Error).message}`);
    if (listeners) await closeListeners(listeners);
    setInterval(() => {}, 1 << 30);
    return;
  }

  let pipeline: Pipeline = new DropPipeline();
  let idle = idleReason(env);
  if (bindError) idle = `a listener could not bind (${bindError.message})`;
  const goIdle = (reason: string) => {
    if (idle === undefined) idle = reason;
    logger.error(`idle mode: ${reason}; data is dropped and counted, the function is not affected`);
    pipeline = new DropPipeline();
  };
  const guard = (what: string, fn: () => void) => {
    try {
      fn();
    } catch (err) {
      goIdle(`${what} failed: ${(err as Error).message}`);
    }
  };
  process.on('uncaughtException', (err) => goIdle(`internal error: ${err.message}`));
  process.on('unhandledRejection', (err) =>
    goIdle(`internal error: ${String((err as Error)?.message ?? err)}`),
  );

  if (listeners) {
    const l = listeners;
    l.dogstatsd.attach((msg, rinfo) => guard('dogstatsd', () => pipeline.onDatagram(msg, rinfo)));
    l.traces.attach((req, res) => guard('trace intake', () => pipeline.onTraceRequest(req, res)));
    l.hooks.attach((req, res) => guard('hooks', () => pipeline.onHookRequest(req, res)));
    l.telemetry.attach((req, res) => guard('telemetry', () => pipeline.onTelemetryRequest(req, res)));
    const sub = await subscribeTelemetry(registration.extensionId, {
      port: l.ports.telemetry,
      types: logsEnabled(env) ? ['platform', 'function', 'extension'] : ['platform'],
      managedInstances,
    }).catch((err: Error) => ({ status: 0, body: err.message }));
    if (sub.status !== 200)
      logger.warn(`telemetry subscription answered ${sub.status}: ${sub.body.slice(0, 200)}`);
  }

  if (idle !== undefined) {
    logger.error(`idle mode: ${idle}; data is dropped and counted, the function is not affected`);
  } else {
    logger.warn(
      'this build ships nothing yet (metrics, traces and logs pipelines are not wired): data is dropped and counted',
    );
  }
  warnUnsupported(env, logger);
  const readyMs = performance.now() - options.startedAt;
  logger.info(`serverless-agent ${VERSION} ready in ${readyMs.toFixed(1)} ms`);
  if (listeners) {
    const p = listeners.ports;
    logger.debug(
      `listening: hooks ${p.hooks}, dogstatsd ${p.dogstatsd}, traces ${p.traces}, telemetry ${p.telemetry}`,
    );
  }

  for (;;) {
    let event: ExtensionEvent;
    try {
      event = await nextEvent(registration.extensionId);
    } catch (err) {
      // Upstream treats a failed `next` as a shutdown: nothing else can be done with Lambda's API gone.
      logger.error(`event/next failed, shutting down: ${(err as Error).message}`);
      event = { eventType: 'SHUTDOWN', shutdownReason: 'failure', deadlineMs: Date.now() + 500 };
    }
    if (event.eventType === 'INVOKE') {
      try {
        await pipeline.onInvoke(event);
      } catch (err) {
        goIdle(`invocation handling failed: ${(err as Error).message}`);
      }
      continue;
    }
    try {
      await pipeline.onShutdown(event);
    } catch (err) {
      logger.error(`shutdown flush failed: ${(err as Error).message}`);
    }
    if (pipeline instanceof DropPipeline) {
      const c = pipeline.counts;
      logger.debug(
        `dropped: ${c.datagrams} datagrams, ${c.traceRequests} trace requests, ${c.hookRequests} hook calls, ${c.telemetryBatches} telemetry batches`,
      );
    }
    if (listeners) await closeListeners(listeners);
    return exit(0);
  }
}

import { existsSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { AgentContext, RunningAgent, StartAgent } from './agent-types.js';
import { parseMode } from './command.js';
import { applyEnvDefaults, childEnv, type Env, earlyConfig } from './config.js';
import { type EarlyTcp, type EarlyUdp, listenHosts, listenTcp, listenUdp } from './early-listeners.js';
import { type Logger, parseLogLevel, stderrLogger } from './logger.js';
import { HeldTee } from './output-tee.js';
import { type ChildOutcome, supervise } from './supervisor.js';

/**
 * The whole shutdown, from the child's exit (or SIGTERM in sidecar mode) to our exit, stays inside
 * Cloud Run's 10 s grace period; the agent's own per-kind budgets fit inside this one.
 */
export const SHUTDOWN_BUDGET_MS = 9_500;

export interface MainOptions {
  argv: readonly string[];
  env: Env;
  /** Our own streams, read only when first needed (creating process.stdout costs milliseconds). */
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** The descriptors behind them: with logs on, the child's output is relayed to them on threads. */
  outputFds?: { stdout: number; stderr: number };
  /** Where signals come from (the process). */
  signals: Pick<NodeJS.Process, 'on' | 'off' | 'once'>;
  /** Loads the agent (everything beyond the process itself); called once the child is spawned. */
  loadAgent: () => Promise<StartAgent>;
  now?: () => number;
}

/** Runs datadog-init and resolves with the exit code. */
export async function main(options: MainOptions): Promise<number> {
  const now = options.now ?? Date.now;
  const startedAt = now();
  const { env } = options;
  const logger = stderrLogger(parseLogLevel(env.DD_LOG_LEVEL), (line) => options.stderr.write(line));

  const mode = parseMode(options.argv);
  if (mode.kind === 'invalid') {
    options.stderr.write(`datadog-init: ${mode.reason}\n`);
    return 1;
  }
  // Sidecar mode stops on SIGTERM or SIGINT: listen before anything else can take time.
  const stopped = mode.kind === 'sidecar' ? waitForStop(options.signals) : undefined;
  applyEnvDefaults(env, mode.kind);
  const config = earlyConfig(env);

  // The sockets first (milliseconds, built-ins only), so the child's first metric or trace is kept.
  const [udp, tcp] = await Promise.all([
    listenUdp({ hosts: listenHosts(config.dogstatsdNonLocal), port: config.dogstatsdPort, logger }).catch(
      (err: Error) => {
        logger.error(`dogstatsd: cannot listen on udp port ${config.dogstatsdPort}: ${err.message}`);
        return undefined;
      },
    ),
    config.apmEnabled
      ? listenTcp({ hosts: listenHosts(config.apmNonLocal), port: config.apmPort, logger }).catch(
          (err: Error) => {
            logger.error(`apm: cannot listen on tcp port ${config.apmPort}: ${err.message}`);
            return undefined;
          },
        )
      : Promise.resolve(undefined),
  ]);

  const tee = config.logsEnabled ? new HeldTee() : undefined;
  let supervised: ReturnType<typeof supervise> | undefined;
  if (mode.kind === 'init') {
    supervised = supervise({
      command: mode.command,
      args: mode.args,
      env: childEnv(env, { dogstatsd: udp?.port, apm: tcp?.port }, existsSync) as NodeJS.ProcessEnv,
      get stdout() {
        return options.stdout;
      },
      get stderr() {
        return options.stderr;
      },
      ...(tee ? { tee } : {}),
      ...(options.outputFds ? { outputFds: options.outputFds } : {}),
      signalSource: options.signals,
    });
  }
  // `::1` (or `::`) beside the first address: after the spawn, which they would otherwise delay.
  void udp?.bindSecondary();
  void tcp?.bindSecondary();
  if (udp) logger.debug(`dogstatsd: listening on udp port ${udp.port}`);
  if (tcp) logger.debug(`apm: listening on tcp port ${tcp.port}`);

  // Everything else loads while the child starts.
  const context: AgentContext = {
    env,
    mode: mode.kind,
    logger,
    startedAt,
    ...(udp ? { udp } : {}),
    ...(tcp ? { tcp } : {}),
    ...(tee ? { output: tee } : {}),
  };
  const agent = startAgentSafely(options.loadAgent, context, logger, tee);

  // SIGTERM means the platform will kill us soon: ship what we have now, while the child shuts down.
  const onTerm = () => {
    void agent.then((a) => a?.onTerminate());
  };
  if (supervised) options.signals.on('SIGTERM', onTerm);

  let outcome: ChildOutcome;
  if (supervised) {
    outcome = await supervised.done;
    if (outcome.startError) {
      const e = outcome.startError as NodeJS.ErrnoException;
      options.stderr.write(
        `datadog-init: cannot start ${JSON.stringify(mode.kind === 'init' ? mode.command : '')}: ${describeSpawnError(e)}\n`,
      );
    }
  } else {
    outcome = await stopped!;
  }
  options.signals.off('SIGTERM', onTerm);

  await shutdown(agent, outcome, udp, tcp, logger);
  return outcome.exitCode;
}

function describeSpawnError(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ENOENT':
      return 'no such file or directory (is the command installed and on PATH?)';
    case 'EACCES':
      return 'permission denied (is the file executable?)';
    default:
      return e.message;
  }
}

function startAgentSafely(
  load: () => Promise<StartAgent>,
  context: AgentContext,
  logger: Logger,
  tee: HeldTee | undefined,
): Promise<RunningAgent | undefined> {
  return load()
    .then((start) => start(context))
    .catch((err: Error) => {
      // The child keeps running whatever happens here.
      logger.error(`the agent could not start; the command runs without it: ${err.stack ?? err.message}`);
      tee?.discard();
      return undefined;
    });
}

/** Sidecar mode: no child; we run until SIGTERM or SIGINT. */
function waitForStop(signals: MainOptions['signals']): Promise<ChildOutcome> {
  return new Promise((resolve) => {
    const stop = () => {
      signals.off('SIGTERM', stop);
      signals.off('SIGINT', stop);
      resolve({ exitCode: 0, signal: null });
    };
    signals.on('SIGTERM', stop);
    signals.on('SIGINT', stop);
  });
}

async function shutdown(
  agent: Promise<RunningAgent | undefined>,
  outcome: ChildOutcome,
  udp: EarlyUdp | undefined,
  tcp: EarlyTcp | undefined,
  logger: Logger,
): Promise<void> {
  const deadline = Date.now() + SHUTDOWN_BUDGET_MS;
  let timer: NodeJS.Timeout | undefined;
  const watchdog = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), SHUTDOWN_BUDGET_MS);
  });
  const work = (async () => {
    const running = await agent;
    if (running) await running.shutdown({ exitCode: outcome.exitCode, signal: outcome.signal, deadline });
  })().catch((err: Error) => logger.error(`final flush failed: ${err.message}`));
  if ((await Promise.race([work, watchdog])) === 'timeout') {
    logger.warn(`shutdown took over ${SHUTDOWN_BUDGET_MS} ms; exiting without waiting further`);
  }
  clearTimeout(timer);
  await Promise.all([udp?.close(), tcp?.close()]);
}

import type { Env } from './config.js';
import type { EarlyTcp, EarlyUdp } from './early-listeners.js';
import type { Logger } from './logger.js';
import type { HeldTee } from './output-tee.js';

/** What the entrypoint hands the agent once the child is running. */
export interface AgentContext {
  env: Env;
  mode: 'init' | 'sidecar';
  logger: Logger;
  /** When datadog-init started (ms since the epoch): the job task's start. */
  startedAt: number;
  /** The DogStatsD socket, bound, holding what arrived so far. */
  udp?: EarlyUdp;
  /** The trace receiver's listener, bound, holding the connections so far. */
  tcp?: EarlyTcp;
  /** The copy of the child's output for Datadog, when DD_LOGS_ENABLED=true. */
  output?: HeldTee;
}

export interface ShutdownInfo {
  exitCode: number;
  signal: NodeJS.Signals | null;
  /** Date.now() by which everything must be sent. */
  deadline: number;
}

export interface RunningAgent {
  /** SIGTERM arrived: flush now, the platform will kill us soon. */
  onTerminate(): void;
  /** The child exited (or the sidecar was stopped): the final flush, inside the deadline. */
  shutdown(info: ShutdownInfo): Promise<void>;
}

export type StartAgent = (context: AgentContext) => Promise<RunningAgent>;

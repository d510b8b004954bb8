import { type ChildProcess, spawn } from 'node:child_process';
import type { Writable } from 'node:stream';

/**
 * Every signal a Node process can be sent and catch on Linux. SIGKILL and SIGSTOP cannot be caught;
 * SIGSEGV, SIGBUS, SIGFPE and SIGILL cannot be handled safely from JavaScript; SIGCHLD is ours (it
 * reports the child), as in Datadog's wrapper. SIGUSR1 is Node's debugger signal: a listener on it
 * replaces that behaviour, so the signal reaches the child instead of opening an inspector here.
 */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = [
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGTRAP',
  'SIGABRT',
  'SIGUSR1',
  'SIGUSR2',
  'SIGPIPE',
  'SIGALRM',
  'SIGTERM',
  'SIGCONT',
  'SIGTSTP',
  'SIGTTIN',
  'SIGTTOU',
  'SIGURG',
  'SIGXCPU',
  'SIGXFSZ',
  'SIGVTALRM',
  'SIGPROF',
  'SIGWINCH',
  'SIGIO',
  'SIGPWR',
  'SIGSYS',
];

/** Where each of the child's output streams goes besides our own stream, when logs are shipped. */
export interface OutputTee {
  stdout(chunk: Buffer): void;
  stderr(chunk: Buffer): void;
}

export interface SuperviseOptions {
  command: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  /** Our own streams; the child's output is written to them unchanged. */
  stdout: Writable;
  stderr: Writable;
  /** Without a tee the child inherits our stdout and stderr directly: nothing in between. */
  tee?: OutputTee;
  /** The process whose signals are forwarded (injected so tests can drive it). */
  signalSource?: Pick<NodeJS.Process, 'on' | 'off'>;
  signals?: readonly NodeJS.Signals[];
}

export interface ChildOutcome {
  /** What serverless-init exits with: the child's code, 128 + the signal number, or 1 when it could not start. */
  exitCode: number;
  signal: NodeJS.Signals | null;
  startError?: Error;
}

export interface SupervisedChild {
  /** The child, once spawned (undefined pid when it could not start). */
  child: ChildProcess;
  /** Resolves when the child has exited and its output has been written out. */
  done: Promise<ChildOutcome>;
}

export function exitCodeFor(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  if (signal !== null) return 128 + (process.getBuiltinModule('node:os').constants.signals[signal] ?? 0);
  return 1;
}

/** Spawns the user's command, forwards signals to it, and passes its output through. */
export function supervise(options: SuperviseOptions): SupervisedChild {
  const { tee } = options;
  const child = spawn(options.command, [...options.args], {
    env: options.env,
    stdio: ['inherit', tee ? 'pipe' : 'inherit', tee ? 'pipe' : 'inherit'],
  });

  const source = options.signalSource ?? process;
  const forward = (signal: NodeJS.Signals) => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, signal);
      } catch {
        // The child exited between the check and the kill: nothing left to signal.
      }
    }
  };
  const signals = options.signals ?? FORWARDED_SIGNALS;
  for (const signal of signals) source.on(signal, forward);
  const stopForwarding = () => {
    for (const signal of signals) source.off(signal, forward);
  };

  const streamsDone: Promise<void>[] = [];
  if (tee && child.stdout && child.stderr) {
    streamsDone.push(passThrough(child.stdout, options.stdout, tee.stdout));
    streamsDone.push(passThrough(child.stderr, options.stderr, tee.stderr));
  }

  const done = new Promise<ChildOutcome>((resolve) => {
    let settled = false;
    child.once('error', (error) => {
      // A spawn failure (ENOENT, EACCES) arrives here and no 'close' follows for a child that never ran.
      if (settled || child.pid !== undefined) return;
      settled = true;
      stopForwarding();
      resolve({ exitCode: 1, signal: null, startError: error });
    });
    child.once('close', (code, signal) => {
      if (settled) return;
      settled = true;
      stopForwarding();
      void Promise.all(streamsDone).then(() => resolve({ exitCode: exitCodeFor(code, signal), signal }));
    });
  });
  return { child, done };
}

/**
 * Copies a child stream to ours in order, honouring backpressure, and hands each chunk to the tee.
 * If our stream breaks (EPIPE: nobody reads it any more), the child's output is still drained so
 * the child never blocks on a full pipe, and still teed.
 */
function passThrough(from: NodeJS.ReadableStream, to: Writable, tee: (chunk: Buffer) => void): Promise<void> {
  return new Promise((resolve) => {
    let broken = false;
    const onError = () => {
      broken = true;
      from.resume();
    };
    to.on('error', onError);
    from.on('data', (chunk: Buffer) => {
      // Written first: the copy for the logs never delays the user's bytes.
      if (!broken && !to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
      try {
        tee(chunk);
      } catch {
        // Shipping logs must never disturb the user's output.
      }
    });
    const done = () => {
      to.off('error', onError);
      resolve();
    };
    from.once('end', done);
    from.once('error', done);
  });
}

import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { STDERR_READ_BYTES, STDOUT_READ_BYTES, startRelay } from './output-relay.js';

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
  /**
   * A copy of a chunk the user's stream got. `release`, when given, is called once the log side is
   * done with the copy (processed or dropped): the relay copies no more than is out unreleased.
   */
  stdout(chunk: Buffer, release?: () => void): void;
  stderr(chunk: Buffer, release?: () => void): void;
  /** Copies the relay dropped, its reader being behind (the user's output itself is whole). */
  lost?(chunks: number, bytes: number, stream: 'stdout' | 'stderr'): void;
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
  /**
   * The descriptors behind `stdout` and `stderr`: with a tee, each of the child's streams is then
   * relayed to them on a thread of its own (see output-relay), and the streams are not used unless a
   * thread cannot run.
   */
  outputFds?: { stdout: number; stderr: number };
  /** The relay threads' program (tests replace it). */
  relaySource?: string;
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
    // A child that never started has nothing to relay: no thread for it.
    const fds = child.pid === undefined ? undefined : options.outputFds;
    streamsDone.push(
      relay(child.stdout, fds?.stdout, () => options.stdout, tee, 'stdout', options.relaySource),
      relay(child.stderr, fds?.stderr, () => options.stderr, tee, 'stderr', options.relaySource),
    );
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

const NEWLINE = Buffer.from('\n');

/** One of the child's streams to ours: on a relay thread when it has our descriptor, else here. */
function relay(
  from: Readable,
  fd: number | undefined,
  to: () => Writable,
  tee: OutputTee,
  stream: 'stdout' | 'stderr',
  source: string | undefined,
): Promise<void> {
  const copy = (chunk: Buffer, release?: () => void) => tee[stream](chunk, release);
  if (fd !== undefined) {
    let gap = false;
    const started = startRelay({
      from,
      to: fd,
      readBytes: stream === 'stdout' ? STDOUT_READ_BYTES : STDERR_READ_BYTES,
      tee: (chunk, release) => {
        // Copies were dropped just before: end the cut line rather than join it to a later part.
        if (gap) copy(NEWLINE);
        gap = false;
        copy(chunk, release);
      },
      lost: (chunks, bytes) => {
        gap = stream === 'stdout';
        tee.lost?.(chunks, bytes, stream);
      },
      failed: () => passThrough(from, to(), copy),
      ...(source ? { source } : {}),
    });
    if (started) return started.done;
  }
  return passThrough(from, to(), copy);
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

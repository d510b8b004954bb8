// Child processes of the sandbox: each in its own process group (so a freeze or a kill reaches
// everything it forked), with stdout/stderr split into lines and /proc read for state and RSS.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface ProcStatus {
  /** One-letter state from /proc/<pid>/stat: R, S, D, T (stopped), Z... */
  state: string;
  rssKB: number;
}

/** Reads /proc/<pid>/stat and /proc/<pid>/status; undefined once the process is gone. */
export function procStatus(pid: number): ProcStatus | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: the state follows the last ')'.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return { state, rssKB: m ? Number(m[1]) : 0 };
  } catch {
    return undefined;
  }
}

/** Sends a signal to a whole process group; false if the group is gone. */
export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

let unshareWorks: boolean | undefined;
/** Whether `unshare` can give a child its own mount namespace with a bind mount over /opt here. */
export function mountNamespaceSupported(): boolean {
  if (unshareWorks === undefined) {
    const r = spawnSync('unshare', [...unshareArgs(), 'sh', '-c', 'mount --bind /tmp /opt'], {
      stdio: 'ignore',
      timeout: 5000,
    });
    unshareWorks = r.status === 0;
  }
  return unshareWorks;
}

function unshareArgs(): string[] {
  // As root a plain new mount namespace is enough; otherwise a user namespace maps us to root in it.
  return process.getuid?.() === 0
    ? ['-m', '--propagation', 'private']
    : ['-r', '-m', '--propagation', 'private'];
}

/** Wraps a command so it runs with `optDir` bound over /opt in a private mount namespace. */
export function withOptMount(
  optDir: string,
  command: string,
  args: string[],
): { command: string; args: string[] } {
  // unshare and sh both exec, so the pid we spawn is the pid of the final program.
  return {
    command: 'unshare',
    args: [...unshareArgs(), 'sh', '-c', 'mount --bind "$0" /opt && exec "$@"', optDir, command, ...args],
  };
}

export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  /** performance.now() at spawn. */
  spawnedAt: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exitInfo?: { code: number | null; signal: NodeJS.Signals | null };
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  onLine: (stream: 'stdout' | 'stderr', line: string) => void;
  onExit: (child: Child) => void;
}

const MAX_LINE = 256 * 1024;

function splitLines(onLine: (line: string) => void) {
  let rest = '';
  return {
    push(chunk: string) {
      rest += chunk;
      let i = rest.indexOf('\n');
      while (i >= 0) {
        onLine(rest.slice(0, i));
        rest = rest.slice(i + 1);
        i = rest.indexOf('\n');
      }
      // Lambda cuts very long lines; so do we, rather than buffer without bound.
      if (rest.length > MAX_LINE) {
        onLine(rest.slice(0, MAX_LINE));
        rest = rest.slice(MAX_LINE);
      }
    },
    end() {
      if (rest.length > 0) onLine(rest);
      rest = '';
    },
  };
}

/** How long a child's exit waits for the rest of its output. */
const OUTPUT_DRAIN_MS = 500;

export function spawnChild(opts: SpawnOptions): Child {
  const spawnedAt = performance.now();
  const proc = spawn(opts.command, opts.args, {
    cwd: opts.cwd,
    env: opts.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const child = { name: opts.name, proc, pid: proc.pid ?? -1, spawnedAt } as Child;
  const outputEnded: Promise<void>[] = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    const s = proc[stream]!;
    s.setEncoding('utf8');
    const lines = splitLines((l) => opts.onLine(stream, l));
    s.on('data', (c: string) => lines.push(c));
    outputEnded.push(
      new Promise((resolve) => {
        s.on('end', () => {
          lines.end();
          resolve();
        });
        s.on('close', resolve);
      }),
    );
  }
  child.exited = new Promise((resolve) => {
    const done = (code: number | null, signal: NodeJS.Signals | null) => {
      if (child.exitInfo) return;
      child.exitInfo = { code, signal };
      // 'exit' can come before the last of the child's output has been read: its final lines (what
      // an extension says at shutdown) belong to it, so wait for the pipes to end, within a bound in
      // case a grandchild keeps them open.
      let settled = false;
      const finish = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(child.exitInfo!);
        opts.onExit(child);
      };
      const timer = setTimeout(finish, OUTPUT_DRAIN_MS);
      void Promise.all(outputEnded).then(finish);
    };
    proc.on('error', () => done(null, null));
    proc.on('exit', done);
  });
  return child;
}

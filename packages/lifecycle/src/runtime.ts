// The function's runtime (`runtime` tag), found as the Datadog extension finds it: extensions do not
// get AWS_EXECUTION_ENV, so it is read from another process of the environment (the runtime's), and
// for OS-only runtimes from /etc/os-release.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { childPids } from './proc-children.js';

const MAX_PROCESSES = 1000;
const KEY = 'AWS_EXECUTION_ENV=';

/** `AWS_Lambda_java21` → `java21`: the value after its last `_`. */
function runtimeOf(execEnv: string): string | undefined {
  const v = execEnv.slice(execEnv.lastIndexOf('_') + 1).trim();
  return v === '' ? undefined : v;
}

export interface RuntimeSources {
  env?: Record<string, string | undefined>;
  procRoot?: string;
  etcRoot?: string;
  selfPid?: number;
  /** The process that started the extension (Lambda's init, which also starts the runtime). */
  parentPid?: number;
}

function runtimeFromEnviron(proc: string, pid: string): string | undefined {
  let environ: string;
  try {
    environ = readFileSync(join(proc, pid, 'environ'), 'latin1');
  } catch {
    return undefined;
  }
  const entry = environ.split('\0').find((e) => e.startsWith(KEY));
  return entry === undefined ? undefined : runtimeOf(entry.slice(KEY.length));
}

/**
 * The extension's siblings: Lambda's init starts the runtime and the extensions, so the runtime is
 * almost always among them, and reading a handful of environs beats reading every process's.
 */
function siblings(proc: string, parent: number, self: string): string[] {
  if (!(parent > 1)) return [];
  // without `children` files (a kernel without CONFIG_PROC_CHILDREN) the full scan finds it
  const kids = childPids(proc, parent)?.pids ?? [];
  return kids.map(String).filter((d) => d !== '1' && d !== self);
}

/** `nodejs20.x`, `python3.12`, `java21`, `provided.al2023`, ... or `unknown`. */
export function resolveRuntime(sources: RuntimeSources = {}): string {
  const own = sources.env?.AWS_EXECUTION_ENV;
  if (own) return runtimeOf(own) ?? 'unknown';
  const proc = sources.procRoot ?? '/proc';
  const self = String(sources.selfPid ?? process.pid);
  const tried = new Set<string>();
  for (const pid of siblings(proc, sources.parentPid ?? process.ppid, self)) {
    tried.add(pid);
    const found = runtimeFromEnviron(proc, pid);
    if (found) return found;
  }
  let pids: string[] = [];
  try {
    pids = readdirSync(proc).filter((d) => /^\d+$/.test(d) && d !== '1' && d !== self && !tried.has(d));
  } catch {
    // no /proc: the OS is all there is to go by
  }
  for (const pid of pids.slice(0, MAX_PROCESSES)) {
    const found = runtimeFromEnviron(proc, pid);
    if (found) return found;
  }
  try {
    const release = readFileSync(join(sources.etcRoot ?? '/etc', 'os-release'), 'utf8');
    const version = /^VERSION_ID="?([^"\n]*)"?/m.exec(release)?.[1];
    if (/amazon linux/i.test(release) || /^ID="?amzn/m.test(release)) {
      if (version === '2') return 'provided.al2';
      if (version?.startsWith('2023')) return 'provided.al2023';
    }
  } catch {
    // nothing to go by
  }
  return 'unknown';
}

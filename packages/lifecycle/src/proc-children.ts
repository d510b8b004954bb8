// The children of a process, from procfs: what both the runtime lookup and the usage sampler need
// to find the environment's processes without visiting every process on the host.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readAll } from './proc-read.js';

export interface ChildPids {
  pids: number[];
  /** False when a task's `children` file could not be read (the kernel lacks CONFIG_PROC_CHILDREN, or the thread just exited). */
  complete: boolean;
}

/**
 * Reads `/proc/<pid>/task/<tid>/children` of every task of `pid` (a multi-threaded process may
 * fork from any thread); undefined when the task folder cannot be read (the process is gone). `buf`
 * is a scratch buffer that a caller reading often may reuse.
 */
export function childPids(
  procRoot: string,
  pid: number,
  buf: Buffer = Buffer.allocUnsafe(4096),
): ChildPids | undefined {
  const task = join(procRoot, String(pid), 'task');
  let tids: string[];
  try {
    tids = readdirSync(task);
  } catch {
    return undefined;
  }
  const pids: number[] = [];
  let complete = true;
  for (const tid of tids) {
    const text = readAll(join(task, tid, 'children'), buf);
    if (text === undefined) {
      complete = false;
      continue;
    }
    for (const c of text.split(/\s+/)) if (/^\d+$/.test(c)) pids.push(Number(c));
  }
  return { pids, complete };
}

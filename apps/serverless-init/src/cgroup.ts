import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

/**
 * CPU figures for the container's enhanced metrics, from the cgroup files (v2 unified, else v1):
 * the cumulative CPU time used, and the limit in nanocores (the smaller of the cpuset and the CFS
 * quota, else the host's CPUs).
 */
export interface CgroupCpu {
  /** Cumulative CPU time of the cgroup, in nanoseconds. */
  usageNanos: number;
  /** The CPU limit in nanocores (1 CPU = 1e9). */
  limitNanocores: number;
}

export interface CgroupReaderOptions {
  /** The cgroup file system's mount point (a folder laid out like it in tests). */
  root?: string;
  hostCpus?: number;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Counts the CPUs in a cpuset list such as `0-3,8,10-11`. */
export function countCpuset(list: string): number | undefined {
  let n = 0;
  for (const part of list.split(',')) {
    if (part === '') continue;
    const [a, b] = part.split('-').map(Number);
    if (a === undefined || Number.isNaN(a)) return undefined;
    n += b === undefined ? 1 : Number.isNaN(b) || b < a ? Number.NaN : b - a + 1;
  }
  return Number.isNaN(n) || n === 0 ? undefined : n;
}

export function readCgroupCpu(options: CgroupReaderOptions = {}): CgroupCpu | undefined {
  const root = options.root ?? '/sys/fs/cgroup';
  const host = (options.hostCpus ?? cpus().length) * 1e9;

  const v2Stat = read(join(root, 'cpu.stat'));
  if (v2Stat !== undefined) {
    const usec = /^usage_usec (\d+)$/m.exec(v2Stat)?.[1];
    if (usec === undefined) return undefined;
    let limit = host;
    const max = read(join(root, 'cpu.max'))?.split(/\s+/);
    if (max && max[0] !== 'max' && max[1]) limit = Math.min(limit, (Number(max[0]) / Number(max[1])) * 1e9);
    const cpuset = countCpuset(read(join(root, 'cpuset.cpus.effective')) ?? '');
    if (cpuset !== undefined) limit = Math.min(limit, cpuset * 1e9);
    return { usageNanos: Number(usec) * 1000, limitNanocores: limit };
  }

  const usage =
    read(join(root, 'cpuacct', 'cpuacct.usage')) ?? read(join(root, 'cpu,cpuacct', 'cpuacct.usage'));
  if (usage === undefined) return undefined;
  let limit = host;
  const cpuDir = read(join(root, 'cpu', 'cpu.cfs_quota_us')) !== undefined ? 'cpu' : 'cpu,cpuacct';
  const quota = Number(read(join(root, cpuDir, 'cpu.cfs_quota_us')));
  const period = Number(read(join(root, cpuDir, 'cpu.cfs_period_us')));
  if (quota > 0 && period > 0) limit = Math.min(limit, (quota / period) * 1e9);
  const cpuset = countCpuset(
    read(join(root, 'cpuset', 'cpuset.effective_cpus')) ?? read(join(root, 'cpuset', 'cpuset.cpus')) ?? '',
  );
  if (cpuset !== undefined) limit = Math.min(limit, cpuset * 1e9);
  return { usageNanos: Number(usage), limitNanocores: limit };
}

/** CPU use between two readings, in nanocores (CPU-nanoseconds per second of wall time). */
export function cpuUsageNanocores(
  previous: CgroupCpu,
  current: CgroupCpu,
  elapsedMs: number,
): number | undefined {
  if (elapsedMs <= 0 || current.usageNanos < previous.usageNanos) return undefined;
  return ((current.usageNanos - previous.usageNanos) / elapsedMs) * 1000;
}

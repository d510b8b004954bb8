import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { countCpuset, cpuUsageNanocores, readCgroupCpu } from '../src/cgroup.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'cgroup-'));
  dirs.push(root);
  for (const [path, body] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), `${body}\n`);
  }
  return root;
}

describe('readCgroupCpu', () => {
  it('reads cgroup v2: usage, the CFS quota and the cpuset, whichever is smaller', () => {
    const root = tree({
      'cpu.stat': 'usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000',
      'cpu.max': '150000 100000',
      'cpuset.cpus.effective': '0-3',
    });
    expect(readCgroupCpu({ root, hostCpus: 8 })).toEqual({ usageNanos: 1.5e9, limitNanocores: 1.5e9 });
  });

  it('falls back to the host CPUs when v2 has no quota', () => {
    const root = tree({ 'cpu.stat': 'usage_usec 10', 'cpu.max': 'max 100000' });
    expect(readCgroupCpu({ root, hostCpus: 2 })).toEqual({ usageNanos: 10_000, limitNanocores: 2e9 });
  });

  it('reads cgroup v1', () => {
    const root = tree({
      'cpuacct/cpuacct.usage': '123456789',
      'cpu/cpu.cfs_quota_us': '-1',
      'cpu/cpu.cfs_period_us': '100000',
      'cpuset/cpuset.cpus': '0,2',
    });
    expect(readCgroupCpu({ root, hostCpus: 16 })).toEqual({ usageNanos: 123456789, limitNanocores: 2e9 });
  });

  it('reads this machine’s own cgroup, and usage grows with work', () => {
    const v2 = existsSync('/sys/fs/cgroup/cpu.stat');
    const v1 = existsSync('/sys/fs/cgroup/cpuacct/cpuacct.usage');
    if (!v2 && !v1) return expect(readCgroupCpu()).toBeUndefined();
    const before = readCgroupCpu()!;
    const until = performance.now() + 50;
    while (performance.now() < until) {}
    const after = readCgroupCpu()!;
    expect(after.usageNanos).toBeGreaterThan(before.usageNanos);
    expect(after.limitNanocores).toBeGreaterThan(0);
  });

  it('returns undefined without a cgroup file system', () => {
    expect(readCgroupCpu({ root: tree({}) })).toBeUndefined();
  });
});

describe('cpu helpers', () => {
  it('counts cpuset lists', () => {
    expect(countCpuset('0-3,8,10-11')).toBe(7);
    expect(countCpuset('5')).toBe(1);
    expect(countCpuset('')).toBeUndefined();
    expect(countCpuset('x')).toBeUndefined();
  });

  it('turns two readings into nanocores', () => {
    expect(
      cpuUsageNanocores({ usageNanos: 0, limitNanocores: 1 }, { usageNanos: 5e8, limitNanocores: 1 }, 1000),
    ).toBe(5e8);
    expect(
      cpuUsageNanocores({ usageNanos: 9, limitNanocores: 1 }, { usageNanos: 5, limitNanocores: 1 }, 1000),
    ).toBeUndefined();
  });
});

import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  cpuUtilization,
  type EnhancedMetricSample,
  InvocationProcessor,
  ProcReader,
  parseCpu,
  parseLimits,
  parseNetDev,
  parseTelemetryEvent,
  type TelemetryEvent,
} from '../src/index.js';

const NET_DEV = (
  rx: number,
  tx: number,
) => `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 999999     100    0    0    0     0          0         0   999999     100    0    0    0     0       0          0
vinternal_1: ${rx}    1200    0    0    0     0          0         0 ${tx}    1100    0    0    0     0       0          0
`;

const STAT = (
  user: number,
  system: number,
  idle0: number,
  idle1: number,
) => `cpu  ${user} 0 ${system} ${idle0 + idle1} 0 0 0 0 0 0
cpu0 ${user / 2} 0 ${system / 2} ${idle0} 0 0 0 0 0 0
cpu1 ${user / 2} 0 ${system / 2} ${idle1} 0 0 0 0 0 0
intr 1
`;

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max processes             1024                 1024                 processes
Max open files            1024                 4096                 files
`;

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fakeProc() {
  const root = mkdtempSync(join(tmpdir(), 'fake-proc-'));
  dirs.push(root);
  mkdirSync(join(root, 'net'));
  const set = (o: {
    rx: number;
    tx: number;
    user: number;
    system: number;
    idle: [number, number];
    uptime: number;
  }) => {
    writeFileSync(join(root, 'net/dev'), NET_DEV(o.rx, o.tx));
    writeFileSync(join(root, 'stat'), STAT(o.user, o.system, o.idle[0], o.idle[1]));
    writeFileSync(join(root, 'uptime'), `${o.uptime} 100.00\n`);
  };
  const pid = (n: number, fds: number, threads: number, limits = LIMITS) => {
    const base = join(root, String(n));
    rmSync(base, { recursive: true, force: true });
    mkdirSync(join(base, 'fd'), { recursive: true });
    mkdirSync(join(base, 'task'), { recursive: true });
    for (let i = 0; i < fds; i++) writeFileSync(join(base, 'fd', String(i)), '');
    for (let i = 0; i < threads; i++) mkdirSync(join(base, 'task', String(n + i)));
    writeFileSync(join(base, 'limits'), limits);
  };
  return { root, set, pid };
}

describe('/proc parsers', () => {
  it('parse net/dev without loopback, cpu ticks as ms, limits', () => {
    expect(parseNetDev(NET_DEV(1000, 2000))).toEqual({ rxBytes: 1000, txBytes: 2000 });
    expect(parseCpu(STAT(100, 50, 300, 400), '12.34 5.00')).toEqual({
      userMs: 1000,
      systemMs: 500,
      idleMs: [3000, 4000],
      uptimeMs: 12340,
    });
    expect(parseLimits(LIMITS)).toEqual({ fd: 1024, threads: 1024 });
  });

  it("reads only Lambda's vinternal interface when there is one, every interface but lo otherwise", () => {
    const line = (name: string, rx: number, tx: number) =>
      `${name}: ${rx}    12    0    0    0     0          0         0 ${tx}    11    0    0    0     0       0          0`;
    const head = NET_DEV(0, 0).split('\n').slice(0, 2);
    const dev = (...lines: string[]) => [...head, ...lines, ''].join('\n');
    // Lambda: the sandbox's own interface only (a runtime-side one is not the function's traffic).
    expect(
      parseNetDev(dev(line('lo', 9, 9), line('vint_runtime', 500, 600), line('vinternal_1', 1000, 2000))),
    ).toEqual({ rxBytes: 1000, txBytes: 2000 });
    // Elsewhere (this machine, a container): everything but loopback, so there is something to measure.
    expect(parseNetDev(dev(line('lo', 9, 9), line('eth0', 100, 200), line('eth1', 10, 20)))).toEqual({
      rxBytes: 110,
      txBytes: 220,
    });
  });

  it("falls back to Lambda's limit of 1024 for fd_max and threads_max when no limit is readable", () => {
    const proc = fakeProc();
    proc.pid(1, 3, 1, LIMITS.replace(/1024/g, 'unlimited'));
    proc.pid(2, 2, 1);
    rmSync(join(proc.root, '2', 'limits'));
    expect(new ProcReader({ procRoot: proc.root }).processes([1, 2])).toEqual({
      fdUse: 5,
      threadsUse: 2,
      fdMax: 1024,
      threadsMax: 1024,
    });
    proc.pid(3, 1, 1, LIMITS.replace('Max open files            1024', 'Max open files            65536'));
    expect(new ProcReader({ procRoot: proc.root }).processes([3])).toMatchObject({ fdMax: 65536 });
  });

  it('computes utilisation from two readings', () => {
    const a = parseCpu(STAT(0, 0, 0, 0), '10.00 0')!;
    // 1 s window: core 0 idle 250 ms (75 % busy), core 1 idle 750 ms (25 % busy).
    const b = parseCpu(STAT(80, 20, 25, 75), '11.00 0')!;
    expect(cpuUtilization(a, b)).toEqual({
      numCores: 2,
      totalPct: 50,
      totalCores: 1,
      maxPct: 75,
      minPct: 25,
    });
    expect(cpuUtilization(a, a)).toBeUndefined();
  });

  it("reads this machine's /proc as the test reads it", () => {
    const reader = new ProcReader({ pids: () => [process.pid] });
    const net = reader.network()!;
    const mine = parseNetDev(readFileSync('/proc/net/dev', 'utf8'));
    expect(net.rxBytes).toBeGreaterThanOrEqual(mine.rxBytes - 1);
    const cpu = reader.cpu()!;
    const statCores = readFileSync('/proc/stat', 'utf8')
      .split('\n')
      .filter((l) => /^cpu\d+ /.test(l)).length;
    expect(cpu.idleMs).toHaveLength(statCores);
    const usage = reader.processes([process.pid]);
    const fds = readdirSync('/proc/self/fd').length;
    expect(Math.abs(usage.fdUse - fds)).toBeLessThanOrEqual(2);
    expect(usage.threadsUse).toBe(readdirSync(`/proc/${process.pid}/task`).length);
    const limit = parseLimits(readFileSync('/proc/self/limits', 'utf8'));
    expect(usage.fdMax).toBe(limit.fd);
    const s = statfsSync('/tmp/');
    expect(reader.tmp()!.maxBytes).toBe(s.bsize * s.blocks);
  });
  it('reads stat, uptime and net/dev anew through the descriptors it keeps open', async () => {
    const reader = new ProcReader({ pids: () => [process.pid] });
    const first = reader.cpu()!;
    const firstNet = reader.network()!;
    await new Promise((r) => setTimeout(r, 30));
    const second = reader.cpu()!;
    const own = parseCpu(readFileSync('/proc/stat', 'utf8'), readFileSync('/proc/uptime', 'utf8'))!;
    // /proc/uptime has a resolution of 10 ms.
    expect(second.uptimeMs - first.uptimeMs).toBeGreaterThanOrEqual(20);
    expect(second.userMs + second.systemMs).toBeGreaterThanOrEqual(first.userMs + first.systemMs);
    expect(own.uptimeMs).toBeGreaterThanOrEqual(second.uptimeMs);
    expect(own.uptimeMs - second.uptimeMs).toBeLessThan(1000);
    expect(second.idleMs).toHaveLength(own.idleMs.length);
    expect(reader.network()!.rxBytes).toBeGreaterThanOrEqual(firstNet.rxBytes);
  });
  it.skipIf(!existsSync('/bin/bash'))(
    'counts a process without open files as 0 fds (and its threads), as a listing does',
    async () => {
      // A child that closes all of its descriptors (a kernel thread has none either).
      const closeAll =
        'for f in /proc/$$/fd/*; do eval "exec $(basename "$f")>&-"; done 2>/dev/null; exec sleep 30';
      const child = spawn('bash', ['-c', closeAll], { stdio: 'ignore' });
      try {
        const fdDir = `/proc/${child.pid}/fd`;
        const deadline = Date.now() + 5000;
        while (Date.now() < deadline) {
          try {
            if (
              readdirSync(fdDir).length === 0 &&
              readFileSync(`/proc/${child.pid}/comm`, 'utf8') === 'sleep\n'
            )
              break;
          } catch {}
          await new Promise((r) => setTimeout(r, 10));
        }
        expect(readdirSync(fdDir)).toEqual([]);
        const reader = new ProcReader();
        for (let i = 0; i < 2; i++) {
          const usage = reader.processes([child.pid!]);
          expect(usage.fdUse).toBe(0);
          expect(usage.threadsUse).toBe(readdirSync(`/proc/${child.pid}/task`).length);
        }
        // A pid that is gone counts nothing, and is not an error.
        expect(reader.processes([2 ** 22 + 7]).fdUse).toBe(0);
      } finally {
        child.kill('SIGKILL');
      }
    },
  );
});

describe("the environment's processes", () => {
  /** A fake /proc where `tree` maps each pid to the children of each of its tasks. */
  function fakeTree(tree: Record<number, number[][]>, others: number[] = [99, 100]) {
    const proc = fakeProc();
    for (const [pid, tasks] of Object.entries(tree)) {
      const n = Number(pid);
      proc.pid(n, 1, tasks.length);
      tasks.forEach((kids, i) => {
        writeFileSync(
          join(proc.root, pid, 'task', String(n + i), 'children'),
          kids.map((k) => `${k} `).join(''),
        );
      });
    }
    for (const n of others) proc.pid(n, 5, 1);
    return proc;
  }
  const sorted = (a: number[]) => [...a].sort((x, y) => x - y);

  it("are the parent and its descendants, found from every task's children, this process included", () => {
    // The parent forks from two threads; 20 (this process) has a child of its own.
    const proc = fakeTree({ 10: [[20], [30]], 20: [[21]], 21: [[]], 30: [[]] });
    const reader = new ProcReader({ procRoot: proc.root, selfPid: 20, parentPid: 10 });
    expect(sorted(reader.pids())).toEqual([10, 20, 21, 30]);
    // The host's processes (99, 100: 5 fds each) are not counted.
    expect(reader.processes(reader.pids())).toMatchObject({ fdUse: 4, threadsUse: 5 });
  });

  it('sees a child started between samples and drops one that exited', () => {
    const proc = fakeTree({ 10: [[20]], 20: [[]] });
    const reader = new ProcReader({ procRoot: proc.root, selfPid: 20, parentPid: 10 });
    expect(sorted(reader.pids())).toEqual([10, 20]);
    proc.pid(22, 1, 1);
    writeFileSync(join(proc.root, '22/task/22/children'), '');
    writeFileSync(join(proc.root, '20/task/20/children'), '22 ');
    expect(sorted(reader.pids())).toEqual([10, 20, 22]);
    // 22 exits; the parent's list may still name it for a moment: a vanished pid is skipped.
    rmSync(join(proc.root, '22'), { recursive: true });
    expect(reader.processes(reader.pids())).toMatchObject({ fdUse: 2, threadsUse: 2 });
  });

  it('counts every visible pid when a children file is missing (a kernel without them)', () => {
    const proc = fakeTree({ 10: [[20]], 20: [[]] });
    rmSync(join(proc.root, '10/task/10/children'));
    const reader = new ProcReader({ procRoot: proc.root, selfPid: 20, parentPid: 10 });
    expect(sorted(reader.pids())).toEqual([10, 20, 99, 100]);
  });

  it('counts every visible pid when the parent is pid 1 (the pid namespace is the environment)', () => {
    const proc = fakeTree({ 1: [[20], []], 20: [[]] });
    const reader = new ProcReader({ procRoot: proc.root, selfPid: 20, parentPid: 1 });
    expect(sorted(reader.pids())).toEqual([1, 20, 99, 100]);
  });

  it('is bounded, and a pid named twice (or a cycle) is visited once', () => {
    const many = Array.from({ length: 700 }, (_, i) => 1000 + i);
    const proc = fakeTree({ 10: [[20, 20, 10], many], 20: [[10]] }, []);
    const reader = new ProcReader({ procRoot: proc.root, selfPid: 20, parentPid: 10 });
    const pids = reader.pids();
    expect(new Set(pids).size).toBe(pids.length);
    expect(pids.slice(0, 2)).toEqual([10, 20]);
    expect(pids.length).toBe(512);
  });

  it.skipIf(process.ppid <= 1 || !existsSync(`/proc/self/task/${process.pid}/children`))(
    "on this machine: the parent, this process and its child, not the host's other processes",
    async () => {
      const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
      try {
        await new Promise((r) => child.once('spawn', r));
        const pids = new ProcReader().pids();
        expect(pids).toContain(process.ppid);
        expect(pids).toContain(process.pid);
        expect(pids).toContain(child.pid);
        expect(pids).not.toContain(1);
      } finally {
        child.kill('SIGKILL');
      }
    },
  );
});

describe('the /proc enhanced metrics of an invocation', () => {
  const T0 = Date.parse('2024-05-01T12:00:00.000Z');
  const ev = (type: string, at: number, record: unknown): TelemetryEvent => {
    const r = parseTelemetryEvent({ time: new Date(T0 + at).toISOString(), type, record });
    if (!r.ok) throw new Error(type);
    return r.event;
  };

  it('emits network and cpu deltas at report, utilisation and usage peaks at runtimeDone', async () => {
    const proc = fakeProc();
    proc.set({ rx: 1000, tx: 500, user: 100, system: 20, idle: [1000, 1000], uptime: 100 });
    proc.pid(1, 3, 1);
    proc.pid(2, 5, 2);
    const samples: EnhancedMetricSample[] = [];
    const p = new InvocationProcessor({
      submit: (s) => samples.push(s),
      proc: new ProcReader({ procRoot: proc.root }),
      procSampleIntervalMs: 5,
      now: () => T0,
      startedAt: T0,
    });
    p.onTelemetry([ev('platform.initStart', 0, { initializationType: 'on-demand', phase: 'init' })]);
    p.onInvoke({ eventType: 'INVOKE', requestId: 'r1', deadlineMs: T0 + 3000, invokedFunctionArn: 'arn' });
    // During the invocation: more fds for a while (the sampler keeps the peak), traffic, cpu.
    proc.pid(2, 9, 4);
    await new Promise((r) => setTimeout(r, 40));
    proc.pid(2, 5, 2);
    proc.set({ rx: 4000, tx: 1500, user: 150, system: 30, idle: [1080, 1020], uptime: 101 });
    p.onTelemetry([
      ev('platform.runtimeDone', 500, { requestId: 'r1', status: 'success', metrics: { durationMs: 500 } }),
    ]);
    const v = (n: string) => samples.filter((s) => s.name === `aws.lambda.enhanced.${n}`).map((s) => s.value);
    expect(v('rx_bytes')).toEqual([]); // held for the report
    expect(v('num_cores')).toEqual([2]);
    expect(v('cpu_total_utilization_pct').map(Math.round)).toEqual([50]);
    expect(v('cpu_total_utilization')[0]).toBeCloseTo(1, 9);
    expect(v('cpu_max_utilization').map(Math.round)).toEqual([80]);
    expect(v('cpu_min_utilization').map(Math.round)).toEqual([20]);
    expect(v('fd_use')).toEqual([12]);
    expect(v('fd_max')).toEqual([1024]);
    expect(v('threads_use')).toEqual([5]);
    expect(v('threads_max')).toEqual([1024]);
    expect(v('tmp_max')).toHaveLength(1);
    expect(v('tmp_used')[0]! + v('tmp_free')[0]!).toBe(v('tmp_max')[0]);
    p.onTelemetry([
      ev('platform.report', 600, {
        requestId: 'r1',
        status: 'success',
        metrics: { durationMs: 550, billedDurationMs: 550, memorySizeMB: 128, maxMemoryUsedMB: 70 },
      }),
    ]);
    expect(v('rx_bytes')).toEqual([3000]);
    expect(v('tx_bytes')).toEqual([1000]);
    expect(v('total_network')).toEqual([4000]);
    expect(v('cpu_user_time')).toEqual([500]);
    expect(v('cpu_system_time')).toEqual([100]);
    expect(v('cpu_total_time')).toEqual([600]);
    const rx = samples.find((s) => s.name === 'aws.lambda.enhanced.rx_bytes')!;
    expect(rx.tags).toEqual(['cold_start:true']);
    expect(rx.timestamp).toBe(Math.floor((T0 + 600) / 1000));
  });

  it('measures network and cpu time from INVOKE to the report, post-runtime work included', () => {
    const proc = fakeProc();
    proc.set({ rx: 1000, tx: 500, user: 100, system: 20, idle: [1000, 1000], uptime: 100 });
    proc.pid(1, 3, 1);
    const samples: EnhancedMetricSample[] = [];
    const p = new InvocationProcessor({
      submit: (s) => samples.push(s),
      proc: new ProcReader({ procRoot: proc.root }),
      now: () => T0,
      startedAt: T0,
    });
    const v = (n: string) => samples.filter((s) => s.name === `aws.lambda.enhanced.${n}`).map((s) => s.value);
    const invoke = (id: string) =>
      p.onInvoke({ eventType: 'INVOKE', requestId: id, deadlineMs: T0 + 3000, invokedFunctionArn: 'arn' });
    const done = (id: string, at: number) =>
      ev('platform.runtimeDone', at, { requestId: id, status: 'success', metrics: { durationMs: 100 } });
    const report = (id: string, at: number) =>
      ev('platform.report', at, {
        requestId: id,
        status: 'success',
        metrics: { durationMs: 150, billedDurationMs: 150, memorySizeMB: 128, maxMemoryUsedMB: 70 },
      });
    p.onTelemetry([ev('platform.initStart', 0, { initializationType: 'on-demand', phase: 'init' })]);
    invoke('r1');
    proc.set({ rx: 2000, tx: 700, user: 110, system: 22, idle: [1050, 1050], uptime: 101 });
    p.onTelemetry([done('r1', 100)]);
    // After the runtime answered: the extension flushes (traffic, cpu) before the report.
    proc.set({ rx: 9000, tx: 4500, user: 130, system: 30, idle: [1060, 1060], uptime: 101.2 });
    p.onTelemetry([report('r1', 150)]);
    expect(v('rx_bytes')).toEqual([8000]);
    expect(v('tx_bytes')).toEqual([4000]);
    expect(v('total_network')).toEqual([12000]);
    expect(v('cpu_user_time')).toEqual([300]);
    expect(v('cpu_system_time')).toEqual([100]);
    expect(v('cpu_total_time')).toEqual([400]);

    // A report that comes only after the next INVOKE (after a freeze): its window closed when
    // the next invocation started, so the next one's traffic is not counted twice.
    invoke('r2');
    proc.set({ rx: 10_000, tx: 5000, user: 140, system: 31, idle: [1100, 1100], uptime: 102 });
    p.onTelemetry([done('r2', 1100)]);
    proc.set({ rx: 10_500, tx: 5100, user: 150, system: 32, idle: [1110, 1110], uptime: 102.2 });
    invoke('r3');
    proc.set({ rx: 50_000, tx: 9000, user: 300, system: 80, idle: [1200, 1200], uptime: 103 });
    p.onTelemetry([report('r2', 1200)]);
    expect(v('rx_bytes')).toEqual([8000, 1500]);
    expect(v('tx_bytes')).toEqual([4000, 600]);
    expect(v('cpu_total_time')).toEqual([400, 220]);
  });

  it('managed instances: network and cpu per invocation, usage peaks over the sandbox at SHUTDOWN', async () => {
    const proc = fakeProc();
    proc.set({ rx: 1000, tx: 500, user: 100, system: 20, idle: [1000, 1000], uptime: 100 });
    proc.pid(1, 3, 1);
    const samples: EnhancedMetricSample[] = [];
    const p = new InvocationProcessor({
      submit: (s) => samples.push(s),
      proc: new ProcReader({ procRoot: proc.root }),
      procSampleIntervalMs: 5,
      managedInstances: true,
      now: () => T0,
      startedAt: T0,
    });
    const v = (n: string) => samples.filter((s) => s.name === `aws.lambda.enhanced.${n}`).map((s) => s.value);
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const report = (id: string, at: number) =>
      ev('platform.report', at, { requestId: id, status: 'success', metrics: { durationMs: 100 } });
    p.onTelemetry([
      ev('platform.start', 10, { requestId: 'm1' }),
      ev('platform.start', 11, { requestId: 'm2' }),
    ]);
    proc.pid(1, 20, 6); // a peak while both run
    await sleep(40);
    proc.pid(1, 4, 2);
    proc.set({ rx: 3000, tx: 900, user: 120, system: 25, idle: [1050, 1050], uptime: 101 });
    p.onTelemetry([report('m1', 100)]);
    expect(v('rx_bytes')).toEqual([2000]);
    expect(v('tx_bytes')).toEqual([400]);
    expect(v('cpu_total_time')).toEqual([250]);
    expect(v('num_cores')).toEqual([2]); // utilisation at the synthesised runtimeDone
    proc.set({ rx: 3500, tx: 1000, user: 130, system: 30, idle: [1100, 1100], uptime: 102 });
    p.onTelemetry([report('m2', 110)]);
    expect(v('rx_bytes')).toEqual([2000, 2500]);
    expect(v('cpu_total_time')).toEqual([250, 400]);
    expect(v('fd_use')).toEqual([]); // usage waits for SHUTDOWN in this mode
    proc.pid(1, 50, 9); // no invocation running: not sampled
    await sleep(30);
    proc.pid(1, 4, 2);
    p.onShutdown({ eventType: 'SHUTDOWN', shutdownReason: 'spindown', deadlineMs: T0 + 2000 });
    expect(v('fd_use')).toEqual([20]);
    expect(v('threads_use')).toEqual([6]);
    expect(v('fd_max')).toEqual([1024]);
    expect(v('tmp_max')).toHaveLength(1);
  });

  it('reads nothing from /proc when DD_LAMBDA_PROC_ENHANCED_METRICS is off', () => {
    const samples: EnhancedMetricSample[] = [];
    const p = new InvocationProcessor({
      submit: (s) => samples.push(s),
      procEnhancedMetrics: false,
      proc: new ProcReader({ procRoot: '/nonexistent' }),
    });
    p.onInvoke({ eventType: 'INVOKE', requestId: 'r1', deadlineMs: 0, invokedFunctionArn: 'arn' });
    p.onTelemetry([
      ev('platform.runtimeDone', 5, { requestId: 'r1', status: 'success', metrics: { durationMs: 5 } }),
    ]);
    expect(samples.map((s) => s.name)).toEqual([
      'aws.lambda.enhanced.invocations',
      'aws.lambda.enhanced.runtime_duration',
    ]);
  });
});

/** The reader, counting its process readings, each made to cost `costMs` of CPU. */
function countingReader(reader: ProcReader, costMs = 0): { reader: ProcReader; calls: number } {
  const out = { reader, calls: 0 };
  out.reader = Object.assign(Object.create(reader), {
    processes(pids: number[]) {
      out.calls++;
      const until = performance.now() + costMs;
      while (performance.now() < until) {}
      return reader.processes(pids);
    },
  }) as ProcReader;
  return out;
}

describe('UsageSampler', () => {
  it('sees a process started mid-invocation', async () => {
    const proc = fakeProc();
    proc.pid(1, 3, 1);
    const { UsageSampler } = await import('../src/index.js');
    const sampler = new UsageSampler(new ProcReader({ procRoot: proc.root }), 5);
    sampler.start();
    await new Promise((r) => setTimeout(r, 20));
    proc.pid(2, 40, 7); // e.g. the handler spawns a child
    await new Promise((r) => setTimeout(r, 40));
    rmSync(join(proc.root, '2'), { recursive: true });
    const peaks = sampler.stop();
    expect(peaks.fdUsePeak).toBe(43);
    expect(peaks.threadsUsePeak).toBe(8);
  });

  it('keeps peaks and backs off when a sample is expensive', async () => {
    // 3 ms a sample: far over a tenth of 10 ms
    const slow = countingReader(new ProcReader({ pids: () => [process.pid] }), 3);
    const { UsageSampler } = await import('../src/index.js');
    const sampler = new UsageSampler(slow.reader, 10);
    sampler.start();
    await new Promise((r) => setTimeout(r, 200));
    const peaks = sampler.stop();
    expect(sampler.currentIntervalMs).toBeGreaterThan(10);
    expect(slow.calls).toBeLessThan(20);
    expect(peaks.fdUsePeak).toBeGreaterThan(0);
    expect(sampler.running).toBe(false);
  });
  it('samples after start() returns, not inside it, and pause() reuses a sample fresher than the interval', async () => {
    const counting = countingReader(new ProcReader({ pids: () => [process.pid] }));
    const calls = () => counting.calls;
    const { UsageSampler } = await import('../src/index.js');
    const sampler = new UsageSampler(counting.reader, 60_000);
    sampler.start();
    expect(calls()).toBe(0); // INVOKE handling (and its `next`) is not held by a sample
    await new Promise((r) => setTimeout(r, 5));
    expect(calls()).toBe(1);
    const peaks = sampler.stop();
    expect(calls()).toBe(1); // the sample taken a few ms ago is within the interval
    expect(peaks.fdUsePeak).toBeGreaterThan(0);
    // stopped before any sample: one is taken, so the peaks are never empty
    sampler.start();
    expect(sampler.stop().fdUsePeak).toBeGreaterThan(0);
    expect(calls()).toBe(2);
    expect(sampler.running).toBe(false);
  });

  it('once samples proved expensive, invocations started within the interval share its latest sample', async () => {
    // The usage a reading of every process finds, set by the test (no file work between steps).
    const usage = { fdUse: 3, threadsUse: 1, fdMax: 1024, threadsMax: 1024 };
    const stub = Object.assign(Object.create(new ProcReader({ pids: () => [1] })), {
      processes: () => ({ ...usage }),
    }) as ProcReader;
    // 3 ms a sample, over a tenth of the 10 ms interval: it backs off.
    const slow = countingReader(stub, 3);
    const calls = () => slow.calls;
    const { UsageSampler } = await import('../src/index.js');
    const sampler = new UsageSampler(slow.reader, 10);
    sampler.start();
    await new Promise((r) => setTimeout(r, 5));
    expect(sampler.stop().fdUsePeak).toBe(3);
    const first = calls();
    expect(first).toBeGreaterThan(0);
    expect(sampler.currentIntervalMs).toBeGreaterThan(10);
    // The next invocation at once: no new reading of every process, the peaks hold the latest.
    Object.assign(usage, { fdUse: 6, threadsUse: 2 });
    sampler.start();
    const shared = sampler.stop();
    expect(calls()).toBe(first);
    expect(shared.fdUsePeak).toBe(3);
    expect(shared.threadsUsePeak).toBe(1);
    // Once the interval has passed: sampled again.
    await new Promise((r) => setTimeout(r, sampler.currentIntervalMs + 10));
    sampler.start();
    await new Promise((r) => setTimeout(r, 5));
    const later = sampler.stop();
    expect(calls()).toBeGreaterThan(first);
    expect(later.fdUsePeak).toBe(6);
    expect(later.threadsUsePeak).toBe(2);
  });

  it('gives a reading from a sample fresher than the interval, else from a new sample', async () => {
    const proc = fakeProc();
    proc.pid(1, 3, 1);
    const counting = countingReader(new ProcReader({ procRoot: proc.root }));
    const calls = () => counting.calls;
    const { UsageSampler } = await import('../src/index.js');
    const sampler = new UsageSampler(counting.reader, 60_000);
    // No sample yet: one is taken.
    expect(sampler.reading().fdUsePeak).toBe(3);
    expect(calls()).toBe(1);
    sampler.start();
    const deadline = Date.now() + 5000;
    while (calls() < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    expect(calls()).toBe(2); // the sampler's first sample
    proc.pid(1, 7, 2);
    // Within the interval: the latest sample, not a new read.
    const fresh = sampler.reading();
    expect(calls()).toBe(2);
    expect(fresh.fdUsePeak).toBe(3);
    expect(fresh.threadsUsePeak).toBe(1);
    sampler.stop();
    // Past the interval: a new read.
    const quick = countingReader(new ProcReader({ procRoot: proc.root }));
    const short = new UsageSampler(quick.reader, 1);
    expect(short.reading().fdUsePeak).toBe(7);
    proc.pid(1, 2, 1);
    await new Promise((r) => setTimeout(r, 5));
    const later = short.reading();
    expect(quick.calls).toBe(2);
    expect(later.fdUsePeak).toBe(2);
    expect(later.threadsUsePeak).toBe(1);
  });
});

// procfs gives /proc/net/dev (a line per interface) a page at a time: with more interfaces than fit
// in one, the kept descriptor must read on to the end as readFileSync does. Needs a network
// namespace of its own with enough interfaces: root, `unshare` and `ip`.
const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const canNamespace =
  process.getuid?.() === 0 &&
  existsSync(dist) &&
  ['/usr/bin/unshare', '/usr/sbin/ip', '/usr/bin/ip'].some(existsSync);
describe.skipIf(!canNamespace)('net/dev over one page', () => {
  it('is read whole through the kept descriptor', () => {
    // The Lambda interface comes last, past the first page, with a little traffic on it.
    const script = `
      import { createSocket } from 'node:dgram';
      import { readFileSync } from 'node:fs';
      import { ProcReader, parseNetDev } from ${JSON.stringify(dist)};
      const reader = new ProcReader();
      reader.network();
      const s = createSocket('udp4');
      await new Promise((r) => s.send(Buffer.alloc(1000), 9999, '10.9.9.2', () => r()));
      s.close();
      await new Promise((r) => setTimeout(r, 200));
      const whole = readFileSync('/proc/net/dev', 'utf8');
      console.log(JSON.stringify({ kept: reader.network(), whole: parseNetDev(whole), bytes: whole.length }));`;
    const shell = [
      'ip link set lo up',
      'for i in $(seq 1 40); do ip link add v$i type veth peer name p$i || exit 3; done',
      'ip link add vinternal_1 type veth peer name peer1 || exit 3',
      'ip addr add 10.9.9.1/24 dev vinternal_1 && ip link set vinternal_1 up && ip link set peer1 up',
      `exec "${process.execPath}" --input-type=module -e "$0"`,
    ].join(' && ');
    const r = spawnSync('unshare', ['-n', 'sh', '-c', shell, script], { encoding: 'utf8', timeout: 20_000 });
    if (r.status === 3) return; // no veth support here: nothing to check
    expect(r.status, r.stderr).toBe(0);
    const { kept, whole, bytes } = JSON.parse(r.stdout);
    expect(bytes).toBeGreaterThan(4096);
    expect(whole.txBytes).toBeGreaterThan(0);
    expect(kept).toEqual(whole);
  });
});

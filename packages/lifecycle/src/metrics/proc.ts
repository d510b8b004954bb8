// Cheap /proc readers for the per-invocation enhanced metrics: a handful of small synchronous
// reads at invocation start and end, and a 10 ms usage sampler (tmp, fds, threads) while one runs.
import {
  accessSync,
  closeSync,
  constants,
  openSync,
  readdirSync,
  readFileSync,
  statfsSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import { childPids } from '../proc-children.js';
import { readFromStart } from '../proc-read.js';

/** statfs type of procfs. */
const PROC_SUPER_MAGIC = 0x9fa0;

/** Clock ticks per second of /proc/stat; 100 on every Linux Lambda runs. */
const USER_HZ = 100;

/** Most processes the environment walk collects; past it the rest are not counted. */
const MAX_ENVIRONMENT_PROCESSES = 512;

/** Lambda's soft limits on open files and on processes, used when none can be read (as the real extension). */
export const LAMBDA_DEFAULT_LIMIT = 1024;

export interface NetworkCounters {
  rxBytes: number;
  txBytes: number;
}

export interface CpuCounters {
  userMs: number;
  systemMs: number;
  /** Idle time of each core, ms. */
  idleMs: number[];
  uptimeMs: number;
}

export interface TmpUsage {
  maxBytes: number;
  freeBytes: number;
  usedBytes: number;
}

export interface ProcessUsage {
  /** Lowest soft limit of open files over the processes; 1024 if none readable or all unlimited. */
  fdMax: number;
  fdUse: number;
  /** Lowest soft limit of processes/threads over the processes; 1024 likewise. */
  threadsMax: number;
  threadsUse: number;
}

export interface ProcReaderOptions {
  procRoot?: string;
  tmpPath?: string;
  /**
   * Which processes count; default the environment's: the parent process and its descendants
   * (every pid in /proc when the parent is pid 1 or its `children` files cannot be read).
   */
  pids?: () => number[];
  /** This process's pid and its parent's, for finding the environment; default this process's. */
  selfPid?: number;
  parentPid?: number;
}

/** What a sample needs of one process, kept per pid: its folders' paths and its limits. */
interface PidEntry {
  fd: string;
  task: string;
  limits?: { fd?: number; threads?: number };
}

export class ProcReader {
  readonly procRoot: string;
  readonly tmpPath: string;
  private readonly pidSource: (() => number[]) | undefined;
  private readonly selfPid: number;
  private readonly parentPid: (() => number) | undefined;
  private readonly perPid = new Map<number, PidEntry>();
  private procfs: boolean | undefined;
  /** Reused for the `children` files, read at every sample: a fresh buffer each made garbage. */
  private readonly childrenBuf = Buffer.allocUnsafe(4096);
  private exactFdSizes: boolean | undefined;
  /**
   * The files read at every invocation's start and end (`stat`, `uptime`, `net/dev`), kept open:
   * procfs makes a file anew at each read from offset 0, and the open and close cost about as much
   * as the read itself, on the path from INVOKE to the next `next`.
   */
  private readonly kept = new Map<string, number>();
  private readonly keptBuf = Buffer.allocUnsafe(16 * 1024);

  constructor(options: ProcReaderOptions = {}) {
    this.procRoot = options.procRoot ?? '/proc';
    this.tmpPath = options.tmpPath ?? '/tmp/';
    this.pidSource = options.pids;
    this.selfPid = options.selfPid ?? process.pid;
    const parent = options.parentPid;
    // Read live by default: if the parent exits, this process is re-parented.
    this.parentPid = parent === undefined ? undefined : () => parent;
  }

  network(): NetworkCounters | undefined {
    const text = this.readKept('net/dev');
    return text === undefined ? undefined : parseNetDev(text);
  }

  cpu(): CpuCounters | undefined {
    const stat = this.readKept('stat');
    const uptime = this.readKept('uptime');
    if (stat === undefined || uptime === undefined) return undefined;
    return parseCpu(stat, uptime);
  }

  tmp(): TmpUsage | undefined {
    try {
      const s = statfsSync(this.tmpPath);
      const maxBytes = s.bsize * s.blocks;
      const freeBytes = s.bsize * s.bavail;
      return { maxBytes, freeBytes, usedBytes: maxBytes - freeBytes };
    } catch {
      return undefined;
    }
  }

  /**
   * The environment's processes. In Lambda the pid namespace is the sandbox (the extensions' parent,
   * Lambda's init, is pid 1), so every pid counts, as the real extension reads it. Elsewhere (the
   * testkit sandbox on a shared host) /proc holds the host's processes too, and visiting them all
   * costs milliseconds per sample: there the environment is the parent and its descendants.
   */
  pids(): number[] {
    if (this.pidSource) return this.pidSource();
    const parent = this.parentPid ? this.parentPid() : process.ppid;
    if (parent > 1) {
      const tree = this.descendants(parent);
      if (tree) return tree;
    }
    return this.allPids();
  }

  /**
   * A pid and its descendants, breadth first, from every task's `children` file (a multi-threaded
   * process may fork from any thread); undefined when the root's cannot be read (gone, or a kernel
   * without CONFIG_PROC_CHILDREN). A descendant whose files vanish has exited and is skipped.
   */
  private descendants(root: number): number[] | undefined {
    const out = [root];
    const seen = new Set(out);
    for (let i = 0; i < out.length && out.length < MAX_ENVIRONMENT_PROCESSES; i++) {
      const children = childPids(this.procRoot, out[i]!, this.childrenBuf);
      if (i === 0 && !children?.complete) return undefined;
      for (const pid of children?.pids ?? []) {
        if (seen.has(pid) || out.length >= MAX_ENVIRONMENT_PROCESSES) continue;
        seen.add(pid);
        out.push(pid);
      }
    }
    if (!seen.has(this.selfPid)) out.push(this.selfPid);
    return out;
  }

  private allPids(): number[] {
    let names: string[];
    try {
      names = readdirSync(this.procRoot);
    } catch {
      return [];
    }
    const out: number[] = [];
    for (const n of names) if (isPid(n)) out.push(Number(n));
    return out;
  }

  processes(pids: number[]): ProcessUsage {
    let fdUse = 0;
    let threadsUse = 0;
    let fdMax: number | undefined;
    let threadsMax: number | undefined;
    for (const pid of pids) {
      const entry = this.entry(pid);
      const fds = this.count(entry.fd, 'size');
      if (fds === undefined) continue; // gone, or not ours to look at
      fdUse += fds;
      threadsUse += this.count(entry.task, 'nlink') ?? 0;
      const limits = this.limits(pid, entry);
      if (limits.fd !== undefined) fdMax = fdMax === undefined ? limits.fd : Math.min(fdMax, limits.fd);
      if (limits.threads !== undefined) {
        threadsMax = threadsMax === undefined ? limits.threads : Math.min(threadsMax, limits.threads);
      }
    }
    // Entries are kept per pid; forget the pids that are gone so the map stays bounded.
    if (this.perPid.size > pids.length + 64) {
      const live = new Set(pids);
      for (const pid of this.perPid.keys()) if (!live.has(pid)) this.perPid.delete(pid);
    }
    return {
      fdUse,
      threadsUse,
      fdMax: fdMax ?? LAMBDA_DEFAULT_LIMIT,
      threadsMax: threadsMax ?? LAMBDA_DEFAULT_LIMIT,
    };
  }

  /** The paths of a pid's folders are made once: a sample visits every process, every time. */
  private entry(pid: number): PidEntry {
    let e = this.perPid.get(pid);
    if (!e) {
      const base = join(this.procRoot, String(pid));
      e = { fd: join(base, 'fd'), task: join(base, 'task') };
      this.perPid.set(pid, e);
    }
    return e;
  }

  /**
   * Entries of a /proc/PID/fd or /proc/PID/task folder, undefined when it cannot be read. On procfs
   * the count is in the folder's own stat (fd: its size, on kernels from 6.2; task: its link count,
   * threads + 2), which allocates nothing: the sampler runs every 10 ms over every process, and
   * listing each folder's names made it the largest allocator between invocations. Where fd sizes
   * are exact, a size of 0 is a process without files (a kernel thread), not a reason to list.
   */
  private count(dir: string, field: 'size' | 'nlink'): number | undefined {
    if (this.onProcfs()) {
      try {
        const st = statSync(dir);
        const n = field === 'size' ? st.size : st.nlink - 2;
        if (n > 0 || (n === 0 && field === 'size' && this.fdSizesExact())) {
          accessSync(dir, constants.R_OK);
          return n;
        }
      } catch {
        // Fall back to listing it, which says whether it can be read.
      }
    }
    try {
      return readdirSync(dir).length;
    } catch {
      return undefined;
    }
  }

  private onProcfs(): boolean {
    if (this.procfs === undefined) {
      try {
        this.procfs = statfsSync(this.procRoot).type === PROC_SUPER_MAGIC;
      } catch {
        this.procfs = false;
      }
    }
    return this.procfs;
  }

  /** Whether this kernel gives a fd folder's entry count as its size (6.2 on): ours always has some. */
  private fdSizesExact(): boolean {
    if (this.exactFdSizes === undefined) {
      try {
        this.exactFdSizes = statSync(join(this.procRoot, 'self/fd')).size > 0;
      } catch {
        this.exactFdSizes = false;
      }
    }
    return this.exactFdSizes;
  }

  private limits(pid: number, entry: PidEntry): { fd?: number; threads?: number } {
    if (entry.limits) return entry.limits;
    const text = this.read(`${pid}/limits`);
    entry.limits = text === undefined ? {} : parseLimits(text);
    return entry.limits;
  }

  private read(rel: string): string | undefined {
    try {
      return readFileSync(join(this.procRoot, rel), 'utf8');
    } catch {
      return undefined;
    }
  }

  /** `read`, through a descriptor kept open (procfs only: a plain file may be replaced meanwhile). */
  private readKept(rel: string): string | undefined {
    if (!this.onProcfs()) return this.read(rel);
    let fd = this.kept.get(rel);
    try {
      if (fd === undefined) {
        fd = openSync(join(this.procRoot, rel), 'r');
        this.kept.set(rel, fd);
      }
      return readFromStart(fd, this.keptBuf);
    } catch {
      if (fd !== undefined) {
        this.kept.delete(rel);
        try {
          closeSync(fd);
        } catch {
          // Already gone.
        }
      }
      return this.read(rel);
    }
  }
}

/** A /proc entry named by digits only. */
function isPid(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * In Lambda, the function's traffic is on the sandbox's `vinternal_1` interface, the only one the
 * real extension reads. Off Lambda (a test machine, a container) there is none: then every
 * interface but loopback counts, so the metric still measures real traffic.
 */
export function parseNetDev(text: string): NetworkCounters {
  const lambda = { rxBytes: 0, txBytes: 0 };
  const others = { rxBytes: 0, txBytes: 0 };
  let lambdaSeen = false;
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    if (name === 'lo' || name === '') continue;
    const fields = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    if (fields.length < 9) continue;
    const isLambda = name.startsWith('vinternal');
    lambdaSeen ||= isLambda;
    const into = isLambda ? lambda : others;
    into.rxBytes += Number(fields[0]) || 0;
    into.txBytes += Number(fields[8]) || 0;
  }
  return lambdaSeen ? lambda : others;
}

export function parseCpu(stat: string, uptime: string): CpuCounters | undefined {
  const tickMs = 1000 / USER_HZ;
  let userMs = Number.NaN;
  let systemMs = Number.NaN;
  const idleMs: number[] = [];
  for (const line of stat.split('\n')) {
    if (!line.startsWith('cpu')) continue;
    const [label, ...rest] = line.trim().split(/\s+/);
    const f = rest.map(Number);
    if (label === 'cpu') {
      userMs = (f[0] ?? 0) * tickMs;
      systemMs = (f[2] ?? 0) * tickMs;
    } else {
      idleMs.push((f[3] ?? 0) * tickMs);
    }
  }
  const up = Number(uptime.trim().split(/\s+/)[0]);
  if (Number.isNaN(userMs) || Number.isNaN(up)) return undefined;
  return { userMs, systemMs, idleMs, uptimeMs: up * 1000 };
}

export function parseLimits(text: string): { fd?: number; threads?: number } {
  const out: { fd?: number; threads?: number } = {};
  for (const line of text.split('\n')) {
    const m = /^(Max open files|Max processes)\s+(\S+)/.exec(line);
    if (!m) continue;
    const v = Number(m[2]);
    if (!Number.isFinite(v)) continue; // "unlimited"
    if (m[1] === 'Max open files') out.fd = v;
    else out.threads = v;
  }
  return out;
}

export interface CpuUtilization {
  numCores: number;
  totalPct: number;
  totalCores: number;
  maxPct: number;
  minPct: number;
}

/** Utilisation over a window from two readings; undefined when the window is too short to tell. */
export function cpuUtilization(a: CpuCounters, b: CpuCounters): CpuUtilization | undefined {
  const window = b.uptimeMs - a.uptimeMs;
  const numCores = b.idleMs.length;
  if (window <= 0 || numCores === 0 || a.idleMs.length !== numCores) return undefined;
  const clamp = (v: number) => Math.min(100, Math.max(0, v));
  const perCore = b.idleMs.map((idle, i) => clamp(100 * (1 - (idle - (a.idleMs[i] ?? 0)) / window)));
  const idleSum = b.idleMs.reduce((s, idle, i) => s + (idle - (a.idleMs[i] ?? 0)), 0);
  const totalPct = clamp(100 * (1 - idleSum / (window * numCores)));
  return {
    numCores,
    totalPct,
    totalCores: (totalPct / 100) * numCores,
    maxPct: Math.max(...perCore),
    minPct: Math.min(...perCore),
  };
}

export interface UsagePeaks {
  tmp?: TmpUsage;
  tmpUsedPeak: number;
  fdMax?: number;
  fdUsePeak: number;
  threadsMax?: number;
  threadsUsePeak: number;
}

/**
 * Polls tmp/fd/thread usage while an invocation runs and keeps the peaks. A sample that costs more
 * than a tenth of the interval (many processes visible) doubles the interval, up to a second, so
 * the sampler never takes more than ~10 % of a core from the function.
 */
export class UsageSampler {
  private timer: NodeJS.Timeout | undefined;
  private peaks: UsagePeaks = { tmpUsedPeak: 0, fdUsePeak: 0, threadsUsePeak: 0 };
  private interval: number;
  private sampledValue = false;
  private sampledSinceResume = false;
  private lastSampleAt = 0;
  private last: { tmp?: TmpUsage; p: ProcessUsage } | undefined;

  private readonly initialInterval: number;

  constructor(
    private readonly reader: ProcReader,
    intervalMs = 10,
  ) {
    this.interval = intervalMs;
    this.initialInterval = intervalMs;
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Whether the peaks hold at least one sample since the last start(). */
  get sampled(): boolean {
    return this.sampledValue;
  }

  /** The interval in use (grows when sampling is expensive). */
  get currentIntervalMs(): number {
    return this.interval;
  }

  /** Starts sampling afresh (new peaks). */
  start(): void {
    if (this.timer) return;
    this.peaks = { tmpUsedPeak: 0, fdUsePeak: 0, threadsUsePeak: 0 };
    this.sampledValue = false;
    // Once samples have proved expensive (the interval grew), the interval bounds how often
    // invocations that start one after the other sample too: a sample fresher than it is this
    // one's first, and the next is due when the interval has passed since it.
    const age = performance.now() - this.lastSampleAt;
    if (this.last && this.interval > this.initialInterval && age < this.interval) {
      this.seed(this.last);
      this.sampledSinceResume = true;
      this.schedule(this.interval - age);
      return;
    }
    this.resume();
  }

  /**
   * Samples again, keeping the peaks seen so far. The first sample is on a timer too: resume() is
   * called while INVOKE is handled, and a sample of many processes there would hold back `next`.
   */
  resume(): void {
    if (this.timer) return;
    this.sampledSinceResume = false;
    this.schedule(0);
  }

  /**
   * Stops, keeping the peaks for a later resume(). A last sample is taken only when the sampler has
   * none since resume() or its last one is at least an interval old: a fresher one is as close to the
   * end as the sampler's resolution, and a sample here delays the end-of-invocation flush.
   */
  pause(): void {
    if (!this.timer) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.sampledSinceResume || performance.now() - this.lastSampleAt >= this.interval) this.sample();
  }

  /** Stops (with a last sample unless a fresh one is held) and returns the peaks seen. */
  stop(): UsagePeaks {
    this.pause();
    return this.peaks;
  }

  private schedule(delayMs = this.interval): void {
    this.timer = setTimeout(() => {
      const cost = this.sample();
      if (cost > this.interval / 10) this.interval = Math.min(1000, this.interval * 2);
      this.schedule();
    }, delayMs);
    this.timer.unref();
  }

  /**
   * One reading of the usage now, as peaks of that single reading: the sampler's latest sample when
   * it is fresher than the interval (as close to now as the sampler's resolution; a reading of every
   * process is what costs), else a new sample, which counts towards the running peaks too.
   */
  reading(): UsagePeaks {
    if (!this.last || performance.now() - this.lastSampleAt >= this.interval) this.sample();
    const { tmp, p } = this.last!;
    const out: UsagePeaks = {
      tmpUsedPeak: tmp?.usedBytes ?? 0,
      fdUsePeak: p.fdUse,
      threadsUsePeak: p.threadsUse,
      fdMax: p.fdMax,
      threadsMax: p.threadsMax,
    };
    if (tmp) out.tmp = tmp;
    return out;
  }

  /** Returns how long the sample took, ms. */
  private sample(): number {
    const t0 = performance.now();
    this.sampledValue = true;
    this.sampledSinceResume = true;
    const tmp = this.reader.tmp();
    // The process list is read every time: a process the handler starts mid-invocation counts.
    const p = this.reader.processes(this.reader.pids());
    this.last = tmp ? { tmp, p } : { p };
    this.seed(this.last);
    this.lastSampleAt = performance.now();
    return this.lastSampleAt - t0;
  }

  /** Takes one reading into the peaks. */
  private seed({ tmp, p }: { tmp?: TmpUsage; p: ProcessUsage }): void {
    this.sampledValue = true;
    if (tmp) {
      this.peaks.tmp = tmp;
      this.peaks.tmpUsedPeak = Math.max(this.peaks.tmpUsedPeak, tmp.usedBytes);
    }
    this.peaks.fdUsePeak = Math.max(this.peaks.fdUsePeak, p.fdUse);
    this.peaks.threadsUsePeak = Math.max(this.peaks.threadsUsePeak, p.threadsUse);
    this.peaks.fdMax = p.fdMax;
    this.peaks.threadsMax = p.threadsMax;
  }
}

// datadog-init overhead, each measurement beside its peer in the same run:
//  1. start-up: from spawning datadog-init to the child's own process start, against the whole
//     run of `node -e 0` (target: at most its time + 20 ms);
//  2. stdout throughput, from the first byte: a child writing 256 MiB through datadog-init (logs
//     off: inherited pipe; logs on: through our process, a copy to the log thread) against the same
//     child piped directly (target: >= 0.8x), and against a bare Node script that only relays the
//     child's stdout to its own on its event loop, and against a bare script whose only work is one
//     relay thread like datadog-init's (blocking reads and writes, no copy for the logs): the floor of
//     a pass-through that copies the bytes through our process.
// BENCH_INIT=startup or BENCH_INIT=throughput runs one part only.
// Rounds interleave the variants, each round starting with the next one, so machine noise hits all
// alike; medians are reported.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { median, printTable, quantile, ratio } from '../../../bench/stats.mjs';

const app = process.cwd();
execFileSync(process.execPath, [join(app, 'scripts', 'bundle.mjs')], { stdio: 'pipe' });
// The single executable too (cached in dist until the bundles or node change).
execFileSync(process.execPath, [join(app, 'scripts', 'sea.mjs')], { stdio: 'pipe' });
const BUNDLE = join(app, 'dist', 'datadog-init.cjs');
const SEA = join(app, 'dist', 'datadog-init');
const node = process.execPath;
const env = {
  PATH: process.env.PATH,
  DD_DOGSTATSD_PORT: '0',
  DD_APM_RECEIVER_PORT: '0',
  DD_LOG_LEVEL: 'off',
};
const nowMs = () => performance.timeOrigin + performance.now();
const parts = process.env.BENCH_INIT ?? 'startup,throughput';
/** 0..n-1 starting at `round` mod n. */
const rotated = (n, round) => Array.from({ length: n }, (_, k) => (k + round) % n);

function run(command, args, extraEnv = {}) {
  return new Promise((resolve, reject) => {
    const t0 = nowMs();
    const p = spawn(command, args, { env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (c) => (out += c));
    p.on('error', reject);
    p.on('close', (code) =>
      code === 0 ? resolve({ t0, end: nowMs(), out }) : reject(new Error(`exit ${code}`)),
    );
  });
}

if (parts.includes('startup')) {
  // 1. Start-up. The child is `date`, which prints the wall clock the moment it runs (a Node child
  // would add its own boot to the figure).
  const CHILD = ['/bin/date', '+%s%N'];
  const childStartMs = (out) => Number(BigInt(out.trim()) / 1000n) / 1000;
  const variants = [
    [
      'node -e 0 (whole run)',
      async () => {
        const r = await run(node, ['-e', '0']);
        return r.end - r.t0;
      },
    ],
    [
      // The floor of any Node-based wrapper: a bare script that only spawns the child.
      'bare node spawn → child start',
      async () => {
        const r = await run(node, [
          '-e',
          `require('child_process').spawn(${JSON.stringify(CHILD[0])}, ${JSON.stringify(CHILD.slice(1))}, { stdio: 'inherit' })`,
        ]);
        return childStartMs(r.out) - r.t0;
      },
    ],
    [
      'datadog-init.cjs → child start',
      async () => {
        const r = await run(node, [BUNDLE, ...CHILD]);
        return childStartMs(r.out) - r.t0;
      },
    ],
  ];
  if (existsSync(SEA)) {
    variants.push([
      'datadog-init (SEA) → child start',
      async () => {
        const r = await run(SEA, CHILD);
        return childStartMs(r.out) - r.t0;
      },
    ]);
  }
  const startSamples = variants.map(() => []);
  const ROUNDS = 40;
  for (let round = 0; round < ROUNDS + 2; round++) {
    // Each round starts with another variant: no variant always runs first (or after the same one).
    for (const i of rotated(variants.length, round)) {
      const ms = await variants[i][1]();
      if (round >= 2) startSamples[i].push(ms); // two warm-up rounds
    }
  }
  const base = median(startSamples[0]);
  console.log(`\nstart-up, ${ROUNDS} rounds (ms)`);
  printTable(
    ['variant', 'median', 'p90', 'minus node -e 0', 'minus bare spawn', 'target'],
    variants.map(([name], i) => {
      const m = median(startSamples[i]);
      return [
        name,
        m.toFixed(1),
        quantile(startSamples[i], 0.9).toFixed(1),
        i === 0 ? '' : `${(m - base).toFixed(1)}`,
        i < 2 ? '' : `${(m - median(startSamples[1])).toFixed(1)}`,
        i < 2 ? '' : m <= base + 20 ? 'met (<= +20 ms)' : 'missed',
      ];
    }),
  );
}

if (parts.includes('throughput')) {
  // 2. Throughput.
  const MIB = 1024 * 1024;
  const TOTAL = 256 * MIB;
  // 64 KiB writes of 128-byte log lines (one event per line when logs are shipped).
  const WRITER = `
  const line = 'GET /api/orders/12345 200 12.5ms user=42 '.padEnd(127, '.') + '\\n';
  const chunk = Buffer.from(line.repeat(512));
  let left = ${TOTAL / (64 * 1024)};
  // Writing starts once datadog-init has settled: this measures the steady stream.
  setTimeout(go, 1500);
  function go() { while (left > 0) { left--; if (!process.stdout.write(chunk)) { process.stdout.once('drain', go); return; } } }
`;
  function drain(command, args, extraEnv = {}) {
    return new Promise((resolve, reject) => {
      // From the first byte: start-up is measured above, this is the steady stream.
      let t0 = 0;
      const p = spawn(command, args, { env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'inherit'] });
      let bytes = 0;
      // Until the child's last byte: what datadog-init does after the child exits is its final flush.
      let t1 = 0;
      p.stdout.on('data', (c) => {
        if (bytes === 0) t0 = performance.now();
        bytes += c.length;
        if (bytes === TOTAL) t1 = performance.now();
      });
      p.on('error', reject);
      p.on('close', () => {
        if (bytes !== TOTAL) reject(new Error(`got ${bytes} bytes`));
        else resolve((bytes / MIB / (t1 - t0)) * 1000);
      });
    });
  }
  // The same relay as datadog-init's with logs on, and nothing else: read the child's stdout, write it
  // to ours, pause on backpressure.
  const RELAY = `
  const child = require('child_process').spawn(process.execPath, ['-e', process.env.WRITER], { stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout.on('data', (c) => { if (!process.stdout.write(c)) { child.stdout.pause(); process.stdout.once('drain', () => child.stdout.resume()); } });
`;
  // One thread that reads the child's socket and writes our descriptor, both blocking, as datadog-init's
  // relay does, with nothing else: no copy for the logs, no log thread. Its stdio is not piped (that
  // would make our stdout non-blocking).
  const RELAY_THREAD = `
  const child = require('child_process').spawn(process.execPath, ['-e', process.env.WRITER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const h = child.stdout._handle;
  h.readStop();
  h.setBlocking(true);
  const w = new (require('worker_threads').Worker)(\`
    const fs = require('fs');
    const from = require('worker_threads').workerData;
    const buf = Buffer.allocUnsafe(${1024 * 1024});
    for (let n; (n = fs.readSync(from, buf, 0, buf.length, null)) > 0; ) for (let o = 0; o < n; ) o += fs.writeSync(1, buf, o, n - o);
  \`, { eval: true, workerData: h.fd, stdout: true, stderr: true });
  w.stdout.resume();
  w.stderr.resume();
`;
  const tp = [
    ['direct pipe', () => drain(node, ['-e', WRITER])],
    ['bare node relay', () => drain(node, ['-e', RELAY], { WRITER })],
    ['bare relay thread', () => drain(node, ['-e', RELAY_THREAD], { WRITER })],
    ['datadog-init, logs off', () => drain(node, [BUNDLE, node, '-e', WRITER])],
    [
      'datadog-init, DD_LOGS_ENABLED=true',
      () => drain(node, [BUNDLE, node, '-e', WRITER], { DD_LOGS_ENABLED: 'true' }),
    ],
  ];
  const tpSamples = tp.map(() => []);
  const TP_ROUNDS = 7;
  for (let round = 0; round < TP_ROUNDS; round++) {
    for (const i of rotated(tp.length, round)) tpSamples[i].push(await tp[i][1]());
  }
  const direct = median(tpSamples[0]);
  console.log(`\nstdout throughput, ${TOTAL / MIB} MiB, ${TP_ROUNDS} rounds (MiB/s)`);
  const floor = median(tpSamples[2]);
  printTable(
    ['variant', 'median', 'min-max', 'ratio to direct', 'ratio to relay thread', 'target'],
    tp.map(([name], i) => {
      const m = median(tpSamples[i]);
      const r = ratio(m, direct);
      return [
        name,
        m.toFixed(0),
        `${Math.min(...tpSamples[i]).toFixed(0)}-${Math.max(...tpSamples[i]).toFixed(0)}`,
        r.toFixed(2),
        i < 3 ? '' : ratio(m, floor).toFixed(2),
        i < 3 ? '' : r >= 0.8 ? 'met (>= 0.8)' : 'missed',
      ];
    }),
  );
}

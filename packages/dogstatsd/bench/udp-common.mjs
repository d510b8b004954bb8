// Shared by the UDP benchmarks: the paced C sender (built here with `cc`, loopback only, bounded
// in count and time), the receivers as child processes (bare dgram, ours, Etsy statsd) and one
// measured trial.
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const work = mkdtempSync(join(tmpdir(), 'dsd-bench-'));
const sender = join(work, 'udp-sender');
const cc = spawnSync('cc', ['-O2', '-o', sender, join(here, 'udp-sender.c')], { stdio: 'inherit' });
if (cc.status !== 0) throw new Error('cc failed to build the sender');

export function cleanup() {
  rmSync(work, { recursive: true, force: true });
}

export const TRIAL_S = 1;
export const MAX_LOSS = 1e-4;
export const CONTEXTS = 1000;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function lineReader(child) {
  const waiting = [];
  const rl = createInterface({ input: child.stdout });
  rl.on('line', (l) => waiting.shift()?.(l));
  return () => new Promise((resolve) => waiting.push(resolve));
}

export async function nodeReceiver(kind) {
  const child = spawn(process.execPath, [join(here, 'udp-receiver.mjs'), kind], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const next = lineReader(child);
  const { port, rcvbuf } = JSON.parse(await next());
  return {
    name: {
      bare: 'bare dgram (count only)',
      ours: 'serverless-agent dogstatsd',
      'ours-worker': 'serverless-agent dogstatsd, parser worker',
    }[kind],
    pid: child.pid,
    port,
    rcvbuf,
    settleMs: 150,
    async datagrams() {
      child.stdin.write('stats\n');
      return JSON.parse(await next()).datagrams;
    },
    close() {
      const exited = new Promise((r) => child.once('exit', r));
      child.stdin.end('exit\n');
      return exited;
    },
  };
}

async function freeUdpPort() {
  const s = createSocket('udp4');
  await new Promise((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

export async function statsdReceiver() {
  const port = await freeUdpPort();
  const countFile = join(work, 'statsd-count.json');
  const configFile = join(work, 'statsd-config.js');
  const flushInterval = 500;
  writeFileSync(
    configFile,
    `(${JSON.stringify({
      port,
      address: '127.0.0.1',
      mgmt_address: '127.0.0.1',
      mgmt_port: 0,
      flushInterval,
      deleteIdleStats: true,
      backends: [join(here, 'statsd-backend.cjs')],
      benchCountFile: countFile,
    })})`,
  );
  const bin = createRequire(import.meta.url).resolve('statsd/stats.js');
  const child = spawn(process.execPath, [bin, configFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  let up = false;
  createInterface({ input: child.stdout }).on('line', (l) => {
    if (l.includes('server is up')) up = true;
  });
  for (let i = 0; !up; i++) {
    if (i > 200) throw new Error('statsd did not start');
    await sleep(25);
  }
  const read = () => {
    try {
      return JSON.parse(readFileSync(countFile, 'utf8')).packets;
    } catch {
      return 0;
    }
  };
  return {
    name: 'statsd 0.9.0 (Etsy)',
    pid: child.pid,
    port,
    rcvbuf: 'default',
    settleMs: 3 * flushInterval,
    async datagrams() {
      return read();
    },
    close() {
      // statsd reads its config file again while it exits: remove the files only after that.
      const exited = new Promise((r) => child.once('exit', r));
      child.kill();
      return exited;
    },
  };
}

export async function trial(rx, lines, rate, seconds = TRIAL_S) {
  const before = await rx.datagrams();
  const r = spawnSync(sender, [rx.port, lines, rate, seconds, CONTEXTS].map(String), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sender failed: ${r.stderr}`);
  const sent = Number(r.stdout.trim());
  // Let the receiver drain: stop when its count holds still for a settle period.
  let last = -1;
  let now = await rx.datagrams();
  while (now !== last) {
    last = now;
    await sleep(rx.settleMs);
    now = await rx.datagrams();
  }
  const got = now - before;
  return { sent, got, loss: Math.max(0, 1 - got / sent), achieved: sent / seconds };
}

/** CPU time (user + system, ms) a process has used, from /proc (Linux). */
export function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / CLOCK_TICKS;
}
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

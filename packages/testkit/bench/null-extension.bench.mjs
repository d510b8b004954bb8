// The null extension in the sandbox (spawn→register, spawn→ready, RSS) beside `node -e 0`, in
// the same run: the baseline that the extension's start-up is later held against.
import { spawn } from 'node:child_process';
import {
  LambdaSandbox,
  NULL_EXTENSION_DIR,
  procStatus,
  SAMPLE_FUNCTION_DIR,
} from '@serverless-agent/testkit';
import { median, printTable, quantile, ratio } from '../../../bench/stats.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
// The peer gets a clean environment, as the sandbox gives its children: an inherited
// NODE_OPTIONS or NODE_EXTRA_CA_CERTS would slow only one side.
const PEER_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

/** `node -e 0`: spawn → exit. */
function nodeExit() {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore', env: PEER_ENV });
    p.on('error', reject);
    p.on('exit', () => resolve(performance.now() - t0));
  });
}

/** RSS of an idle `node` that did nothing else: the floor for a Node process. */
function nodeIdleRss() {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['-e', 'process.stdout.write("x"); setInterval(() => {}, 1e6)'], {
      stdio: ['ignore', 'pipe', 'ignore'],
      env: PEER_ENV,
    });
    p.on('error', reject);
    p.stdout.once('data', () => {
      const rss = procStatus(p.pid)?.rssKB ?? Number.NaN;
      p.kill('SIGKILL');
      p.on('exit', () => resolve(rss));
    });
  });
}

async function sandboxRound() {
  const sandbox = new LambdaSandbox({ taskRoot: SAMPLE_FUNCTION_DIR, extensionsDir: NULL_EXTENSION_DIR });
  const init = await sandbox.start();
  if (init.status !== 'success') throw new Error(`init ${init.status} ${init.errorType}`);
  const r = await sandbox.invoke({});
  await sandbox.shutdown();
  const ext = r.record.extensions[0];
  return {
    register: ext.spawnToRegisterMs,
    ready: ext.spawnToFirstNextMs,
    rssKB: ext.rssKB,
    postRuntime: r.record.postRuntimeDurationMs,
  };
}

const rows = { nodeExit: [], nodeRss: [], register: [], ready: [], rss: [], post: [] };
// One warm-up of each, not counted (disk cache, JIT of the sandbox itself).
await nodeExit();
await sandboxRound();
for (let i = 0; i < ROUNDS; i++) {
  // Interleaved, so that the machine's noise hits both sides alike.
  rows.nodeExit.push(await nodeExit());
  rows.nodeRss.push(await nodeIdleRss());
  const s = await sandboxRound();
  rows.register.push(s.register);
  rows.ready.push(s.ready);
  rows.rss.push(s.rssKB);
  rows.post.push(s.postRuntime);
}

const fmt = (v) => v.toFixed(1);
const base = median(rows.nodeExit);
const baseRss = median(rows.nodeRss);
console.log(`null extension in the LambdaSandbox vs node -e 0, ${ROUNDS} rounds, node ${process.version}`);
printTable(
  ['measure', 'median', 'p90', 'vs node -e 0'],
  [
    ['node -e 0: spawn→exit (ms)', fmt(base), fmt(quantile(rows.nodeExit, 0.9)), '1.00'],
    [
      'null ext: spawn→register (ms)',
      fmt(median(rows.register)),
      fmt(quantile(rows.register, 0.9)),
      ratio(median(rows.register), base).toFixed(2),
    ],
    [
      'null ext: spawn→ready (ms)',
      fmt(median(rows.ready)),
      fmt(quantile(rows.ready, 0.9)),
      ratio(median(rows.ready), base).toFixed(2),
    ],
    ['null ext: post-runtime (ms)', fmt(median(rows.post)), fmt(quantile(rows.post, 0.9)), '-'],
    ['idle node RSS (MiB)', fmt(baseRss / 1024), fmt(quantile(rows.nodeRss, 0.9) / 1024), '1.00'],
    [
      'null ext RSS (MiB)',
      fmt(median(rows.rss) / 1024),
      fmt(quantile(rows.rss, 0.9) / 1024),
      ratio(median(rows.rss), baseRss).toFixed(2),
    ],
  ],
);

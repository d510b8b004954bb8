// `pnpm bench startup`: the layer's extension beside the testkit's null extension (the floor for
// any extension), alternating, in the testkit's LambdaSandbox with freeze on:
//  - spawn→register and spawn→ready (first `next`);
//  - what the user sees with a realistic function (datadog-lambda-js and dd-trace loaded at init):
//    Init Duration and the first invocation's duration;
//  - the extension's RSS after 1000 invocations, and its slope over the second half.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LambdaSandbox, NULL_EXTENSION_DIR, startIntake } from '@serverless-agent/testkit';
import { median, printTable, ratio } from '../../../bench/stats.mjs';
import { freePortEnv, layerSizes } from './helpers.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 15);
const RSS_INVOCATIONS = Number(process.env.RSS_INVOCATIONS ?? 1000);
const work = mkdtempSync(join(tmpdir(), 'startup-bench-'));
const FUNCTION_DIR = join(process.cwd(), 'test/fixtures/dd-function');
// Everything ships to the loopback intake (a real site is unreachable here: retries would grow).
const intake = await startIntake();

try {
  execFileSync(process.execPath, ['scripts/build-layer.mjs', '--out', work, '--quiet']);
  execFileSync('unzip', ['-q', join(work, 'layer.zip'), '-d', join(work, 'opt')]);
  const subjects = { null: NULL_EXTENSION_DIR, ours: join(work, 'opt/extensions') };

  async function once(extensionsDir, ddFunction) {
    const { env, ports } = await freePortEnv();
    const sandbox = new LambdaSandbox({
      taskRoot: ddFunction ? FUNCTION_DIR : join(process.cwd(), 'bench'),
      handler: ddFunction ? 'index.handler' : 'noop.handler',
      extensionsDir,
      memorySizeMB: 1024,
      env: {
        ...env,
        ...intake.agentEnv(),
        DD_LOG_LEVEL: 'error',
        DD_TRACE_AGENT_PORT: String(ports.traces),
        DD_TRACE_STARTUP_LOGS: 'false',
        DD_TRACE_TELEMETRY_ENABLED: 'false',
      },
    });
    try {
      const init = await sandbox.start();
      if (init.status !== 'success') throw new Error(`init ${init.status}`);
      const r = await sandbox.invoke({ n: 0, workMs: 1 });
      if (r.status !== 'success') throw new Error(`invoke ${r.status} ${JSON.stringify(r.error)}`);
      const [ext] = init.extensions;
      return {
        register: ext.spawnToRegisterMs,
        ready: ext.spawnToFirstNextMs,
        init: init.durationMs,
        first: r.record.durationMs,
      };
    } finally {
      await sandbox.shutdown();
    }
  }

  const results = { null: { plain: [], dd: [] }, ours: { plain: [], dd: [] } };
  // Warm the file cache once each.
  await once(subjects.null, false);
  await once(subjects.ours, false);
  for (let i = 0; i < ROUNDS; i++) {
    for (const name of i % 2 ? ['ours', 'null'] : ['null', 'ours']) {
      results[name].plain.push(await once(subjects[name], false));
      results[name].dd.push(await once(subjects[name], true));
    }
  }
  const m = (name, kind, key) => median(results[name][kind].map((r) => r[key]));
  const row = (label, kind, key, target, additive) => {
    const a = m('ours', kind, key);
    const b = m('null', kind, key);
    return [
      label,
      b.toFixed(2),
      a.toFixed(2),
      ratio(a, b).toFixed(2),
      `${a - b >= 0 ? '+' : ''}${(a - b).toFixed(2)}`,
      additive ? `≤ +${target} ms` : `≤ ${target}×`,
    ];
  };
  console.log(`\nstart-up, medians of ${ROUNDS} alternating rounds (ms)`);
  printTable(
    ['measure', 'null extension', 'serverless-agent', 'ratio', 'delta', 'target'],
    [
      row('spawn→register', 'plain', 'register', 1.15),
      row('spawn→ready (first next)', 'plain', 'ready', 1.5),
      row('Init Duration, dd function', 'dd', 'init', 15, true),
      row('first invocation duration, dd function', 'dd', 'first', 10, true),
    ],
  );

  // RSS over many invocations (the noop function, so the extension's own growth shows).
  async function rssRun(extensionsDir) {
    const { env } = await freePortEnv();
    const sandbox = new LambdaSandbox({
      taskRoot: join(process.cwd(), 'bench'),
      handler: 'noop.handler',
      extensionsDir,
      env: { ...env, ...intake.agentEnv(), DD_LOG_LEVEL: 'error' },
    });
    const rss = [];
    try {
      await sandbox.start();
      for (let i = 0; i < RSS_INVOCATIONS; i++) {
        const r = await sandbox.invoke({ n: i });
        rss.push(r.record.extensions[0]?.rssKB ?? 0);
      }
    } finally {
      await sandbox.shutdown();
    }
    const half = rss.slice(rss.length >> 1);
    // Least-squares slope over the second half, KiB per 100 invocations.
    const n = half.length;
    const xs = half.map((_, i) => i);
    const mx = (n - 1) / 2;
    const my = half.reduce((a, b) => a + b, 0) / n;
    const slope =
      xs.reduce((a, x, i) => a + (x - mx) * (half[i] - my), 0) / xs.reduce((a, x) => a + (x - mx) ** 2, 0);
    return { last: rss.at(-1), slope: slope * 100 };
  }
  const rNull = await rssRun(subjects.null);
  const rOurs = await rssRun(subjects.ours);
  console.log(`\nextension RSS after ${RSS_INVOCATIONS} invocations`);
  printTable(
    ['measure', 'null extension', 'serverless-agent', 'ratio', 'target'],
    [
      [
        'RSS (MiB)',
        (rNull.last / 1024).toFixed(1),
        (rOurs.last / 1024).toFixed(1),
        ratio(rOurs.last, rNull.last).toFixed(2),
        '≤ 1.6×',
      ],
      ['slope, 2nd half (KiB / 100 inv.)', rNull.slope.toFixed(1), rOurs.slope.toFixed(1), '', 'no growth'],
    ],
  );

  const sizes = layerSizes(work, join(work, 'opt'));
  console.log(
    `\nlayer.zip: ${(sizes.zipped / 1024).toFixed(0)} KiB zipped, ${(sizes.unzipped / 1024).toFixed(0)} KiB unzipped`,
  );
} finally {
  await intake.stop();
  rmSync(work, { recursive: true, force: true });
}

// `pnpm bench startup`: the layer's extension beside the testkit's null extension (the floor for
// any extension), alternating, in the testkit's LambdaSandbox with freeze on:
//  - spawn→register and spawn→ready (first `next`);
//  - what the user sees with a realistic function (datadog-lambda-js and dd-trace loaded at init),
//    run with an `/opt` mounted so both libraries detect an extension (`/opt/extensions/datadog-agent`)
//    and talk to it on 8124-8126, as on Lambda: for ours the unzipped layer, for the null extension
//    an `/opt` whose `extensions/datadog-agent` is the null extension (nothing answers on 8124-8126:
//    the floor). Rows: its Init Duration; its first invocation's own duration (invocation start →
//    the runtime's response, what `platform.runtimeDone` reports: the issue's "deferred loading does
//    not just move the cost" figure, target ≤ null + 10 ms); and that invocation's REPORT duration,
//    which under the default flush strategy includes the blocking end-of-invocation flush of the
//    first invocations (waiting for `platform.runtimeDone`, Telemetry's 25 ms buffering, and the
//    intake's answers), compared with the issue's `end` target (null + 25 ms + 3 ms). The dd rows
//    use the fixed ports: run the bench inside `unshare -n` (`-p -f --mount-proc` too, as on Lambda: below);
//  - the extension's RSS after 1000 invocations, and its slope over the second half: over all of it,
//    and between the flushes that fall into it (each flush encodes what was buffered since the last
//    one at once, and RSS steps up there), so that the figure says which of the two grows.
// delta: the difference of the two medians; paired delta: the median of each round's difference.
// The extension's `/proc` usage sampler reads every process in `/proc`: a handful on Lambda, where
// the sandbox has a pid namespace of its own (`unshare -n -p -f --mount-proc` gives the bench one).
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LambdaSandbox, NULL_EXTENSION, NULL_EXTENSION_DIR, startIntake } from '@serverless-agent/testkit';
import { median, printTable, ratio } from '../../../bench/stats.mjs';
import { freePortEnv, layerSizes } from './helpers.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 15);
// The dd function's rows get more rounds: its Init Duration moves by ±15 ms from round to round on a
// shared machine, and each round of it takes well under a second.
const DD_ROUNDS = Number(process.env.DD_ROUNDS ?? 40);
const RSS_INVOCATIONS = Number(process.env.RSS_INVOCATIONS ?? 1000);
// The RSS run's flush strategy (default: the default strategy, a flush every 20 s after the first 20
// invocations); e.g. `periodically,1000` puts flushes into the second half, for the slope across them.
const RSS_FLUSH_STRATEGY = process.env.RSS_FLUSH_STRATEGY;
const work = mkdtempSync(join(tmpdir(), 'startup-bench-'));
const FUNCTION_DIR = join(process.cwd(), 'test/fixtures/dd-function');
// Everything ships to the loopback intake (a real site is unreachable here: retries would grow).
const intake = await startIntake();

try {
  execFileSync(process.execPath, ['scripts/build-layer.mjs', '--out', work, '--quiet']);
  execFileSync('unzip', ['-q', join(work, 'layer.zip'), '-d', join(work, 'opt')]);
  // The null extension as `/opt/extensions/datadog-agent`, so the libraries are in extension mode.
  const nullOpt = join(work, 'null-opt');
  mkdirSync(join(nullOpt, 'extensions'), { recursive: true });
  copyFileSync(NULL_EXTENSION, join(nullOpt, 'extensions/datadog-agent'));
  chmodSync(join(nullOpt, 'extensions/datadog-agent'), 0o755);
  const subjects = {
    null: { plain: NULL_EXTENSION_DIR, opt: nullOpt },
    ours: { plain: join(work, 'opt/extensions'), opt: join(work, 'opt') },
  };
  // What the dd function's invocations delivered to the intake in our runs.
  const delivered = { runs: 0, spans: 0, lambdaSpans: 0, distributions: 0, logs: 0 };

  async function once(name, ddFunction) {
    const { env } = await freePortEnv();
    const sandbox = new LambdaSandbox({
      taskRoot: ddFunction ? FUNCTION_DIR : join(process.cwd(), 'bench'),
      handler: ddFunction ? 'index.handler' : 'noop.handler',
      // The libraries find the extension at /opt and use the fixed ports 8124-8126.
      ...(ddFunction
        ? { extensionsDir: join(subjects[name].opt, 'extensions'), optDir: subjects[name].opt }
        : { extensionsDir: subjects[name].plain }),
      memorySizeMB: 1024,
      env: {
        ...(ddFunction ? {} : env),
        ...intake.agentEnv(),
        DD_LOG_LEVEL: 'error',
        DD_TRACE_STARTUP_LOGS: 'false',
        DD_TRACE_TELEMETRY_ENABLED: 'false',
      },
    });
    intake.clear();
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
        runtime: r.record.runtimeDurationMs,
        first: r.record.durationMs,
      };
    } finally {
      await sandbox.shutdown();
      if (ddFunction && name === 'ours') {
        delivered.runs++;
        delivered.spans += intake.spans('demo.work').length;
        delivered.lambdaSpans += intake.spans('aws.lambda').length;
        delivered.distributions += intake
          .distributions('demo.work.duration')
          .reduce((n, d) => n + d.count, 0);
        delivered.logs += intake.logs(/worked 1 ms for invocation 0/).length;
      }
    }
  }

  const results = { null: { plain: [], dd: [] }, ours: { plain: [], dd: [] } };
  // Warm the file cache once each.
  await once('null', false);
  await once('ours', false);
  // The dd rounds apart from the plain ones: each subject's dd run then follows either subject's dd
  // run equally often, not always its own plain run.
  for (let i = 0; i < ROUNDS; i++) {
    for (const name of i % 2 ? ['ours', 'null'] : ['null', 'ours'])
      results[name].plain.push(await once(name, false));
  }
  await once('null', true);
  await once('ours', true);
  Object.assign(delivered, { runs: 0, spans: 0, lambdaSpans: 0, distributions: 0, logs: 0 });
  for (let i = 0; i < DD_ROUNDS; i++) {
    for (const name of i % 2 ? ['ours', 'null'] : ['null', 'ours'])
      results[name].dd.push(await once(name, true));
  }
  const m = (name, kind, key) => median(results[name][kind].map((r) => r[key]));
  const signed = (d) => `${d >= 0 ? '+' : ''}${d.toFixed(2)}`;
  const row = (label, kind, key, target, additive) => {
    const a = m('ours', kind, key);
    const b = m('null', kind, key);
    // Both subjects of a round ran back to back: their difference cancels the machine's slow drift.
    const paired = median(results.ours[kind].map((r, i) => r[key] - results.null[kind][i][key]));
    return [
      label,
      b.toFixed(2),
      a.toFixed(2),
      ratio(a, b).toFixed(2),
      signed(a - b),
      signed(paired),
      additive ? `≤ +${target} ms` : `≤ ${target}×`,
    ];
  };
  console.log(
    `\nstart-up, medians of ${ROUNDS} alternating rounds, ${DD_ROUNDS} for the dd function's rows (ms)`,
  );
  printTable(
    ['measure', 'null extension', 'serverless-agent', 'ratio', 'delta', 'paired delta', 'target'],
    [
      row('spawn→register', 'plain', 'register', 1.15),
      row('spawn→ready (first next)', 'plain', 'ready', 1.5),
      row('Init Duration, dd function', 'dd', 'init', 15, true),
      row('first invocation, runtime duration, dd function', 'dd', 'runtime', 10, true),
      row('first invocation, REPORT duration (default strategy)', 'dd', 'first', 28, true),
    ],
  );
  console.log(
    `dd function with our layer, ${delivered.runs} runs of one invocation each, at the intake after shutdown: ` +
      `${delivered.lambdaSpans} aws.lambda spans, ${delivered.spans} demo.work spans, ` +
      `${delivered.distributions} demo.work.duration points, ${delivered.logs} function log lines`,
  );

  // RSS over many invocations (the noop function, so the extension's own growth shows).
  async function rssRun(name) {
    const extensionsDir = subjects[name].plain;
    const { env } = await freePortEnv();
    const sandbox = new LambdaSandbox({
      taskRoot: join(process.cwd(), 'bench'),
      handler: 'noop.handler',
      extensionsDir,
      env: {
        ...env,
        ...intake.agentEnv(),
        DD_LOG_LEVEL: 'error',
        ...(RSS_FLUSH_STRATEGY ? { DD_SERVERLESS_FLUSH_STRATEGY: RSS_FLUSH_STRATEGY } : {}),
      },
    });
    const rss = [];
    // Invocations during which the extension flushed (the intake got a request): the flush encodes
    // and compresses what was buffered since the last one at once, and RSS steps up there.
    const flushedAt = new Set();
    let requests = 0;
    const stop = intake.onRequest((r) => {
      if (r.method === 'POST') requests++;
    });
    try {
      await sandbox.start();
      for (let i = 0; i < RSS_INVOCATIONS; i++) {
        const before = requests;
        const r = await sandbox.invoke({ n: i });
        rss.push(r.record.extensions[0]?.rssKB ?? 0);
        if (requests > before) flushedAt.add(i);
      }
    } finally {
      stop();
      await sandbox.shutdown();
    }
    const from = rss.length >> 1;
    const half = rss.slice(from);
    // Least-squares slope over the second half, KiB per 100 invocations: once over all of it, and
    // once with the stretches between flushes fitted apart (a common slope, an offset each), which
    // leaves the steps at the flushes out.
    const segments = [[]];
    for (let i = 0; i < half.length; i++) {
      if (flushedAt.has(from + i) && segments.at(-1).length > 0) segments.push([]);
      segments.at(-1).push([i, half[i]]);
    }
    const fit = (groups) => {
      let num = 0;
      let den = 0;
      for (const g of groups) {
        if (g.length < 2) continue;
        const mx = g.reduce((a, [x]) => a + x, 0) / g.length;
        const my = g.reduce((a, [, y]) => a + y, 0) / g.length;
        for (const [x, y] of g) {
          num += (x - mx) * (y - my);
          den += (x - mx) ** 2;
        }
      }
      return den === 0 ? Number.NaN : (num / den) * 100;
    };
    const steps = segments.slice(1).map((g, i) => g[0][1] - segments[i].at(-1)[1]);
    // RSS right after each flush (the flush's own invocation), which holds nothing buffered.
    const afterFlushes = [...flushedAt].filter((i) => i >= from).map((i) => [i - from, rss[i]]);
    return {
      acrossFlushes: afterFlushes.length >= 3 ? fit([afterFlushes]) : Number.NaN,
      last: rss.at(-1),
      slope: fit([half.map((y, i) => [i, y])]),
      betweenFlushes: fit(segments),
      flushes: steps.length,
      steps: steps.reduce((a, b) => a + b, 0),
    };
  }
  const rNull = await rssRun('null');
  const rOurs = await rssRun('ours');
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
      [
        'slope between flushes, 2nd half',
        rNull.betweenFlushes.toFixed(1),
        rOurs.betweenFlushes.toFixed(1),
        '',
        'no growth',
      ],
    ],
  );
  console.log(
    `flush strategy ${RSS_FLUSH_STRATEGY ?? 'default (every 20 s after the first 20 invocations)'}: ` +
      `${rOurs.flushes} flushes in the 2nd half, RSS steps at them ${rOurs.steps.toFixed(0)} KiB in all; ` +
      `slope of the RSS right after each flush ${
        Number.isNaN(rOurs.acrossFlushes)
          ? 'n/a (fewer than 3)'
          : `${rOurs.acrossFlushes.toFixed(1)} KiB / 100 inv.`
      } (between flushes, what waits for the next one is buffered)`,
  );

  const sizes = layerSizes(work, join(work, 'opt'));
  console.log(
    `\nlayer.zip: ${(sizes.zipped / 1024).toFixed(0)} KiB zipped, ${(sizes.unzipped / 1024).toFixed(0)} KiB unzipped`,
  );
} finally {
  await intake.stop();
  rmSync(work, { recursive: true, force: true });
}

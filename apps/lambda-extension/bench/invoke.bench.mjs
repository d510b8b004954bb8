// `pnpm bench invoke`: the post-runtime duration the extension adds to each invocation (runtime
// response → every extension back on `next`), beside the testkit's null extension in the same run,
// against the testkit's loopback intake, for DD_SERVERLESS_FLUSH_STRATEGY=end and the default
// (measured after the default strategy's 20-invocation warm-up).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LambdaSandbox, NULL_EXTENSION_DIR, startIntake } from '@serverless-agent/testkit';
import { median, printTable, quantile } from '../../../bench/stats.mjs';
import { freePortEnv } from './helpers.mjs';

const INVOCATIONS = Number(process.env.INVOCATIONS ?? 200);
const WARM_UP = 20;
const work = mkdtempSync(join(tmpdir(), 'invoke-bench-'));
const intake = await startIntake();

try {
  execFileSync(process.execPath, ['scripts/build-layer.mjs', '--out', work, '--quiet']);
  execFileSync('unzip', ['-q', join(work, 'layer.zip'), '-d', join(work, 'opt')]);
  const subjects = { null: NULL_EXTENSION_DIR, ours: join(work, 'opt/extensions') };

  async function run(extensionsDir, strategy) {
    const { env } = await freePortEnv();
    const sandbox = new LambdaSandbox({
      taskRoot: join(process.cwd(), 'bench'),
      handler: 'noop.handler',
      extensionsDir,
      env: {
        ...env,
        ...intake.agentEnv(),
        DD_LOG_LEVEL: 'error',
        ...(process.env.BENCH_PROC_METRICS === 'false' ? { DD_LAMBDA_PROC_ENHANCED_METRICS: 'false' } : {}),
        ...(strategy === 'default' ? {} : { DD_SERVERLESS_FLUSH_STRATEGY: strategy }),
      },
    });
    const post = [];
    try {
      await sandbox.start();
      for (let i = 0; i < INVOCATIONS; i++) {
        const r = await sandbox.invoke({ n: i });
        if (i >= WARM_UP) post.push(r.record.postRuntimeDurationMs);
      }
    } finally {
      await sandbox.shutdown();
    }
    return post;
  }

  const rows = [];
  for (const [strategy, target] of [
    ['end', 'null + 25 ms + 3 ms'],
    ['default', 'null + 0.5 ms'],
  ]) {
    const nul = await run(subjects.null, strategy);
    const ours = await run(subjects.ours, strategy);
    const [a, b] = [median(ours), median(nul)];
    rows.push([
      strategy,
      b.toFixed(3),
      a.toFixed(3),
      `${a - b >= 0 ? '+' : ''}${(a - b).toFixed(3)}`,
      quantile(ours, 0.95).toFixed(3),
      target,
    ]);
  }
  console.log(
    `\npost-runtime duration per invocation, medians over ${INVOCATIONS - WARM_UP} invocations (ms)`,
  );
  printTable(['strategy', 'null extension', 'serverless-agent', 'delta', 'ours p95', 'target'], rows);
} finally {
  await intake.stop();
  rmSync(work, { recursive: true, force: true });
}

// spawn→register and spawn→ready (first `event/next`) of an extension built from this package
// alone (examples/extension.cjs), against the testkit's null extension, in the same run, in the
// testkit's LambdaSandbox. Rounds alternate so machine noise hits both alike.
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LambdaSandbox, NULL_EXTENSION_DIR, SAMPLE_FUNCTION_DIR } from '@serverless-agent/testkit';
import { median, printTable, quantile, ratio } from '../../../bench/stats.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 30);
const example = fileURLToPath(new URL('../examples/extension.cjs', import.meta.url));

// Lambda knows an extension by its file name: expose the example as `datadog-agent`.
const ours = mkdtempSync(join(tmpdir(), 'lifecycle-bench-'));
symlinkSync(example, join(ours, 'datadog-agent'));

async function once(extensionsDir) {
  const sandbox = new LambdaSandbox({
    taskRoot: SAMPLE_FUNCTION_DIR,
    handler: 'index.handler',
    extensionsDir,
    freeze: false,
    env: {
      SERVERLESS_AGENT_TELEMETRY_PORT: '0',
      SERVERLESS_AGENT_HOOKS_PORT: '0',
    },
  });
  try {
    const init = await sandbox.start();
    const ext = init.extensions[0];
    if (init.status !== 'success' || !ext?.spawnToRegisterMs) throw new Error(`init ${init.status}`);
    return { register: ext.spawnToRegisterMs, ready: ext.spawnToFirstNextMs };
  } finally {
    await sandbox.shutdown();
  }
}

const results = { null: { register: [], ready: [] }, lifecycle: { register: [], ready: [] } };
// One unmeasured round each, so both start from warm disk caches.
await once(NULL_EXTENSION_DIR);
await once(ours);
for (let i = 0; i < ROUNDS; i++) {
  for (const [name, dir] of i % 2
    ? [
        ['null', NULL_EXTENSION_DIR],
        ['lifecycle', ours],
      ]
    : [
        ['lifecycle', ours],
        ['null', NULL_EXTENSION_DIR],
      ]) {
    const r = await once(dir);
    results[name].register.push(r.register);
    results[name].ready.push(r.ready);
  }
}
rmSync(ours, { recursive: true, force: true });

const fmt = (v) => v.toFixed(1);
const row = (name, key) => {
  const v = results[name][key];
  return [name, key, fmt(median(v)), fmt(quantile(v, 0.9)), fmt(Math.min(...v))];
};
console.log(`LambdaSandbox, ${ROUNDS} rounds each, alternating; milliseconds from spawn`);
printTable(
  ['extension', 'to', 'median', 'p90', 'min'],
  [row('null', 'register'), row('lifecycle', 'register'), row('null', 'ready'), row('lifecycle', 'ready')],
);
const reg = ratio(median(results.lifecycle.register), median(results.null.register));
const ready = ratio(median(results.lifecycle.ready), median(results.null.ready));
console.log(`\nratio lifecycle/null, spawn→register: ${reg.toFixed(3)} (target ≤ 1.10)`);
console.log(
  `ratio lifecycle/null, spawn→ready:    ${ready.toFixed(3)} (ready = listeners bound, telemetry subscribed, first next)`,
);

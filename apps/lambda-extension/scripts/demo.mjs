#!/usr/bin/env node
// The extension's demo: builds the layer, runs a sample function wrapped by the real
// datadog-lambda-js and dd-trace in the testkit's LambdaSandbox with the layer at /opt (so both
// libraries find /opt/extensions/datadog-agent, on the fixed ports), invokes it a few times and
// prints what arrived at the local intake: metrics with values, the span tree, the log lines and the
// measured overheads beside the null extension. With DD_API_KEY set it ships to Datadog at DD_SITE
// instead (and prints what it sent).
//
//   node apps/lambda-extension/scripts/demo.mjs [--invocations N]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  LambdaSandbox,
  mountNamespaceSupported,
  NULL_EXTENSION_DIR,
  startIntake,
} from '@serverless-agent/testkit';

const app = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: { invocations: { type: 'string', default: '3' } },
});
const invocations = Math.max(1, Number(values.invocations) || 3);
const out = (line = '') => process.stdout.write(`${line}\n`);

if (!mountNamespaceSupported()) {
  out(
    'This machine cannot make a private mount namespace (unshare): the demo needs one to put the layer at /opt.',
  );
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), 'demo-'));
const real = Boolean(process.env.DD_API_KEY);
const intake = real ? undefined : await startIntake();
try {
  execFileSync(process.execPath, [join(app, 'scripts/build-layer.mjs'), '--out', work]);
  execFileSync('unzip', ['-q', join(work, 'layer.zip'), '-d', join(work, 'opt')]);
  const env = real
    ? { DD_API_KEY: process.env.DD_API_KEY, DD_SITE: process.env.DD_SITE ?? 'datadoghq.com' }
    : intake.agentEnv();

  async function runWith(extensionsDir, label) {
    const sandbox = new LambdaSandbox({
      taskRoot: join(app, 'test/fixtures/dd-function'),
      handler: 'index.handler',
      extensionsDir,
      optDir: join(work, 'opt'),
      functionName: 'serverless-agent-demo',
      env: {
        ...env,
        DD_SERVICE: 'demo',
        DD_SERVERLESS_FLUSH_STRATEGY: 'end',
        DD_TRACE_STARTUP_LOGS: 'false',
      },
    });
    const init = await sandbox.start();
    const records = [];
    for (let n = 0; n < invocations; n++) records.push((await sandbox.invoke({ n, workMs: 5 + n })).record);
    await sandbox.shutdown();
    return { label, init, records };
  }

  out(
    `serverless-agent demo: ${invocations} invocations, shipping to ${real ? `Datadog (${env.DD_SITE})` : `the local intake ${intake.url}`}`,
  );
  const ours = await runWith(join(work, 'opt/extensions'), 'serverless-agent');
  const peer = await runWith(NULL_EXTENSION_DIR, 'null extension');

  if (intake) {
    out('\nmetrics (distributions: points, sum; enhanced metrics summed over the invocations)');
    const byName = new Map();
    for (const d of intake.distributions()) {
      const e = byName.get(d.metric) ?? { count: 0, sum: 0, tags: d.tags };
      e.count += d.count;
      e.sum += d.sum;
      byName.set(d.metric, e);
    }
    for (const [name, e] of byName) {
      const own = name.startsWith('aws.lambda.enhanced.') ? '' : `  [${e.tags.join(', ')}]`;
      out(`  ${name.padEnd(46)} ${String(e.count).padStart(3)} × sum ${e.sum.toFixed(3)}${own}`);
    }
    for (const m of intake.metrics()) out(`  ${m.metric.padEnd(46)} ${m.value}`);
    out('\nspans');
    const spans = intake.spans();
    const children = new Map();
    for (const s of spans) children.set(s.parentID, [...(children.get(s.parentID) ?? []), s]);
    const ids = new Set(spans.map((s) => s.spanID));
    const print = (s, depth) => {
      out(
        `  ${'  '.repeat(depth)}${s.name} (${s.resource}) ${(Number(s.duration) / 1e6).toFixed(2)} ms  trace ${s.traceID}`,
      );
      for (const c of children.get(s.spanID) ?? []) print(c, depth + 1);
    };
    for (const root of spans.filter((s) => !ids.has(s.parentID))) print(root, 0);
    out('\nlogs');
    for (const l of intake.logs()) {
      const m = typeof l.message === 'string' ? l.message : (l.message?.message ?? JSON.stringify(l.message));
      if (!String(m).includes('"status":"debug"')) out(`  ${String(m).replace(/\s+$/, '').slice(0, 140)}`);
    }
  }

  out('\noverheads (ms)');
  const row = (r) => {
    const post = r.records.map((x) => x.postRuntimeDurationMs);
    return `  ${r.label.padEnd(18)} init ${r.init.durationMs.toFixed(1).padStart(7)}  first invocation ${r.records[0].durationMs.toFixed(1).padStart(7)}  post-runtime ${post.map((p) => p.toFixed(1)).join(' / ')}`;
  };
  out(row(ours));
  out(row(peer));
} finally {
  await intake?.stop();
  rmSync(work, { recursive: true, force: true });
}

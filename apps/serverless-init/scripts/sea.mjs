#!/usr/bin/env node
// Builds dist/datadog-init, a Node single-executable application: the bundled app
// (dist/datadog-init.cjs, with dist/datadog-init-agent.cjs as an asset) injected into a copy of the node binary, so it runs in images without
// Node. Reuses the previous build when neither the bundle nor the node binary changed.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const app = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(app, 'dist');
const bundle = join(dist, 'datadog-init.cjs');
const agent = join(dist, 'datadog-init-agent.cjs');
const logs = join(dist, 'datadog-init-logs.cjs');
const out = join(dist, 'datadog-init');
const stamp = join(dist, 'datadog-init.stamp');
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const key = JSON.stringify({
  node: process.execPath,
  version: process.version,
  nodeMtime: statSync(process.execPath).mtimeMs,
  bundle: statSync(bundle).mtimeMs,
  size: statSync(bundle).size,
  agent: statSync(agent).mtimeMs,
  agentSize: statSync(agent).size,
  logs: statSync(logs).mtimeMs,
  logsSize: statSync(logs).size,
});
if (existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8') === key) {
  console.log('dist/datadog-init: up to date');
  process.exit(0);
}

const tmp = `${out}.${process.pid}.tmp`;
const blob = join(dist, `sea-prep.${process.pid}.blob`);
const config = join(dist, `sea-config.${process.pid}.json`);
try {
  writeFileSync(
    config,
    JSON.stringify({
      main: bundle,
      output: blob,
      // The agent is compiled only after the child is spawned (see src/load-agent.ts).
      assets: { 'datadog-init-agent.cjs': agent, 'datadog-init-logs.cjs': logs },
      disableExperimentalSEAWarning: true,
      // A code cache compiled at build time: less parsing before the child is spawned.
      useCodeCache: true,
    }),
  );
  execFileSync(process.execPath, ['--experimental-sea-config', config], { stdio: 'pipe' });
  copyFileSync(process.execPath, tmp);
  chmodSync(tmp, 0o755);
  const postject = createRequire(import.meta.url).resolve('postject/dist/cli.js');
  execFileSync(process.execPath, [postject, tmp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', FUSE], {
    stdio: 'pipe',
  });
  renameSync(tmp, out);
  writeFileSync(stamp, key);
  console.log(
    `dist/datadog-init: ${(statSync(out).size / 1024 / 1024).toFixed(1)} MiB (node ${process.version})`,
  );
} finally {
  rmSync(tmp, { force: true });
  rmSync(blob, { force: true });
  rmSync(config, { force: true });
}

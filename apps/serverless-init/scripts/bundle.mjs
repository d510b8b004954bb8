#!/usr/bin/env node
// Bundles datadog-init into three CommonJS files in dist/: datadog-init.cjs, the entry behind the
// package's `bin` (only what the process needs before the child is spawned),
// datadog-init-agent.cjs, the agent it loads afterwards (the packages and their dependencies), and
// datadog-init-logs.cjs, the script of the thread that turns the command's output into log events.
// Both are the inputs of the single-executable build. Workspace packages are bundled from their
// sources (the `@serverless-agent/source` condition).
import { renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const app = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(app, 'dist');

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  conditions: ['@serverless-agent/source'],
  define: { __DATADOG_INIT_BUNDLED__: 'true', 'import.meta.url': '__datadog_init_url' },
  minifySyntax: true,
  minifyWhitespace: true,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
};

// The entry never reaches the unbundled import of the agent: keep it out of this file.
const agentExternal = {
  name: 'agent-external',
  setup(b) {
    b.onResolve({ filter: /^\.\/agent\.js$/ }, (args) => ({ path: args.path, external: true }));
  },
};

// CommonJS has no import.meta: packages that resolve files relative to themselves get this file's URL.
// Only the agent needs it; the entry stays free of anything not needed before the spawn.
const importMetaUrl = {
  js: 'var __datadog_init_url = require("node:url").pathToFileURL(typeof __filename === "string" ? __filename : process.execPath).href;',
};

async function bundle(entry, name, plugins = [], banner = undefined) {
  const out = join(dist, name);
  const tmp = `${out}.${process.pid}.tmp`;
  const result = await build({
    ...common,
    entryPoints: [join(app, 'src', entry)],
    outfile: tmp,
    plugins,
    ...(banner ? { banner } : {}),
  });
  // Tests build in parallel: each file appears whole or not at all.
  renameSync(tmp, out);
  const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  console.log(`dist/${name}: ${(bytes / 1024).toFixed(0)} KiB`);
}

await bundle('log-worker-entry.ts', 'datadog-init-logs.cjs');
await bundle('agent.ts', 'datadog-init-agent.cjs', [], importMetaUrl);
await bundle('bin.ts', 'datadog-init.cjs', [agentExternal]);

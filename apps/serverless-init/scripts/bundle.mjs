#!/usr/bin/env node
// Bundles the entrypoint and everything it loads into one CommonJS file, dist/datadog-init.cjs:
// the script behind the package's `bin`, and the input of the single-executable build.
// Workspace packages are bundled from their sources (the `@serverless-agent/source` condition).
import { renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const app = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(app, 'dist', 'datadog-init.cjs');
const tmp = `${out}.${process.pid}.tmp`;

const result = await build({
  entryPoints: [join(app, 'src', 'bin.ts')],
  outfile: tmp,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  conditions: ['@serverless-agent/source'],
  minifySyntax: true,
  minifyWhitespace: true,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
});
// Tests build in parallel: the file appears whole or not at all.
renameSync(tmp, out);
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.log(`dist/datadog-init.cjs: ${(bytes / 1024).toFixed(0)} KiB`);

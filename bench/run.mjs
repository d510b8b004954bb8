#!/usr/bin/env node
// `pnpm bench [filter...]`: runs every benchmark script (`bench/*.bench.mjs` and
// `{packages,apps}/*/bench/*.bench.mjs`), or those whose name contains one of the filters, one
// after another (benchmarks must not compete for the two cores). Each runs with its package folder
// as working directory, against the built `dist` (the `./dev` entry point builds first).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const filters = process.argv.slice(2);

function benchesIn(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.bench.mjs'))
    .map((f) => join(dir, f));
}

const scripts = [
  ...benchesIn(join(root, 'bench')),
  ...['packages', 'apps'].flatMap((group) =>
    readdirSync(join(root, group)).flatMap((pkg) => benchesIn(join(root, group, pkg, 'bench'))),
  ),
].filter((file) => {
  if (filters.length === 0) return true;
  const name = relative(root, file);
  return filters.some((f) => name.includes(f));
});

if (scripts.length === 0) {
  console.error(`no benchmark matches ${filters.join(', ') || '(any)'}`);
  process.exit(1);
}

let failed = 0;
for (const script of scripts) {
  const cwd = basename(dirname(script)) === 'bench' ? dirname(dirname(script)) : root;
  console.log(`\n=== ${relative(root, script)}`);
  const r = spawnSync(process.execPath, ['--expose-gc', script], { cwd, stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.log(`!!! ${relative(root, script)} exited with ${r.status ?? r.signal}`);
  }
}
process.exit(failed === 0 ? 0 : 1);

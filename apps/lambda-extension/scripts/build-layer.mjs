#!/usr/bin/env node
// `pnpm --filter @serverless-agent/lambda-extension build:layer [-- --with-node] [--out DIR] [--zip builtin]`
// Bundles the app from the workspace sources (nothing needs building first) and writes
// dist/layer.zip:
//   extensions/datadog-agent          the launcher (POSIX sh, 0755)
//   serverless-agent/datadog-agent.cjs the entry: registers, then requires agent.cjs
//   serverless-agent/agent.cjs         the agent up to the first `next` (lifecycle)
//   serverless-agent/components.cjs    the heavy components, loaded after the first `next`
//   datadog_wrapper                   AWS_LAMBDA_EXEC_WRAPPER for the Datadog tracers (0755)
// --with-node also writes dist/layer-with-node.zip, adding this machine's Node binary as
// serverless-agent/node/bin/node (and its version in serverless-agent/node/VERSION) for
// functions on non-Node runtimes.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { writeZip } from './zip.mjs';

const app = join(dirname(fileURLToPath(import.meta.url)), '..');
// `pnpm build:layer -- --with-node` passes the `--` on.
const argv = process.argv.slice(2).filter((a) => a !== '--');
const { values } = parseArgs({
  args: argv,
  options: {
    'with-node': { type: 'boolean', default: false },
    out: { type: 'string', default: join(app, 'dist') },
    zip: { type: 'string', default: 'auto' },
    quiet: { type: 'boolean', default: false },
  },
  allowPositionals: true,
});
const out = resolve(values.out);
const say = (line) => values.quiet || console.log(line);

function hasZipBinary() {
  if (values.zip === 'builtin') return false;
  const r = spawnSync('zip', ['-v'], { stdio: 'ignore' });
  return r.status === 0;
}

// A fixed time for every file, so the same sources give the same archive.
const EPOCH = new Date('1980-01-01T00:00:00Z');

function stamp(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) stamp(path);
    utimesSync(path, EPOCH, EPOCH);
  }
  utimesSync(dir, EPOCH, EPOCH);
}

function zipDir(dir, zipPath) {
  rmSync(zipPath, { force: true });
  stamp(dir);
  if (hasZipBinary()) {
    // -X: no uid/gid extra fields; the Unix modes are kept in the external attributes.
    const r = spawnSync('zip', ['-X', '-r', '-q', '-9', zipPath, '.'], { cwd: dir, stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`zip exited with ${r.status}`);
  } else writeZip(dir, zipPath);
}

function sizeOf(dir) {
  let n = 0;
  for (const name of readdirSync(dir)) {
    const st = statSync(join(dir, name));
    n += st.isDirectory() ? sizeOf(join(dir, name)) : st.size;
  }
  return n;
}

const mb = (n) => `${(n / 1024 / 1024).toFixed(2)} MB`;

// Leaves a module out of a bundle, required at run time from the file beside it.
const apart = (filter, path) => ({
  name: `apart:${path}`,
  setup(b) {
    b.onResolve({ filter }, () => ({ path, external: true }));
  },
});

async function stage(dir) {
  mkdirSync(join(dir, 'extensions'), { recursive: true });
  mkdirSync(join(dir, 'serverless-agent'), { recursive: true });
  const common = {
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // Workspace packages resolve to their sources: a fresh clone needs no build first.
    conditions: ['@serverless-agent/source'],
    minify: true,
    legalComments: 'eof',
    // Sources written as ES modules may use import.meta.url (createRequire); in a CommonJS file it
    // is that file's URL.
    define: { 'import.meta.url': '__bundle_url' },
    banner: { js: 'var __bundle_url=require("node:url").pathToFileURL(__filename).href;' },
    logLevel: 'warning',
  };
  // The entry registers with built-ins only; node compiles a whole file before running any of it,
  // so the agent (fastify, undici, ...) is a second file, required once the register request is out.
  await build({
    ...common,
    entryPoints: [join(app, 'src/main.ts')],
    outfile: join(dir, 'serverless-agent/datadog-agent.cjs'),
    plugins: [apart(/^\.\/agent\.js$/, './agent.cjs')],
  });
  // The agent (lifecycle included) runs up to the first `next`; the heavy components are a third
  // file, compiled after it.
  await build({
    ...common,
    entryPoints: [join(app, 'src/agent.ts')],
    outfile: join(dir, 'serverless-agent/agent.cjs'),
    plugins: [apart(/^\.\/components\.js$/, './components.cjs')],
  });
  await build({
    ...common,
    entryPoints: [join(app, 'src/components.ts')],
    outfile: join(dir, 'serverless-agent/components.cjs'),
  });
  copyFileSync(join(app, 'layer/datadog-agent'), join(dir, 'extensions/datadog-agent'));
  copyFileSync(join(app, 'layer/datadog_wrapper'), join(dir, 'datadog_wrapper'));
  chmodSync(join(dir, 'extensions/datadog-agent'), 0o755);
  chmodSync(join(dir, 'datadog_wrapper'), 0o755);
  chmodSync(join(dir, 'serverless-agent/datadog-agent.cjs'), 0o644);
  chmodSync(join(dir, 'serverless-agent/agent.cjs'), 0o644);
  chmodSync(join(dir, 'serverless-agent/components.cjs'), 0o644);
}

mkdirSync(out, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'layer-'));
try {
  const plain = join(work, 'layer');
  await stage(plain);
  zipDir(plain, join(out, 'layer.zip'));
  say(`layer.zip: ${mb(statSync(join(out, 'layer.zip')).size)} zipped, ${mb(sizeOf(plain))} unzipped`);
  if (values['with-node']) {
    const withNode = join(work, 'layer-with-node');
    await stage(withNode);
    mkdirSync(join(withNode, 'serverless-agent/node/bin'), { recursive: true });
    copyFileSync(process.execPath, join(withNode, 'serverless-agent/node/bin/node'));
    chmodSync(join(withNode, 'serverless-agent/node/bin/node'), 0o755);
    writeFileSync(join(withNode, 'serverless-agent/node/VERSION'), `${process.versions.node}\n`);
    zipDir(withNode, join(out, 'layer-with-node.zip'));
    say(
      `layer-with-node.zip (node ${process.versions.node}, ${process.arch}): ${mb(statSync(join(out, 'layer-with-node.zip')).size)} zipped, ${mb(sizeOf(withNode))} unzipped`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

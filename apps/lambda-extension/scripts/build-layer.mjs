#!/usr/bin/env node
// `pnpm --filter @serverless-agent/lambda-extension build:layer [-- --with-node] [--out DIR] [--zip builtin]`
// Bundles the app from the workspace sources (nothing needs building first) and writes
// dist/layer.zip:
//   extensions/datadog-agent          the launcher (POSIX sh, 0755)
//   serverless-agent/datadog-agent.cjs the entry: registers, binds the early sockets, subscribes, sends
//                                      the first `next`, then loads agent.cjs
//   serverless-agent/agent.cjs         the agent (lifecycle), which takes over from the entry
//   serverless-agent/components.cjs    the heavy components, loaded after the first `next`
//   serverless-agent/fastify.cjs       fastify, loaded on the first request the hot trace routes leave to it
//   serverless-agent/*.cache           V8 code caches of agent.cjs, components.cjs and fastify.cjs
//   serverless-agent/yaml.cjs          the YAML parser, loaded only when datadog.yaml exists
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
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
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
    // Prints what the components bundle is made of, by package (esbuild's metafile).
    analyze: { type: 'boolean', default: false },
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

const mb = (n) => `${(n / 1024 / 1024).toFixed(2)} MiB`;

// The launcher's node flags: the code caches are only taken by a node started with the same ones.
const NODE_FLAGS = launcherFlags();

function launcherFlags() {
  const text = readFileSync(join(app, 'layer/datadog-agent'), 'utf8');
  const m = /^NODE_FLAGS="([^"]*)"$/m.exec(text);
  if (!m) throw new Error('layer/datadog-agent: no NODE_FLAGS="..." line');
  return m[1].split(' ').filter(Boolean);
}

// The bundles that load later, from serverless-agent/NAME.cjs with the code cache beside it.
const LATER = { './agent.js': 'agent', './components.js': 'components' };
const loader = join(app, 'layer/load-cached.cjs');

// `import('./agent.js')` and `import('./components.js')` load the next bundle through the cached
// loader; `yaml` (read only when datadog.yaml exists) is a file of its own, required as is.
const later = (names) => ({
  name: 'later-bundles',
  setup(b) {
    b.onResolve({ filter: /^\.\/(agent|components)\.js$/ }, (a) =>
      names.includes(a.path) ? { path: a.path, namespace: 'later' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'later' }, (a) => ({
      contents: `module.exports = require(${JSON.stringify(loader)}).loadBundle(__dirname, ${JSON.stringify(LATER[a.path])});`,
      resolveDir: app,
      loader: 'js',
    }));
    // A `require`, not an `import()`: the agent runs as a vm.Script (layer/load-cached.cjs), where a
    // dynamic import has no loader to call and throws.
    b.onResolve({ filter: /^yaml$/ }, () => ({ path: 'yaml', namespace: 'yaml-file' }));
    b.onLoad({ filter: /.*/, namespace: 'yaml-file' }, () => ({
      contents: 'module.exports = require("./yaml.cjs");',
      loader: 'js',
    }));
    b.onResolve({ filter: /^\.\/yaml\.cjs$/ }, () => ({ path: './yaml.cjs', external: true }));
  },
});

// `undici` is the slim entry (layer/undici-slim.cjs), whose own requires resolve from the
// forwarder, the package that depends on undici.
const packageDir = (name) =>
  dirname(createRequire(join(app, 'package.json')).resolve(`${name}/package.json`));
const traceIntakeDir = packageDir('@serverless-agent/trace-intake');
const forwarderDir = packageDir('@serverless-agent/forwarder');
// Modules the components' packages require but the layer never runs, each replaced by a module
// that throws if it is ever required: msgpackr's optional native decoder (found by probing for a
// prebuilt addon, detect-libc starting child_process; the layer ships none, so msgpackr decodes in
// JS); pino, which fastify requires only for `logger: true` (the receiver runs with `logger:
// false`); light-my-request, only for `app.inject`.
const ABSENT = {
  'msgpackr-extract': 'msgpackr decodes in JavaScript',
  pino: 'the trace receiver runs fastify with logger: false',
  'light-my-request': 'fastify inject() is not used',
};
// Modules replaced by a smaller one of layer/ that does what the layer needs of them.
const REPLACED = {
  '@fastify/ajv-compiler': 'layer/fastify-no-schemas.cjs',
  '@fastify/fast-json-stringify-compiler': 'layer/fastify-no-schemas.cjs',
};
// Modules fastify requires at load but uses only on paths the layer never takes, loaded on their
// first use instead: `node:http2`, `node:https` and `node:dns` (lib/server.js: an HTTP/2 or TLS
// server, `listen` on a host name; the receiver routes requests of the agent's own plain HTTP
// server), semver (lib/plugin-utils.js: a plugin's declared fastify version; its module compiles
// some forty regular expressions at load). Together about 20 ms of CPU at every cold start. And
// `node:fs/promises` as logs' file tailer requires it (serverless-init tails log files; the layer
// never does; with the readline modules it loads, about 1.5 ms): `named`, since an ES module
// imports it by name, which copies the names at import (their values are read on use).
const LAZY = [
  { importer: /[\\/]fastify[\\/]lib[\\/]server\.js$/, names: ['node:http2', 'node:https', 'node:dns'] },
  { importer: /[\\/]fastify[\\/]lib[\\/]plugin-utils\.js$/, names: ['semver'] },
  {
    importer: /[\\/]packages[\\/]logs[\\/]src[\\/](glob|file-tailer)\.ts$/,
    names: ['node:fs/promises'],
    named: true,
  },
];
// A lazy module's exports, as a Proxy that loads the module on first use.
const PROXY_EXPORTS = [
  'module.exports = new Proxy({}, {',
  '  get: (_, k) => load()[k],',
  '  has: (_, k) => k in load(),',
  '  ownKeys: () => Reflect.ownKeys(load()),',
  '  getOwnPropertyDescriptor: (_, k) => {',
  '    const d = Reflect.getOwnPropertyDescriptor(load(), k);',
  '    if (d) d.configurable = true;',
  '    return d;',
  '  },',
  '});',
];
// A lazy built-in's exports as getters, one per name this node's module exports.
const namedGetters = (builtin) => [
  `for (const k of ${JSON.stringify(Object.keys(createRequire(import.meta.url)(builtin)))})`,
  '  Object.defineProperty(exports, k, { enumerable: true, get: () => load()[k] });',
];
const exactly = (names) => new RegExp(`^(${names.map((n) => n.replace(/[/.]/g, '\\$&')).join('|')})$`);
const slimDependencies = {
  name: 'slim-dependencies',
  setup(b) {
    b.onResolve({ filter: exactly(Object.keys(ABSENT)) }, (a) => ({ path: a.path, namespace: 'absent' }));
    b.onLoad({ filter: /.*/, namespace: 'absent' }, (a) => ({
      contents: `throw new Error(${JSON.stringify(`${a.path} is not in the layer (${ABSENT[a.path]})`)});`,
      loader: 'js',
    }));
    for (const { importer, names, named = false } of LAZY) {
      b.onResolve({ filter: exactly(names) }, (a) =>
        importer.test(a.importer) && a.pluginData !== 'lazy'
          ? { path: a.path, namespace: 'lazy', pluginData: { resolveDir: a.resolveDir, named } }
          : undefined,
      );
    }
    // The module's exports, required at their first use: the requiring module keeps the object and
    // reads its properties when it calls them. A built-in imported by name gets one getter per
    // export (the names of this node's module): the names are there at import, nothing loads.
    b.onLoad({ filter: /.*/, namespace: 'lazy' }, (a) => ({
      contents: [
        'let m;',
        `const load = () => (m ??= require(${JSON.stringify(a.path)}));`,
        ...(a.pluginData.named ? namedGetters(a.path) : PROXY_EXPORTS),
      ].join('\n'),
      resolveDir: a.pluginData.resolveDir,
      pluginData: 'lazy',
      loader: 'js',
    }));
    b.onResolve({ filter: exactly(Object.keys(REPLACED)) }, (a) => ({ path: join(app, REPLACED[a.path]) }));
    // undici's HTTP/2 client: the forwarder speaks HTTP/1.1 (layer/undici-no-h2.cjs says why).
    b.onResolve({ filter: /^\.\/client-h2\.js$/ }, (a) =>
      /[\\/]undici[\\/]lib[\\/]dispatcher$/.test(a.resolveDir)
        ? { path: join(app, 'layer/undici-no-h2.cjs') }
        : undefined,
    );
    // undici's HTTP/1 parser, compiled by V8's baseline compiler only (layer/llhttp-baseline.cjs says why).
    b.onResolve({ filter: /^\.\.\/llhttp\/llhttp(_simd)?-wasm\.js$/ }, (a) =>
      /[\\/]undici[\\/]lib[\\/]dispatcher$/.test(a.resolveDir)
        ? { path: join(a.resolveDir, a.path), namespace: 'llhttp-baseline' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'llhttp-baseline' }, (a) => ({
      contents: `module.exports = require(${JSON.stringify(join(app, 'layer/llhttp-baseline.cjs'))})(require(${JSON.stringify(a.path)}), ${JSON.stringify(process.versions.v8)});`,
      resolveDir: app,
      loader: 'js',
    }));
    b.onResolve({ filter: /^undici$/ }, () => ({ path: join(app, 'layer/undici-slim.cjs') }));
    // fastify is a bundle of its own (fastify.cjs, with its code cache), loaded when trace-intake
    // first builds its router: the hot trace routes need none of it, so a function that sends only
    // traces never loads it.
    b.onResolve({ filter: /^fastify$/ }, (a) =>
      /[\\/]packages[\\/]trace-intake[\\/]src[\\/]/.test(a.importer)
        ? { path: 'fastify', namespace: 'fastify-later' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'fastify-later' }, () => ({
      contents: [
        'let fastify;',
        'module.exports = function lazyFastify(...args) {',
        `  fastify ??= require(${JSON.stringify(loader)}).loadBundle(__dirname, 'fastify');`,
        '  return fastify(...args);',
        '};',
      ].join('\n'),
      resolveDir: app,
      loader: 'js',
    }));
    // The warm-up's msgpack encoder is trace-intake's.
    b.onResolve({ filter: /^msgpackr$/ }, async (a) => {
      if (a.resolveDir !== app || a.pluginData === 'from-trace-intake') return undefined;
      const r = await b.resolve('msgpackr', {
        resolveDir: traceIntakeDir,
        kind: a.kind,
        pluginData: 'from-trace-intake',
      });
      return r.errors.length > 0 ? { errors: r.errors } : { path: r.path };
    });
    b.onResolve({ filter: /^undici\// }, async (a) => {
      if (a.pluginData === 'from-forwarder') return undefined;
      const r = await b.resolve(a.path, {
        resolveDir: forwarderDir,
        kind: a.kind,
        pluginData: 'from-forwarder',
      });
      return r.errors.length > 0 ? { errors: r.errors } : { path: r.path };
    });
    // dogstatsd writes its protobuf payloads with protobufjs's Writer alone: its minimal build has
    // it, without the reflection, the .proto parser and the descriptors of the full one.
    b.onResolve({ filter: /^protobufjs$/ }, async (a) => {
      if (!/[\\/]packages[\\/]dogstatsd[\\/]src$/.test(a.resolveDir)) return undefined;
      const r = await b.resolve('protobufjs/minimal', { resolveDir: a.resolveDir, kind: a.kind });
      return r.errors.length > 0 ? { errors: r.errors } : { path: r.path };
    });
  },
};

/**
 * Writes NAME.cache beside each later bundle (scripts/write-code-cache.cjs, run by a node with the
 * launcher's flags: the bundles loaded and one invocation run through the components), then has a
 * second node check that V8 takes the caches.
 */
function writeCodeCaches(dir) {
  const bundles = join(dir, 'serverless-agent');
  for (const check of [false, true]) {
    const r = spawnSync(
      process.execPath,
      [...NODE_FLAGS, join(app, 'scripts/write-code-cache.cjs'), bundles, ...(check ? ['--check'] : [])],
      { stdio: 'inherit', env: { ...process.env, NODE_OPTIONS: '' } },
    );
    if (r.status !== 0) throw new Error(`code cache: ${check ? 'checking' : 'writing'} failed (${r.status})`);
  }
}

/** The components bundle's bytes by package (`--analyze`), largest first. */
function printPackages(metafile) {
  const output = Object.values(metafile.outputs)[0];
  const sizes = new Map();
  for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
    const m = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(path);
    const name = m
      ? m[1]
      : path.startsWith('layer/')
        ? path
        : (/^(?:\.\.\/)*(packages\/[^/]+|src)/.exec(path)?.[1] ?? path);
    sizes.set(name, (sizes.get(name) ?? 0) + bytesInOutput);
  }
  for (const [name, n] of [...sizes].sort((a, b) => b[1] - a[1]))
    say(`${String(Math.round(n / 1024)).padStart(6)} KB  ${name}`);
}

const LAYER_FILES = [
  'datadog-agent.cjs',
  'agent.cjs',
  'agent.cache',
  'components.cjs',
  'components.cache',
  'fastify.cjs',
  'fastify.cache',
  'yaml.cjs',
];

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
  const to = (name) => join(dir, 'serverless-agent', name);
  // The entry registers with built-ins only; node compiles a whole file before running any of it,
  // so the agent is a second file, loaded once the first `next` is out.
  await build({
    ...common,
    entryPoints: [join(app, 'src/main.ts')],
    outfile: to('datadog-agent.cjs'),
    plugins: [later(['./agent.js'])],
  });
  // The agent (lifecycle included) takes over from the entry once its first `next` is out (or sends
  // it itself when the entry did not); the heavy components are a third file, loaded after it.
  await build({
    ...common,
    entryPoints: [join(app, 'src/agent.ts')],
    outfile: to('agent.cjs'),
    plugins: [later(['./components.js'])],
  });
  // The components' packages are imported at the bundle's top level (in the sources they are
  // dynamic imports): evaluating them while the code cache is made puts what their start compiles
  // into the cache.
  const packages = ['dogstatsd', 'trace-intake', 'flush-strategy', 'forwarder', 'logs'];
  const components = await build({
    ...common,
    stdin: {
      contents: [
        ...packages.map((p) => `import '@serverless-agent/${p}';`),
        "export * from './src/components.ts';",
        // For the build's warm-up invocation (scripts/write-code-cache.cjs).
        "export { bindEarlyListeners, closeEarlyListeners } from './src/early.ts';",
        "export { pack } from 'msgpackr';",
      ].join('\n'),
      resolveDir: app,
      sourcefile: 'components-entry.ts',
      loader: 'ts',
    },
    outfile: to('components.cjs'),
    plugins: [slimDependencies],
    metafile: values.analyze,
  });
  if (components.metafile) printPackages(components.metafile);
  const fastify = await build({
    ...common,
    stdin: { contents: "module.exports = require('fastify');", resolveDir: traceIntakeDir, loader: 'js' },
    outfile: to('fastify.cjs'),
    plugins: [slimDependencies],
    metafile: values.analyze,
  });
  if (fastify.metafile) {
    say('fastify.cjs:');
    printPackages(fastify.metafile);
  }
  await build({
    ...common,
    entryPoints: [createRequire(join(app, 'package.json')).resolve('yaml')],
    outfile: to('yaml.cjs'),
  });
  writeCodeCaches(dir);
  copyFileSync(join(app, 'layer/datadog-agent'), join(dir, 'extensions/datadog-agent'));
  copyFileSync(join(app, 'layer/datadog_wrapper'), join(dir, 'datadog_wrapper'));
  chmodSync(join(dir, 'extensions/datadog-agent'), 0o755);
  chmodSync(join(dir, 'datadog_wrapper'), 0o755);
  for (const f of LAYER_FILES) chmodSync(to(f), 0o644);
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

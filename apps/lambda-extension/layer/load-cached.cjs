// Loads one of the layer's bundles (serverless-agent/NAME.cjs) as CommonJS, compiled from the V8
// code cache written beside it at build time (NAME.cache): compiling the bundle from source, and
// compiling its functions lazily as they first run, is most of the CPU the agent spends at start,
// and on a 1-vCPU Lambda that CPU is taken from the function's own init. V8 rejects a cache made
// by another V8 version or with other flags (the bundle then compiles as usual, only slower); the
// build makes it with the node and the flags the launcher uses.
// Built-ins only: bundled into the entry and the agent by scripts/build-layer.mjs.
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { createRequire, wrap } = require('node:module');
const { join } = require('node:path');
const { Script } = require('node:vm');

// One registry for the process: each bundle that loads another has its own copy of this module
// (bundled in), and a bundle must load once, its cache written once, whichever copy loaded it.
/** @type {Map<string, { exports: unknown, script: import('node:vm').Script, rejected: boolean | undefined }>} */
const REGISTRY = Symbol.for('serverless-agent.bundles');
if (!globalThis[REGISTRY]) globalThis[REGISTRY] = new Map();
const loaded = globalThis[REGISTRY];

/**
 * @param {string} dir the folder of the bundles
 * @param {string} name a bundle's name without `.cjs`
 * @returns {unknown} its exports
 */
function loadBundle(dir, name) {
  const done = loaded.get(name);
  if (done) return done.exports;
  const filename = join(dir, `${name}.cjs`);
  let cachedData;
  try {
    cachedData = readFileSync(join(dir, `${name}.cache`));
  } catch {
    // No cache (a development build): compile from source.
  }
  const script = new Script(wrap(readFileSync(filename, 'utf8')), {
    filename,
    ...(cachedData ? { cachedData } : {}),
  });
  const module = { exports: {}, filename, id: filename, loaded: false };
  loaded.set(name, {
    exports: module.exports,
    script,
    rejected: cachedData ? script.cachedDataRejected : undefined,
  });
  script
    .runInThisContext()
    .call(module.exports, module.exports, createRequire(filename), module, filename, dir);
  module.loaded = true;
  const entry = loaded.get(name);
  if (entry) entry.exports = module.exports;
  return module.exports;
}

/** Whether V8 took each bundle's cache (false: rejected, undefined: none was there). */
function codeCacheStatus() {
  /** @type {Record<string, boolean | undefined>} */
  const out = {};
  for (const [name, l] of loaded) out[name] = l.rejected === undefined ? undefined : !l.rejected;
  return out;
}

/**
 * Build time only: writes NAME.cache for each bundle loaded so far, after it ran (so the cache
 * holds the functions its start compiled too, not just the top level).
 * @param {string} dir
 */
function writeCodeCaches(dir) {
  for (const [name, l] of loaded) writeFileSync(join(dir, `${name}.cache`), l.script.createCachedData());
}

module.exports = { loadBundle, codeCacheStatus, writeCodeCaches };

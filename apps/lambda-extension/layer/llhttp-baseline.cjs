// What the layer's bundle gets for undici's HTTP/1 parser (lib/llhttp/llhttp_simd-wasm.js and
// llhttp-wasm.js, the WebAssembly bytes): the same bytes, compiled by V8's baseline compiler only.
// undici compiles its parser when the first connection opens (the forwarder's warm-up, during the
// function's init), and V8 then tiers the parser's large state machine up to its optimising
// compiler on a background thread: 150–200 ms of CPU on Node 20, taken from the function's own init
// on a Lambda's share of a vCPU. The baseline code parses the intake's short answers just as well.
// V8 picks a function's tiers when it compiles it, so the flags are on for this compile only (undici
// requires these bytes as the argument of `new WebAssembly.Module`), with lazy compilation off so
// that every function is compiled then, and put back on the next microtask, with the flags they
// imply: any other WebAssembly (the opt-in zstd) is compiled and tiered up as usual. (V8 reads its
// flag hash, which code caches are checked against, once at start: the caches are not affected.)
'use strict';
const { setFlagsFromString } = require('node:v8');

const BASELINE = '--liftoff-only --no-wasm-lazy-compilation';
const RESTORE = '--no-liftoff-only --wasm-tier-up --wasm-dynamic-tiering --wasm-lazy-compilation';

/**
 * @param {Buffer} bytes the parser's WebAssembly module
 * @param {string} builtWith `process.versions.v8` of the node the layer was built and checked with:
 *   on another V8 the flags and what they imply may differ, so it is left alone there
 * @returns {Buffer} `bytes`
 */
module.exports = function baselineOnly(bytes, builtWith) {
  // A node started with WebAssembly flags of its own keeps them.
  const ownWasmFlags = process.execArgv.some((a) => /^--[\w-]*(wasm|liftoff)/.test(a));
  if (process.versions.v8 !== builtWith || ownWasmFlags) return bytes;
  setFlagsFromString(BASELINE);
  queueMicrotask(() => setFlagsFromString(RESTORE));
  return bytes;
};

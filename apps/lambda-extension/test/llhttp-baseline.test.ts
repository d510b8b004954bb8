// layer/llhttp-baseline.cjs: undici's HTTP/1 parser compiled by V8's baseline compiler (Liftoff)
// only, every function at once, and V8's flags put back for any other WebAssembly. Run in a child
// process (V8's flags are process-wide) with V8's test intrinsics, which tell how a function is
// compiled.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { APP_DIR } from './helpers.js';

const appRequire = createRequire(join(APP_DIR, 'package.json'));
const forwarderRequire = createRequire(appRequire.resolve('@serverless-agent/forwarder/package.json'));
const undiciDir = dirname(forwarderRequire.resolve('undici/package.json'));
const BASELINE = join(APP_DIR, 'layer/llhttp-baseline.cjs');

/** How V8 compiled the parser's `llhttp_execute`, and a small module compiled before and after. */
function run(bytesFile: string, builtWith: string, nodeFlags: string[] = []): Record<string, unknown> {
  const script = `
    const baselineOnly = require(${JSON.stringify(BASELINE)});
    // (module (func (export "f") (result i32) i32.const N))
    const tiny = (n) => new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 127, 3, 2, 1, 0,
      7, 5, 1, 1, 102, 0, 0, 10, 6, 1, 4, 0, 65, n, 11]);
    const instance = (m) => new WebAssembly.Instance(m, {
      env: Object.fromEntries(WebAssembly.Module.imports(m).map((i) => [i.name, () => 0])),
    });
    const state = (f) => (%IsUncompiledWasmFunction(f) ? 'lazy' : %IsLiftoffFunction(f) ? 'liftoff' : 'other');
    const out = { before: state(instance(new WebAssembly.Module(tiny(1))).exports.f) };
    const builtWith = ${JSON.stringify(builtWith)} || process.versions.v8;
    const parser = new WebAssembly.Module(baselineOnly(require(${JSON.stringify(bytesFile)}), builtWith));
    out.parser = state(instance(parser).exports.llhttp_execute);
    queueMicrotask(() => {
      out.after = state(instance(new WebAssembly.Module(tiny(2))).exports.f);
      console.log(JSON.stringify(out));
    });
  `;
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', ...nodeFlags, '-e', script], {
    encoding: 'utf8',
  });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout);
}

describe('llhttp-baseline', () => {
  for (const file of ['llhttp_simd-wasm.js', 'llhttp-wasm.js']) {
    it(`compiles ${file} with Liftoff at once, and leaves later modules lazily compiled as usual`, () => {
      expect(run(join(undiciDir, 'lib/llhttp', file), '')).toEqual({
        before: 'lazy',
        parser: 'liftoff',
        after: 'lazy',
      });
    });
  }

  it('leaves V8 alone on a version other than the one the layer was built with', () => {
    expect(run(join(undiciDir, 'lib/llhttp/llhttp_simd-wasm.js'), '0.0.0-other')).toEqual({
      before: 'lazy',
      parser: 'lazy',
      after: 'lazy',
    });
  });

  it('leaves V8 alone in a node started with WebAssembly flags of its own', () => {
    const simd = join(undiciDir, 'lib/llhttp/llhttp_simd-wasm.js');
    expect(run(simd, '', ['--wasm-lazy-compilation'])).toEqual({
      before: 'lazy',
      parser: 'lazy',
      after: 'lazy',
    });
  });
});

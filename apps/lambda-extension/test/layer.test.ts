import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { LambdaSandbox, type TelemetryEvent } from '@serverless-agent/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_DIR, buildAndUnzipLayer, freePorts, scratch } from './helpers.js';

const mode = (path: string) => statSync(path).mode & 0o777;

/** The node flags the launcher passes (NODE_FLAGS="..."), each followed by a space. */
function launcherFlags(): string {
  const m = /^NODE_FLAGS="([^"]*)"$/m.exec(readFileSync(join(APP_DIR, 'layer/datadog-agent'), 'utf8'));
  return (m?.[1] ?? '')
    .split(' ')
    .filter(Boolean)
    .map((f) => `${f} `)
    .join('');
}

let work: ReturnType<typeof scratch>;
let opt: string;
beforeAll(() => {
  work = scratch();
  opt = buildAndUnzipLayer(join(work.dir, 'zip'));
}, 120_000);
afterAll(() => work?.cleanup());

describe('layer.zip', () => {
  for (const zip of ['auto', 'builtin'] as const) {
    it(`keeps the file modes (${zip === 'auto' ? 'zip binary' : 'built-in writer'})`, () => {
      const dir = zip === 'auto' ? opt : buildAndUnzipLayer(join(work.dir, 'builtin'), 'builtin');
      expect(mode(join(dir, 'extensions/datadog-agent'))).toBe(0o755);
      expect(mode(join(dir, 'datadog_wrapper'))).toBe(0o755);
      expect(mode(join(dir, 'serverless-agent/datadog-agent.cjs'))).toBe(0o644);
      expect(mode(join(dir, 'serverless-agent/agent.cjs'))).toBe(0o644);
      for (const f of [
        'components.cjs',
        'agent.cache',
        'components.cache',
        'fastify.cjs',
        'fastify.cache',
        'yaml.cjs',
      ])
        expect(mode(join(dir, 'serverless-agent', f))).toBe(0o644);
      expect(statSync(join(dir, 'serverless-agent')).isDirectory()).toBe(true);
      const listing = execFileSync('unzip', [
        '-Z1',
        join(work.dir, zip === 'auto' ? 'zip' : 'builtin', 'layer.zip'),
      ])
        .toString()
        .split('\n')
        .filter((l) => l && !l.endsWith('/'))
        .sort();
      expect(listing).toEqual([
        'datadog_wrapper',
        'extensions/datadog-agent',
        'serverless-agent/agent.cache',
        'serverless-agent/agent.cjs',
        'serverless-agent/components.cache',
        'serverless-agent/components.cjs',
        'serverless-agent/datadog-agent.cjs',
        'serverless-agent/fastify.cache',
        'serverless-agent/fastify.cjs',
        'serverless-agent/yaml.cjs',
      ]);
    }, 120_000);
  }

  it("carries V8 code caches that this node, started with the launcher's flags, takes", () => {
    const bundles = join(opt, 'serverless-agent');
    const script = [
      `const l = require(${JSON.stringify(join(APP_DIR, 'layer/load-cached.cjs'))});`,
      `const a = l.loadBundle(${JSON.stringify(bundles)}, 'agent');`,
      `const c = l.loadBundle(${JSON.stringify(bundles)}, 'components');`,
      `const f = l.loadBundle(${JSON.stringify(bundles)}, 'fastify');`,
      'console.log(JSON.stringify({ status: l.codeCacheStatus(), run: typeof a.run, load: typeof c.loadComponents, fastify: typeof f }));',
      'process.exit(0);',
    ].join('\n');
    const flags = launcherFlags().split(' ').filter(Boolean);
    const r = spawnSync(process.execPath, [...flags, '-e', script], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      status: { agent: true, components: true, fastify: true },
      run: 'function',
      load: 'function',
      fastify: 'function',
    });
  }, 30_000);

  it('loads its components without what they never run: no HTTP/2, HTTPS, DNS or fs/promises module, no ajv, pino or fast-json-stringify', () => {
    const bundles = join(opt, 'serverless-agent');
    const script = [
      `const l = require(${JSON.stringify(join(APP_DIR, 'layer/load-cached.cjs'))});`,
      `l.loadBundle(${JSON.stringify(bundles)}, 'agent');`,
      'const before = new Set(process.moduleLoadList);',
      `l.loadBundle(${JSON.stringify(bundles)}, 'components');`,
      `l.loadBundle(${JSON.stringify(bundles)}, 'fastify');`,
      'console.log(JSON.stringify(process.moduleLoadList.filter((m) => !before.has(m))));',
      'process.exit(0);',
    ].join('\n');
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const loaded: string[] = JSON.parse(r.stdout);
    expect(loaded).toContain('NativeModule zlib');
    for (const m of [
      'NativeModule http2',
      'NativeModule https',
      'NativeModule dns',
      'NativeModule fs/promises',
    ])
      expect(loaded).not.toContain(m);
    const bundle = readFileSync(join(bundles, 'components.cjs'), 'utf8');
    const fastify = readFileSync(join(bundles, 'fastify.cjs'), 'utf8');
    // Names only these packages carry: ajv's option, fast-json-stringify's, pino's symbols.
    for (const marker of ['strictSchema', 'largeArrayMechanism', 'pino-raw-err-ref']) {
      expect(bundle).not.toContain(marker);
      expect(fastify).not.toContain(marker);
    }
    // fastify (its error codes) is in a bundle of its own, loaded on first need (next test).
    expect(bundle).not.toContain('FST_ERR_');
    expect(fastify).toContain('FST_ERR_');
    expect(bundle).toContain('HTTP/2 is not in this layer');
    // undici's HTTP/1 parser goes through layer/llhttp-baseline.cjs.
    expect(bundle).toContain('--liftoff-only --no-wasm-lazy-compilation');
  }, 30_000);

  it('loads fastify on the first request the trace routes leave to it, not before, and answers it', () => {
    const bundles = join(opt, 'serverless-agent');
    const script = `
      const http = require('node:http');
      const l = require(${JSON.stringify(join(APP_DIR, 'layer/load-cached.cjs'))});
      l.loadBundle(${JSON.stringify(bundles)}, 'agent');
      const c = l.loadBundle(${JSON.stringify(bundles)}, 'components');
      const ask = (port, method, path, body, headers) => new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode, text }));
        });
        req.on('error', reject);
        req.end(body);
      });
      (async () => {
        const quiet = { debug() {}, info() {}, warn() {}, error() {} };
        const early = await c.bindEarlyListeners({ dogstatsd: 0, traces: 0, hooks: 0, telemetry: 0 });
        const lifecycle = { processor: { outOfMemoryDetected() {} }, subscribe: () => () => {} };
        const env = { DD_API_KEY: 'x', DD_DD_URL: 'http://127.0.0.1:9', DD_APM_DD_URL: 'http://127.0.0.1:9',
          DD_LOGS_CONFIG_LOGS_DD_URL: 'http://127.0.0.1:9', AWS_LAMBDA_FUNCTION_NAME: 'f', AWS_REGION: 'us-east-1' };
        const components = await c.loadComponents(env, { extensionId: 'x', accountId: '123456789012', events: [] },
          early, lifecycle, quiet, { datagrams: 0, datagramBytes: 0 });
        const out = { afterLoad: 'fastify' in l.codeCacheStatus() };
        out.trace = await ask(early.ports.traces, 'PUT', '/v0.4/traces', c.pack([]), { 'content-type': 'application/msgpack' });
        out.afterTrace = 'fastify' in l.codeCacheStatus();
        out.info = await ask(early.ports.traces, 'GET', '/info');
        out.afterInfo = l.codeCacheStatus().fastify;
        await components.close();
        await c.closeEarlyListeners(early);
        console.log(JSON.stringify(out));
        process.exit(0);
      })();
    `;
    const flags = launcherFlags().split(' ').filter(Boolean);
    const r = spawnSync(process.execPath, [...flags, '-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      afterLoad: false,
      trace: { status: 200, text: '{"rate_by_service":{"service:,env:":1}}' },
      afterTrace: false,
      info: { status: 200 },
      // loaded, and from its code cache
      afterInfo: true,
    });
    expect(JSON.parse(out.info.text).endpoints).toContain('/v0.4/traces');
  }, 30_000);

  it('registers as datadog-agent in the sandbox, survives frozen invocations, exits 0 on SHUTDOWN', async () => {
    const { env } = await freePorts();
    const task = join(work.dir, 'task');
    mkdirSync(task, { recursive: true });
    writeFileSync(join(task, 'index.mjs'), 'export const handler = async (e) => ({ ok: true, n: e.n });\n');
    const events: TelemetryEvent[] = [];
    const sandbox = new LambdaSandbox({
      taskRoot: task,
      extensionsDir: join(opt, 'extensions'),
      env: { ...env, DD_API_KEY: 'not-a-real-key' },
    });
    sandbox.on('telemetry', (e: TelemetryEvent) => events.push(e));
    try {
      const init = await sandbox.start();
      expect(init.status).toBe('success');
      expect(init.extensions[0]?.spawnToFirstNextMs).toBeGreaterThan(0);
      const registered = events.find((e) => e.type === 'platform.extension');
      expect(registered?.record).toMatchObject({ name: 'datadog-agent', events: ['INVOKE', 'SHUTDOWN'] });
      for (let n = 0; n < 3; n++) {
        expect(await sandbox.waitForFreeze()).toBe(true);
        const r = await sandbox.invoke({ n });
        expect(r.status).toBe('success');
        expect(r.response).toEqual({ ok: true, n });
      }
      const down = await sandbox.shutdown();
      expect(down.processes.find((p) => p.name === 'datadog-agent')).toMatchObject({
        ended: 'exit',
        code: 0,
      });
      const lines = events
        .filter((e) => e.type === 'extension')
        .map((e) => String(e.record))
        .join('\n');
      expect(lines).toMatch(/DD_EXTENSION \| INFO \| serverless-agent [\d.]+ ready in/);
      expect(lines).not.toContain('not-a-real-key');
    } finally {
      await sandbox.shutdown();
    }
  }, 60_000);
});

describe('the launcher', () => {
  // A stand-in node: prints what it was asked to run.
  function fakeNode(prefix: string, major: number | undefined): string {
    mkdirSync(join(prefix, 'bin'), { recursive: true });
    writeFileSync(join(prefix, 'bin/node'), `#!/bin/sh\necho "ran ${prefix} $*"\n`);
    chmodSync(join(prefix, 'bin/node'), 0o755);
    if (major !== undefined) {
      mkdirSync(join(prefix, 'include/node'), { recursive: true });
      writeFileSync(
        join(prefix, 'include/node/node_version.h'),
        `#ifndef SRC_NODE_VERSION_H_\n#define NODE_MAJOR_VERSION ${major}\n#define NODE_MINOR_VERSION 1\n`,
      );
    }
    return join(prefix, 'bin');
  }

  const launch = (launcher: string, PATH: string) =>
    spawnSync('/bin/sh', [launcher], { env: { PATH }, encoding: 'utf8' });

  it('skips a node too old for the bundle and runs the first supported one on PATH', () => {
    const old = fakeNode(join(work.dir, 'node18'), 18);
    const good = fakeNode(join(work.dir, 'node22'), 22);
    const r = launch(join(opt, 'extensions/datadog-agent'), `${old}:${good}`);
    expect(r.stdout.trim()).toBe(
      `ran ${join(work.dir, 'node22')} ${launcherFlags()}${opt}/extensions/../serverless-agent/datadog-agent.cjs`,
    );
  });

  it('starts node with two malloc arenas, unless the function sets its own number', () => {
    const prefix = join(work.dir, 'arena-node');
    mkdirSync(join(prefix, 'bin'), { recursive: true });
    writeFileSync(join(prefix, 'bin/node'), '#!/bin/sh\necho "arenas $MALLOC_ARENA_MAX"\n');
    chmodSync(join(prefix, 'bin/node'), 0o755);
    mkdirSync(join(prefix, 'include/node'), { recursive: true });
    writeFileSync(join(prefix, 'include/node/node_version.h'), '#define NODE_MAJOR_VERSION 22\n');
    const launcher = join(opt, 'extensions/datadog-agent');
    const PATH = join(prefix, 'bin');
    expect(launch(launcher, PATH).stdout.trim()).toBe('arenas 2');
    const own = spawnSync('/bin/sh', [launcher], { env: { PATH, MALLOC_ARENA_MAX: '4' }, encoding: 'utf8' });
    expect(own.stdout.trim()).toBe('arenas 4');
  });

  it('says in one line which layer to use when no supported node exists', () => {
    const old = fakeNode(join(work.dir, 'node16'), 16);
    const r = launch(join(opt, 'extensions/datadog-agent'), `${old}:/nonexistent`);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('needs Node.js >= 20');
    expect(lines[0]).toContain(`${join(work.dir, 'node16')}/bin/node (16)`);
    expect(lines[0]).toContain('layer-with-node');
  });

  it('prefers the node shipped in the layer, by its VERSION file', () => {
    const layer = join(work.dir, 'with-node');
    mkdirSync(join(layer, 'extensions'), { recursive: true });
    copyFileSync(join(opt, 'extensions/datadog-agent'), join(layer, 'extensions/datadog-agent'));
    fakeNode(join(layer, 'serverless-agent/node'), undefined);
    writeFileSync(join(layer, 'serverless-agent/node/VERSION'), '20.20.2\n');
    const onPath = fakeNode(join(work.dir, 'path-node'), 22);
    const r = launch(join(layer, 'extensions/datadog-agent'), onPath);
    expect(r.stdout).toContain(`ran ${join(layer, 'serverless-agent/node')} `);
  });

  it('asks a node without version headers once, and accepts it when it is supported', () => {
    const bare = join(work.dir, 'bare');
    mkdirSync(join(bare, 'bin'), { recursive: true });
    // A real node, without include/ beside it: the launcher must ask it for its version.
    symlinkSync(process.execPath, join(bare, 'bin/node'));
    const r = spawnSync('/bin/sh', [join(opt, 'extensions/datadog-agent')], {
      env: { PATH: join(bare, 'bin'), AWS_LAMBDA_RUNTIME_API: '127.0.0.1:1' },
      encoding: 'utf8',
      timeout: 3000,
      killSignal: 'SIGKILL',
    });
    // The bundle ran (and said registration failed, since nothing listens on port 1).
    expect(r.stdout).toContain('not registered with the Extensions API');
  }, 20_000);
});

// NODE_EXTRA_CA_CERTS is read by Node at start-up only, so this runs the built forwarder in a child
// process (`pnpm build` first, as for every child-process test).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CA_FILE, FakeIntake } from './helpers/intake.js';

const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url));

const SCRIPT = `
const { createForwarder, fromEnv } = await import(process.env.FORWARDER_DIST);
const f = createForwarder({ ...fromEnv(process.env, { debug() {}, info() {}, warn() {}, error() {} }), freezeTickMs: 0 });
const r = await f.send({ kind: 'series', body: Buffer.from('{}'), contentType: 'application/json' }, { signal: AbortSignal.timeout(5000), });
await f.close();
process.stdout.write(JSON.stringify(r));
`;

function run(env: Record<string, string>): Promise<{ delivered: number; buffered: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT], {
      env: { PATH: process.env.PATH ?? '', FORWARDER_DIST: DIST, DD_API_KEY: 'child-key-00000000', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`child exited ${code}: ${err}`));
      else resolve(JSON.parse(out));
    });
  });
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('NODE_EXTRA_CA_CERTS', () => {
  it('is honoured for the intake (and its absence refuses the self-signed intake)', async () => {
    expect(existsSync(DIST), 'run `pnpm build` before the tests').toBe(true);
    const intake = await FakeIntake.start({ tls: true });
    cleanups.push(() => intake.close());
    const trusted = await run({
      DD_DD_URL: intake.url,
      NODE_EXTRA_CA_CERTS: CA_FILE,
      DD_FORWARDER_MAX_ATTEMPTS: '1',
    });
    expect(trusted).toMatchObject({ delivered: 1 });
    const untrusted = await run({ DD_DD_URL: intake.url, DD_FORWARDER_MAX_ATTEMPTS: '1' });
    expect(untrusted).toMatchObject({ delivered: 0, buffered: 1 });
    expect(intake.posts).toHaveLength(1);
  });
});

// The design promises individually installable packages: pack every publishable one as it would be
// published, install the tarballs into a scratch project with plain npm, and import each one there.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
}

const publishable = ['packages', 'apps']
  .flatMap((group) => readdirSync(join(root, group)).map((dir) => join(root, group, dir)))
  .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest }))
  .filter(({ manifest }) => !manifest.private);

function pnpm(args: string[], cwd: string): string {
  // Run under `pnpm test`, npm_execpath is pnpm's own entry point; otherwise use pnpm from PATH.
  const execPath = process.env.npm_execpath;
  if (execPath?.includes('pnpm'))
    return execFileSync(process.execPath, [execPath, ...args], { cwd }).toString();
  return execFileSync('pnpm', args, { cwd }).toString();
}

const NPM_INSTALL_TIMEOUT_MS = 150_000;

describe('packaging', () => {
  let scratch: string;

  beforeAll(() => {
    const unbuilt = publishable.filter(({ dir }) => !existsSync(join(dir, 'dist', 'index.js')));
    if (unbuilt.length > 0)
      throw new Error(`build first (pnpm build): ${unbuilt.map((p) => p.manifest.name)}`);
    scratch = mkdtempSync(join(tmpdir(), 'serverless-agent-pack-'));
    const tarballs = publishable.map(({ dir }) => {
      const out = pnpm(['pack', '--pack-destination', scratch], dir).trim().split('\n');
      return out[out.length - 1]!.trim();
    });
    writeFileSync(
      join(scratch, 'package.json'),
      JSON.stringify({ name: 'scratch', private: true, type: 'module' }),
    );
    // A synchronous call blocks the worker, so vitest's hook timeout could never fire: the call has its
    // own (npm fetches the packages' dependencies from the registry, and without a network it would wait
    // for ever).
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs], {
      cwd: scratch,
      stdio: ['ignore', 'ignore', 'inherit'],
      timeout: NPM_INSTALL_TIMEOUT_MS,
    });
  }, NPM_INSTALL_TIMEOUT_MS + 60_000);

  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('has publishable packages', () => {
    expect(publishable.map(({ manifest }) => manifest.name)).toContain('@serverless-agent/testkit');
  });

  for (const { manifest } of publishable) {
    it(`installs and imports ${manifest.name} with plain npm`, () => {
      const script = `const m = await import(${JSON.stringify(manifest.name)}); console.log(JSON.stringify(m.PACKAGE));`;
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: scratch });
      expect(JSON.parse(out.toString())).toEqual({ name: manifest.name, version: manifest.version });
    });

    it(`${manifest.name} exposes no deep imports`, () => {
      const script = `import(${JSON.stringify(`${manifest.name}/src/index.ts`)}).then(() => console.log('resolved'), (e) => console.log(e.code));`;
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: scratch });
      expect(out.toString().trim()).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
    });
  }
});

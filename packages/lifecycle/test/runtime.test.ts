// The `runtime` tag, found the way the Datadog extension finds it: another process's
// AWS_EXECUTION_ENV (extensions do not get it), else the OS release of an OS-only runtime.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveRuntime } from '../src/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fakeRoot(procs: Record<string, Record<string, string>>, osRelease?: string) {
  const root = mkdtempSync(join(tmpdir(), 'runtime-'));
  dirs.push(root);
  for (const [pid, env] of Object.entries(procs)) {
    mkdirSync(join(root, 'proc', pid), { recursive: true });
    const environ = Object.entries(env)
      .map(([k, v]) => `${k}=${v}\0`)
      .join('');
    writeFileSync(join(root, 'proc', pid, 'environ'), environ);
  }
  mkdirSync(join(root, 'proc', 'self'), { recursive: true });
  mkdirSync(join(root, 'etc'), { recursive: true });
  if (osRelease !== undefined) writeFileSync(join(root, 'etc', 'os-release'), osRelease);
  return { procRoot: join(root, 'proc'), etcRoot: join(root, 'etc') };
}

describe('resolveRuntime', () => {
  it('takes the value after the last _ of another process’s AWS_EXECUTION_ENV, skipping pid 1 and its own', () => {
    const roots = fakeRoot({
      '1': { AWS_EXECUTION_ENV: 'AWS_Lambda_ruby3.3' },
      '7': { PATH: '/bin' },
      '9': { AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x' },
      '12': { HOME: '/', AWS_EXECUTION_ENV: 'AWS_Lambda_java21', X: 'y' },
    });
    expect(resolveRuntime({ ...roots, selfPid: 9 })).toBe('java21');
    expect(resolveRuntime({ ...roots, selfPid: 12 })).toBe('nodejs22.x');
    // its own environment first, when it has it
    expect(resolveRuntime({ ...roots, env: { AWS_EXECUTION_ENV: 'AWS_Lambda_python3.12' } })).toBe(
      'python3.12',
    );
  });

  it('falls back to /etc/os-release for OS-only runtimes, else unknown', () => {
    const al2023 = fakeRoot({}, 'NAME="Amazon Linux"\nVERSION_ID="2023"\nID="amzn"\n');
    expect(resolveRuntime({ ...al2023, selfPid: 1 })).toBe('provided.al2023');
    const al2 = fakeRoot({}, 'NAME="Amazon Linux"\nVERSION_ID="2"\nID="amzn"\n');
    expect(resolveRuntime({ ...al2, selfPid: 1 })).toBe('provided.al2');
    const debian = fakeRoot({}, 'NAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n');
    expect(resolveRuntime({ ...debian, selfPid: 1 })).toBe('unknown');
    expect(resolveRuntime({ procRoot: '/nonexistent', etcRoot: '/nonexistent', selfPid: 1 })).toBe('unknown');
  });
});

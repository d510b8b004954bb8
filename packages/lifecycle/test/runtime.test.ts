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

function fakeRoot(
  procs: Record<string, Record<string, string>>,
  osRelease?: string,
  children: Record<string, string> = {},
) {
  const root = mkdtempSync(join(tmpdir(), 'runtime-'));
  dirs.push(root);
  for (const [pid, env] of Object.entries(procs)) {
    mkdirSync(join(root, 'proc', pid), { recursive: true });
    const environ = Object.entries(env)
      .map(([k, v]) => `${k}=${v}\0`)
      .join('');
    writeFileSync(join(root, 'proc', pid, 'environ'), environ);
  }
  for (const [pid, list] of Object.entries(children)) {
    mkdirSync(join(root, 'proc', pid, 'task', pid), { recursive: true });
    writeFileSync(join(root, 'proc', pid, 'task', pid, 'children'), list);
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

  it('reads its siblings (the children of its parent) first: Lambda’s init starts the runtime beside it', () => {
    const procs = {
      '5': { AWS_EXECUTION_ENV: 'AWS_Lambda_ruby3.3' },
      '40': { PATH: '/bin' },
      '41': { AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs20.x' },
      '42': { AWS_EXECUTION_ENV: 'AWS_Lambda_java21' },
    };
    // 40 is the parent; 42 (itself) and 41 (the runtime) its children, 5 an unrelated process.
    const roots = fakeRoot(procs, undefined, { '40': '42 41 ' });
    expect(resolveRuntime({ ...roots, selfPid: 42, parentPid: 40 })).toBe('nodejs20.x');
    // no sibling has the variable: every process is read
    const none = fakeRoot({ ...procs, '41': { PATH: '/bin' } }, undefined, { '40': '42 41' });
    expect(resolveRuntime({ ...none, selfPid: 42, parentPid: 40 })).toBe('ruby3.3');
    // the kernel has no children file: every process is read
    const noFile = fakeRoot({ '5': { AWS_EXECUTION_ENV: 'AWS_Lambda_ruby3.3' }, '40': {} });
    expect(resolveRuntime({ ...noFile, selfPid: 42, parentPid: 40 })).toBe('ruby3.3');
    // a parent that is pid 1 (a container's init) is not asked: every process is read
    const init = fakeRoot({ '7': { AWS_EXECUTION_ENV: 'AWS_Lambda_python3.12' } }, undefined, { '1': '7' });
    expect(resolveRuntime({ ...init, selfPid: 42, parentPid: 1 })).toBe('python3.12');
  });
});

import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { exitCodeFor, supervise } from '../src/supervisor.js';

function collector() {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, bytes: () => Buffer.concat(chunks) };
}

function run(script: string, extra: Partial<Parameters<typeof supervise>[0]> = {}) {
  const out = collector();
  const err = collector();
  const supervised = supervise({
    command: process.execPath,
    args: ['-e', script],
    env: process.env,
    stdout: out.stream,
    stderr: err.stream,
    tee: { stdout: () => {}, stderr: () => {} },
    ...extra,
  });
  return { ...supervised, out, err };
}

describe('supervise', () => {
  it.each([0, 3, 123])('exits with the child exit code %i', async (code) => {
    const { done } = run(`process.exit(${code})`);
    expect((await done).exitCode).toBe(code);
  });

  it('exits with 128 + the signal number when a signal kills the child', async () => {
    const { done } = run(`process.kill(process.pid, 'SIGKILL')`);
    const outcome = await done;
    expect(outcome.signal).toBe('SIGKILL');
    expect(outcome.exitCode).toBe(137);
    expect(exitCodeFor(null, 'SIGTERM')).toBe(143);
  });

  it('reports a command that cannot start as exit 1 with the reason', async () => {
    const out = collector();
    const { done } = supervise({
      command: '/nonexistent/command',
      args: [],
      env: process.env,
      stdout: out.stream,
      stderr: out.stream,
    });
    const outcome = await done;
    expect(outcome.exitCode).toBe(1);
    expect((outcome.startError as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  it('passes stdout and stderr through byte for byte, each in order, and tees the same bytes', async () => {
    const script = `
      const out = [], err = [];
      for (let i = 0; i < 2000; i++) {
        const b = Buffer.alloc(97 + (i % 13), i % 256);
        (i % 3 ? process.stdout : process.stderr).write(b);
      }
    `;
    const teeOut: Buffer[] = [];
    const teeErr: Buffer[] = [];
    const { done, out, err } = run(script, {
      tee: { stdout: (c) => teeOut.push(c), stderr: (c) => teeErr.push(c) },
    });
    expect((await done).exitCode).toBe(0);
    const expectedOut: Buffer[] = [];
    const expectedErr: Buffer[] = [];
    for (let i = 0; i < 2000; i++)
      (i % 3 ? expectedOut : expectedErr).push(Buffer.alloc(97 + (i % 13), i % 256));
    expect(out.bytes().equals(Buffer.concat(expectedOut))).toBe(true);
    expect(err.bytes().equals(Buffer.concat(expectedErr))).toBe(true);
    expect(Buffer.concat(teeOut).equals(Buffer.concat(expectedOut))).toBe(true);
    expect(Buffer.concat(teeErr).equals(Buffer.concat(expectedErr))).toBe(true);
  });

  it('forwards signals to the child and waits for it to finish on its own', async () => {
    const source = new EventEmitter();
    const script = `
      const seen = [];
      for (const s of ['SIGHUP', 'SIGUSR2', 'SIGWINCH', 'SIGINT']) process.on(s, () => { seen.push(s); process.stdout.write(s + '\\n'); });
      process.on('SIGTERM', () => { process.stdout.write('SIGTERM ' + seen.join(',') + '\\n'); setTimeout(() => process.exit(7), 50); });
      process.stdout.write('ready\\n');
      setInterval(() => {}, 1000);
    `;
    const lines: string[] = [];
    const { done, child } = run(script, {
      signalSource: source as unknown as NodeJS.Process,
      tee: { stdout: (c) => lines.push(...c.toString().split('\n').filter(Boolean)), stderr: () => {} },
    });
    const waitFor = async (line: string) => {
      while (!lines.some((l) => l.startsWith(line))) await new Promise((r) => setTimeout(r, 5));
    };
    await waitFor('ready');
    for (const s of ['SIGHUP', 'SIGUSR2', 'SIGWINCH', 'SIGINT']) {
      source.emit(s, s);
      await waitFor(s);
    }
    source.emit('SIGTERM', 'SIGTERM');
    const outcome = await done;
    expect(child.pid).toBeGreaterThan(0);
    expect(outcome.exitCode).toBe(7);
    expect(lines).toContain('SIGTERM SIGHUP,SIGUSR2,SIGWINCH,SIGINT');
    // Once the child is gone, nothing is forwarded any more.
    expect(source.listenerCount('SIGTERM')).toBe(0);
  });
});

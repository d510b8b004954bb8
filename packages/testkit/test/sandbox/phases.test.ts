import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LambdaSandbox, NULL_EXTENSION, procStatus } from '../../src/index.js';
import { type Scratch, scratch, writeExtension, writeFunction } from './helpers.js';

let s: Scratch;
let sandbox: LambdaSandbox | undefined;
afterEach(async () => {
  await sandbox?.shutdown();
  sandbox = undefined;
  s?.cleanup();
});

describe('invocation deadlines, crashes and memory', () => {
  it('times out, sends SHUTDOWN timeout, and starts a fresh environment for the next invoke', async () => {
    s = scratch();
    writeFunction(
      s.task,
      'index.mjs',
      `export const handler = async (event) => {
  if (event.hang) await new Promise((r) => setTimeout(r, 60_000));
  return 'ok';
};
`,
    );
    writeExtension(s.extensions, 'watcher');
    sandbox = new LambdaSandbox({ taskRoot: s.task, extensionsDir: s.extensions, timeoutMs: 400 });
    await sandbox.start();
    const before = sandbox.pids;
    const r = await sandbox.invoke({ hang: true });
    expect(r.status).toBe('timeout');
    expect(r.report).toMatchObject({ status: 'timeout', metrics: { billedDurationMs: expect.any(Number) } });
    expect(r.report.metrics.durationMs).toBeGreaterThanOrEqual(400);
    const done = await sandbox.waitForEvent(
      'platform.runtimeDone',
      (e) => e.record.requestId === r.requestId,
    );
    expect(done.record).toMatchObject({ status: 'timeout', metrics: { durationMs: 400, producedBytes: 0 } });
    // The extension was told why, and the old processes are gone.
    await sandbox.waitForEvent('extension', (e) => e.record === 'shutdown timeout');
    expect(r.reset).toMatchObject({ reason: 'timeout' });
    expect(r.reset?.processes.find((p) => p.name === 'watcher')).toMatchObject({ ended: 'exit', code: 0 });
    expect(procStatus(before.runtime!)).toBeUndefined();
    expect(procStatus(before.extensions[0]!.pid)).toBeUndefined();

    const next = await sandbox.invoke({});
    expect(next.status).toBe('success');
    expect(next.reset).toBeUndefined();
    expect(next.record.coldStart).toBe(true);
    expect(next.report.metrics.initDurationMs).toBeGreaterThan(0);
    expect(sandbox.pids.runtime).not.toBe(before.runtime);
    const inits = sandbox.events.filter((e) => e.type === 'platform.initStart');
    expect(inits.map((e) => e.record.phase)).toEqual(['init', 'init']);
  });

  it('counts post-runtime time and times out an extension that does not return to next', async () => {
    s = scratch();
    writeFunction(s.task, 'index.mjs', 'export const handler = async () => "ok";\n');
    writeExtension(s.extensions, 'flusher', { workAfterInvokeMs: 400 });
    sandbox = new LambdaSandbox({ taskRoot: s.task, extensionsDir: s.extensions, timeoutMs: 2000 });
    await sandbox.start();
    const r = await sandbox.invoke({});
    expect(r.status).toBe('success');
    // The extension works 400 ms from INVOKE: whatever the runtime did not cover is post-runtime.
    expect(r.record.postRuntimeDurationMs).toBeGreaterThan(0);
    expect(r.record.runtimeDurationMs + r.record.postRuntimeDurationMs).toBeGreaterThanOrEqual(395);
    expect(r.report.metrics.durationMs).toBeCloseTo(
      r.record.runtimeDurationMs + r.record.postRuntimeDurationMs,
      2,
    );
    await sandbox.shutdown();

    s.cleanup();
    s = scratch();
    writeFunction(s.task, 'index.mjs', 'export const handler = async () => "ok";\n');
    writeExtension(s.extensions, 'slowpoke', { workAfterInvokeMs: 5000 });
    sandbox = new LambdaSandbox({ taskRoot: s.task, extensionsDir: s.extensions, timeoutMs: 300 });
    await sandbox.start();
    const t = await sandbox.invoke({});
    expect(t.status).toBe('timeout');
    expect(t.response).toBe('ok');
  });

  it('reports a function error and keeps the environment', async () => {
    s = scratch();
    writeFunction(s.task, 'index.mjs', 'export const handler = async () => { null.boom; };\n');
    sandbox = new LambdaSandbox({ taskRoot: s.task, extensions: [NULL_EXTENSION] });
    await sandbox.start();
    const pid = sandbox.pids.runtime;
    const r = await sandbox.invoke({});
    expect(r.status).toBe('error');
    expect(r.errorType).toBe('TypeError');
    expect(r.error).toMatchObject({ errorType: 'TypeError', errorMessage: expect.stringContaining('null') });
    expect(r.report).toMatchObject({ status: 'error', errorType: 'TypeError' });
    const again = await sandbox.invoke({});
    expect(again.record.coldStart).toBe(false);
    expect(sandbox.pids.runtime).toBe(pid);
  });

  it('kills a runtime past its memory size and reports Runtime.OutOfMemory', async () => {
    s = scratch();
    writeFunction(
      s.task,
      'index.mjs',
      `export const handler = async () => {
  const keep = [];
  for (;;) {
    keep.push(Buffer.alloc(8 * 1024 * 1024, 1));
    await new Promise((r) => setImmediate(r));
  }
};
`,
    );
    sandbox = new LambdaSandbox({
      taskRoot: s.task,
      extensions: [NULL_EXTENSION],
      memorySizeMB: 128,
      timeoutMs: 20_000,
    });
    await sandbox.start();
    const r = await sandbox.invoke({});
    expect(r.status).toBe('error');
    expect(r.errorType).toBe('Runtime.OutOfMemory');
    expect(r.report).toMatchObject({
      status: 'error',
      errorType: 'Runtime.OutOfMemory',
      metrics: { memorySizeMB: 128, maxMemoryUsedMB: 128 },
    });
    const done = await sandbox.waitForEvent(
      'platform.runtimeDone',
      (e) => e.record.requestId === r.requestId,
    );
    expect(done.record).toMatchObject({ status: 'error', errorType: 'Runtime.OutOfMemory' });
    expect((await sandbox.invoke({})).record.coldStart).toBe(true);
  });

  it('fails an invoke whose extension crashes, then reinitialises', async () => {
    s = scratch();
    writeFunction(s.task, 'index.mjs', 'export const handler = async () => "ok";\n');
    writeExtension(s.extensions, 'fragile', { crashOnInvokeOnce: join(s.dir, 'crashed') });
    sandbox = new LambdaSandbox({ taskRoot: s.task, extensionsDir: s.extensions });
    await sandbox.start();
    const r = await sandbox.invoke({});
    expect(r.status).toBe('failure');
    expect(r.errorType).toBe('Extension.Crash');
    const next = await sandbox.invoke({});
    expect(next.status).toBe('success');
    expect(next.reset).toBeUndefined();
    expect(next.record.coldStart).toBe(true);
  });

  it('resets an environment whose extension died between invocations', async () => {
    s = scratch();
    writeFunction(s.task, 'index.mjs', 'export const handler = async () => "ok";\n');
    writeExtension(s.extensions, 'fragile');
    sandbox = new LambdaSandbox({ taskRoot: s.task, extensionsDir: s.extensions });
    await sandbox.start();
    const victim = sandbox.pids.extensions[0]!.pid;
    process.kill(victim, 'SIGKILL');
    // Wait until the sandbox has seen the exit (a frozen process dies of SIGKILL too).
    await vi.waitFor(() => expect(sandbox!.pids.extensions).toHaveLength(0), { timeout: 5000, interval: 5 });
    const r = await sandbox.invoke({});
    expect(r.status).toBe('success');
    expect(r.record.coldStart).toBe(true);
    expect(sandbox.pids.extensions[0]!.pid).not.toBe(victim);
  });
});

describe('runtime failures', () => {
  it('reports a runtime that exits mid-invoke as Runtime.ExitError and resets', async () => {
    s = scratch();
    writeFunction(
      s.task,
      'index.mjs',
      'export const handler = async (e) => { if (e.exit) process.exit(3); return "ok"; };\n',
    );
    sandbox = new LambdaSandbox({ taskRoot: s.task, extensions: [NULL_EXTENSION] });
    await sandbox.start();
    const r = await sandbox.invoke({ exit: true });
    expect(r).toMatchObject({ status: 'failure', errorType: 'Runtime.ExitError' });
    const done = await sandbox.waitForEvent(
      'platform.runtimeDone',
      (e) => e.record.requestId === r.requestId,
    );
    expect(done.record).toMatchObject({ status: 'failure', errorType: 'Runtime.ExitError' });
    expect((await sandbox.invoke({})).record.coldStart).toBe(true);
  });

  it('keeps the error an uncaught exception reported, then resets', async () => {
    s = scratch();
    writeFunction(
      s.task,
      'index.mjs',
      'export const handler = async (e) => { if (e.throw) setTimeout(() => { throw new SyntaxError("late"); }, 0); await new Promise((r) => setTimeout(r, 1000)); return "ok"; };\n',
    );
    sandbox = new LambdaSandbox({ taskRoot: s.task, extensions: [NULL_EXTENSION] });
    await sandbox.start();
    const r = await sandbox.invoke({ throw: true });
    expect(r).toMatchObject({ status: 'error', errorType: 'SyntaxError' });
    await sandbox.waitForEvent('function', (e) =>
      String(e.record).includes(`${r.requestId}\tERROR\t{"errorType":"SyntaxError"`),
    );
    expect((await sandbox.invoke({})).record.coldStart).toBe(true);
  });

  it('refuses a response over 6 MB with Function.ResponseSizeTooLarge', async () => {
    s = scratch();
    writeFunction(s.task, 'index.mjs', 'export const handler = async () => "x".repeat(7 * 1024 * 1024);\n');
    sandbox = new LambdaSandbox({ taskRoot: s.task, extensions: [NULL_EXTENSION] });
    await sandbox.start();
    const r = await sandbox.invoke({});
    expect(r).toMatchObject({ status: 'error', errorType: 'Function.ResponseSizeTooLarge' });
  });
});

describe('init failures and the suppressed init', () => {
  it('retries a failed init inside the first invoke (phase invoke)', async () => {
    s = scratch();
    const flag = join(s.dir, 'initialised-once');
    writeFunction(
      s.task,
      'index.mjs',
      `import { existsSync, writeFileSync } from 'node:fs';
if (!existsSync(${JSON.stringify(flag)})) {
  writeFileSync(${JSON.stringify(flag)}, '1');
  throw new RangeError('first init fails');
}
export const handler = async () => 'ok';
`,
    );
    sandbox = new LambdaSandbox({ taskRoot: s.task, extensions: [NULL_EXTENSION] });
    const init = await sandbox.start();
    expect(init).toMatchObject({ status: 'error', errorType: 'RangeError', phase: 'init' });
    expect(existsSync(flag)).toBe(true);
    const r = await sandbox.invoke({});
    expect(r.status).toBe('success');
    expect(r.record.coldStart).toBe(true);
    expect(r.report.metrics.initDurationMs).toBeUndefined();
    const reports = sandbox.events.filter((e) => e.type === 'platform.initReport').map((e) => e.record);
    expect(reports).toEqual([
      expect.objectContaining({ phase: 'init', status: 'error', errorType: 'RangeError' }),
      expect.objectContaining({ phase: 'invoke', status: 'success' }),
    ]);
    const runtimeDone = sandbox.events
      .filter((e) => e.type === 'platform.initRuntimeDone')
      .map((e) => e.record);
    expect(runtimeDone[0]).toMatchObject({ phase: 'init', status: 'error', errorType: 'RangeError' });
    expect(runtimeDone[1]).toMatchObject({ phase: 'invoke', status: 'success' });
    // The retried init is billed inside the invoke.
    expect(r.report.metrics.durationMs).toBeGreaterThanOrEqual(r.record.initDurationMs!);
  });

  it('times out an init past its budget, with initReport timeout', async () => {
    s = scratch();
    writeFunction(s.task, 'index.mjs', 'export const handler = async () => "ok";\n');
    writeExtension(s.extensions, 'sleepy', { registerDelayMs: 700 });
    sandbox = new LambdaSandbox({
      taskRoot: s.task,
      extensionsDir: s.extensions,
      initTimeoutMs: 300,
      timeoutMs: 5000,
    });
    const init = await sandbox.start();
    expect(init.status).toBe('timeout');
    const r = await sandbox.invoke({});
    expect(r.status).toBe('success');
    const reports = sandbox.events.filter((e) => e.type === 'platform.initReport').map((e) => e.record);
    expect(reports.map((x) => [x.phase, x.status])).toEqual([
      ['init', 'timeout'],
      ['invoke', 'success'],
    ]);
    expect(reports[0]!.metrics.durationMs).toBeGreaterThanOrEqual(300);
  });

  it('fails init on an extension init/error, a missing handler, or a crash before register', async () => {
    s = scratch();
    writeFunction(s.task, 'index.mjs', 'export const handler = async () => "ok";\n');
    writeExtension(s.extensions, 'broken', { initError: 'Extension.ConfigInvalid' });
    sandbox = new LambdaSandbox({ taskRoot: s.task, extensionsDir: s.extensions, timeoutMs: 1000 });
    expect(await sandbox.start()).toMatchObject({ status: 'error', errorType: 'Extension.ConfigInvalid' });
    const r = await sandbox.invoke({});
    expect(r).toMatchObject({ status: 'error', errorType: 'Extension.ConfigInvalid' });
    await sandbox.shutdown();

    sandbox = new LambdaSandbox({ taskRoot: s.task, handler: 'index.missing', extensions: [NULL_EXTENSION] });
    expect(await sandbox.start()).toMatchObject({ status: 'error', errorType: 'Runtime.HandlerNotFound' });
    await sandbox.shutdown();
    sandbox = new LambdaSandbox({
      taskRoot: s.task,
      handler: 'nofile.handler',
      extensions: [NULL_EXTENSION],
    });
    expect(await sandbox.start()).toMatchObject({ status: 'error', errorType: 'Runtime.ImportModuleError' });
    await sandbox.shutdown();

    const crash = writeExtension(s.dir, 'crasher', { exitAfterRegister: 3 });
    sandbox = new LambdaSandbox({ taskRoot: s.task, extensions: [crash] });
    expect(await sandbox.start()).toMatchObject({ status: 'error', errorType: 'Extension.Crash' });
  });
});

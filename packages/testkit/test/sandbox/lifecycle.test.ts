import { afterEach, describe, expect, it } from 'vitest';
import { LambdaSandbox, NULL_EXTENSION, NULL_EXTENSION_DIR, procStatus } from '../../src/index.js';
import { type Scratch, scratch, writeExtension, writeFunction } from './helpers.js';

let s: Scratch;
let sandbox: LambdaSandbox | undefined;
afterEach(async () => {
  await sandbox?.shutdown();
  sandbox = undefined;
  s?.cleanup();
});

const HANDLER = `export const handler = async (event, context) => {
  console.log('got', JSON.stringify(event));
  return { ok: true, n: event.n, requestId: context.awsRequestId, remaining: context.getRemainingTimeInMillis() };
};
`;

describe('LambdaSandbox lifecycle with the null extension', () => {
  it('cold starts, freezes between three invocations, and shuts down', async () => {
    s = scratch();
    writeFunction(s.task, 'index.mjs', HANDLER);
    sandbox = new LambdaSandbox({ taskRoot: s.task, extensionsDir: NULL_EXTENSION_DIR });
    const init = await sandbox.start();
    expect(init.status).toBe('success');
    expect(init.phase).toBe('init');
    const [ext] = init.extensions;
    expect(ext?.name).toBe('null-extension');
    expect(ext?.spawnToRegisterMs).toBeGreaterThan(0);
    expect(ext?.spawnToFirstNextMs).toBeGreaterThanOrEqual(ext!.spawnToRegisterMs!);

    for (let n = 0; n < 3; n++) {
      expect(await sandbox.waitForFreeze()).toBe(true);
      const { runtime, extensions } = sandbox.pids;
      expect(procStatus(runtime!)?.state).toBe('T');
      expect(procStatus(extensions[0]!.pid)?.state).toBe('T');
      const r = await sandbox.invoke({ n });
      expect(r.status).toBe('success');
      expect(r.response).toMatchObject({ ok: true, n, requestId: r.requestId });
      // The handler's console line arrives before its response (the runtime writes synchronously).
      expect(r.logs.map((l) => l.line)).toContainEqual(
        expect.stringContaining(`${r.requestId}\tINFO\tgot {"n":${n}}`),
      );
      expect(r.record.coldStart).toBe(n === 0);
      expect(r.report.metrics.initDurationMs !== undefined).toBe(n === 0);
      expect(r.record.runtimeDurationMs).toBeGreaterThan(0);
      expect(r.record.postRuntimeDurationMs).toBeGreaterThanOrEqual(0);
      expect(r.record.extensions[0]?.rssKB).toBeGreaterThan(1000);
    }
    const pids = sandbox.pids;
    const down = await sandbox.shutdown();
    expect(down.reason).toBe('spindown');
    const nul = down.processes.find((p) => p.name === 'null-extension');
    expect(nul).toMatchObject({ ended: 'exit', code: 0, pid: pids.extensions[0]!.pid });
    expect(procStatus(pids.runtime!)).toBeUndefined();
    const types = sandbox.events.map((e) => e.type).filter((t) => t.startsWith('platform.'));
    expect(types.slice(0, 4)).toEqual([
      'platform.initStart',
      'platform.extension',
      'platform.initRuntimeDone',
      'platform.initReport',
    ]);
    expect(types.filter((t) => t === 'platform.report')).toHaveLength(3);
  });

  it('kills an extension that ignores SHUTDOWN at the deadline', async () => {
    s = scratch();
    writeFunction(s.task, 'index.mjs', HANDLER);
    writeExtension(s.extensions, 'stubborn', { ignoreShutdown: true });
    sandbox = new LambdaSandbox({
      taskRoot: s.task,
      extensionsDir: s.extensions,
      extensions: [NULL_EXTENSION],
      shutdownTimeoutMs: 600,
    });
    expect((await sandbox.start()).status).toBe('success');
    await sandbox.invoke({ n: 1 });
    const down = await sandbox.shutdown();
    expect(down.processes.find((p) => p.name === 'stubborn')).toMatchObject({
      ended: 'killed',
      signal: 'SIGKILL',
    });
    expect(down.processes.find((p) => p.name === 'null-extension')).toMatchObject({ ended: 'exit', code: 0 });
    expect(down.durationMs).toBeGreaterThanOrEqual(590);
    sandbox = undefined;
  });
});

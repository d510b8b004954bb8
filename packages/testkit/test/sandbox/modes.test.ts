import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LambdaSandbox, NULL_EXTENSION_DIR, procStatus } from '../../src/index.js';
import {
  type Scratch,
  scratch,
  subscription,
  TelemetryReceiver,
  writeExtension,
  writeFunction,
} from './helpers.js';

let s: Scratch;
let sandbox: LambdaSandbox | undefined;
let receiver: TelemetryReceiver | undefined;
afterEach(async () => {
  await sandbox?.shutdown();
  await receiver?.close();
  sandbox = undefined;
  receiver = undefined;
  s?.cleanup();
});

describe('managed instances and SnapStart', () => {
  it('runs SHUTDOWN-only extensions without freezing in managed-instances mode', async () => {
    s = scratch();
    receiver = await new TelemetryReceiver().start();
    writeFunction(
      s.task,
      'index.mjs',
      'export const handler = async () => process.env.AWS_LAMBDA_INITIALIZATION_TYPE;\n',
    );
    writeExtension(s.extensions, 'old-schema', {
      events: ['SHUTDOWN'],
      subscribe: subscription(receiver.port),
    });
    writeExtension(s.extensions, 'new-schema', {
      events: ['SHUTDOWN'],
      subscribe: subscription(receiver.port, { schemaVersion: '2025-01-29' }),
    });
    sandbox = new LambdaSandbox({
      taskRoot: s.task,
      extensionsDir: s.extensions,
      extensions: [`${NULL_EXTENSION_DIR}/null-extension`],
      initializationType: 'lambda-managed-instances',
    });
    expect((await sandbox.start()).status).toBe('success');
    // Only 2025-01-29 subscriptions are accepted in this mode.
    await sandbox.waitForEvent('extension', (e) => String(e.record).startsWith('subscribe 400'));
    await sandbox.waitForEvent('extension', (e) => e.record === 'subscribe 200 "OK"');
    const start = sandbox.events.find((e) => e.type === 'platform.initStart')!;
    expect(start.record).toMatchObject({
      initializationType: 'lambda-managed-instances',
      instanceId: expect.any(String),
      instanceMaxMemory: 1024 * 1024 * 1024,
    });
    const r = await sandbox.invoke({});
    expect(r.response).toBe('lambda-managed-instances');
    expect(r.report.metrics).toEqual({ durationMs: expect.any(Number) });
    expect(r.record.extensions.map((e) => e.events)).toEqual([['SHUTDOWN'], ['SHUTDOWN'], ['SHUTDOWN']]);
    expect(sandbox.frozen).toBe(false);
    expect(procStatus(sandbox.pids.runtime!)?.state).not.toBe('T');
    await receiver.waitFor((e) => e.some((x) => x.type === 'platform.report'));
    const down = await sandbox.shutdown();
    expect(down.processes.filter((p) => p.name !== 'runtime').every((p) => p.ended === 'exit')).toBe(true);
    sandbox = undefined;
  });

  it('emits restore events on the first invoke with snapStart', async () => {
    s = scratch();
    writeFunction(s.task, 'index.mjs', 'export const handler = async () => "ok";\n');
    sandbox = new LambdaSandbox({ taskRoot: s.task, extensionsDir: NULL_EXTENSION_DIR, snapStart: true });
    await sandbox.start();
    const first = await sandbox.invoke({});
    const second = await sandbox.invoke({});
    expect(first.report.metrics.restoreDurationMs).toBeGreaterThanOrEqual(0);
    expect(first.report.metrics.initDurationMs).toBeUndefined();
    expect(second.report.metrics.restoreDurationMs).toBeUndefined();
    const types = sandbox.events.map((e) => e.type).filter((t) => t.startsWith('platform.restore'));
    expect(types).toEqual(['platform.restoreStart', 'platform.restoreRuntimeDone', 'platform.restoreReport']);
    expect(sandbox.events.find((e) => e.type === 'platform.initStart')?.record.initializationType).toBe(
      'snap-start',
    );
  });

  it('turns the extensions off when /opt holds disable-extensions-jwigqn8j', async () => {
    s = scratch();
    writeFunction(s.task, 'index.mjs', 'export const handler = async () => "ok";\n');
    writeFileSync(join(s.dir, 'disable-extensions-jwigqn8j'), '');
    sandbox = new LambdaSandbox({ taskRoot: s.task, extensionsDir: NULL_EXTENSION_DIR, optDir: s.dir });
    const init = await sandbox.start();
    expect(init.extensions).toEqual([]);
    expect((await sandbox.invoke({})).status).toBe('success');
  });

  it('reports no initDurationMs for provisioned concurrency', async () => {
    s = scratch();
    writeFunction(
      s.task,
      'index.mjs',
      'export const handler = async () => process.env.AWS_LAMBDA_INITIALIZATION_TYPE;\n',
    );
    sandbox = new LambdaSandbox({
      taskRoot: s.task,
      extensionsDir: NULL_EXTENSION_DIR,
      initializationType: 'provisioned-concurrency',
    });
    await sandbox.start();
    const r = await sandbox.invoke({});
    expect(r.response).toBe('provisioned-concurrency');
    expect(r.report.metrics.initDurationMs).toBeUndefined();
  });
});

import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { LambdaSandbox, type TelemetryEvent, validateSubscription } from '../../src/index.js';
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

const types = (events: TelemetryEvent[]) => events.map((e) => e.type);

describe('Telemetry API subscription validation', () => {
  it('accepts the documented shapes and fills in the buffering defaults', () => {
    const v = validateSubscription({
      schemaVersion: '2022-07-01',
      destination: { protocol: 'HTTP', URI: 'http://sandbox:8999/' },
      types: ['platform'],
    });
    expect(v).toEqual({
      ok: true,
      value: {
        schemaVersion: '2022-07-01',
        destination: {
          protocol: 'HTTP',
          URI: 'http://sandbox:8999/',
          port: 8999,
          path: '/',
          host: 'sandbox:8999',
        },
        types: ['platform'],
        buffering: { maxItems: 1000, maxBytes: 262144, timeoutMs: 1000 },
      },
    });
    expect(
      validateSubscription({
        schemaVersion: '2025-01-29',
        destination: { protocol: 'TCP', port: 9000 },
        types: ['function', 'extension'],
        buffering: { maxItems: 10000, maxBytes: 1048576, timeoutMs: 30000 },
      }).ok,
    ).toBe(true);
  });

  it('rejects out-of-range buffering, unknown types and foreign hosts', () => {
    const base = {
      schemaVersion: '2022-12-13',
      destination: { protocol: 'HTTP', URI: 'http://sandbox:1/' },
      types: ['platform'],
    };
    const cases: unknown[] = [
      null,
      { ...base, schemaVersion: undefined },
      { ...base, types: 'platform' },
      { ...base, types: ['platform', 'platform'] },
      { ...base, destination: { protocol: 'HTTP', URI: 'https://sandbox:1/' } },
      { ...base, destination: { protocol: 'HTTP', URI: 'http://127.0.0.1:1/' } },
      { ...base, destination: { protocol: 'TCP', port: 70000 } },
      { ...base, buffering: { maxItems: 10001 } },
      { ...base, buffering: { maxBytes: 262143 } },
      { ...base, buffering: { timeoutMs: 30001 } },
      { ...base, buffering: { timeoutMs: 25.5 } },
    ];
    for (const c of cases) expect(validateSubscription(c).ok, JSON.stringify(c)).toBe(false);
    expect(validateSubscription({ ...base }, '2025-01-29').ok).toBe(false);
  });
});

describe('Telemetry API delivery', () => {
  it('replays init events to a subscriber and delivers every platform event and log record', async () => {
    s = scratch();
    receiver = await new TelemetryReceiver().start();
    writeFunction(
      s.task,
      'index.mjs',
      'export const handler = async () => { console.log("line one\\nline two"); return { ok: 1 }; };\n',
    );
    writeExtension(s.extensions, 'listener', {
      subscribe: subscription(receiver.port),
      logOnInvoke: 'ext saw invoke',
    });
    sandbox = new LambdaSandbox({ taskRoot: s.task, extensionsDir: s.extensions });
    expect((await sandbox.start()).status).toBe('success');
    // timeoutMs 25: init events arrive without waiting for an invoke.
    await receiver.waitFor((e) => types(e).includes('platform.initReport'));
    const r = await sandbox.invoke({});
    // The report is flushed at the end of the invoke; the receiver runs in this process, so the
    // freeze of the extension does not hold it back.
    // The extension's line and the report race to the sandbox: wait for both.
    await receiver.waitFor(
      (e) =>
        types(e).includes('platform.report') &&
        e.some((x) => x.type === 'extension' && x.record === 'ext saw invoke'),
    );
    const got = receiver.events;
    expect(types(got).slice(0, 2)).toEqual(['platform.initStart', 'platform.telemetrySubscription']);
    expect(types(got)).toEqual(
      expect.arrayContaining([
        'platform.telemetrySubscription',
        'platform.extension',
        'platform.initRuntimeDone',
        'platform.initReport',
        'platform.start',
        'function',
        'platform.runtimeDone',
        'platform.report',
      ]),
    );
    const sub = got.find((e) => e.type === 'platform.telemetrySubscription')!;
    expect(sub.record).toEqual({
      name: 'listener',
      state: 'Subscribed',
      types: ['platform', 'function', 'extension'],
    });
    const fn = got.find((e) => e.type === 'function')!;
    expect(fn.record).toMatch(
      new RegExp(
        `^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z\\t${r.requestId}\\tINFO\\tline one\\nline two\\n$`,
      ),
    );
    expect(got.some((e) => e.type === 'extension' && e.record === 'ext saw invoke')).toBe(true);
    const done = got.find((e) => e.type === 'platform.runtimeDone')!;
    expect(done.record).toMatchObject({
      requestId: r.requestId,
      status: 'success',
      metrics: { durationMs: expect.any(Number), producedBytes: 8 },
      spans: [
        { name: 'responseLatency', start: expect.any(String), durationMs: expect.any(Number) },
        { name: 'responseDuration', start: expect.any(String), durationMs: expect.any(Number) },
      ],
    });
    const report = got.find((e) => e.type === 'platform.report')!;
    expect(report.record).toMatchObject({
      requestId: r.requestId,
      status: 'success',
      metrics: { memorySizeMB: 1024, initDurationMs: expect.any(Number) },
    });
    for (const e of got) expect(e.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    for (const b of receiver.batches) {
      expect(b.headers['content-type']).toBe('application/json');
      expect(b.headers.host).toBe(`sandbox:${receiver.port}`);
    }
  });

  it('holds events until timeoutMs or the end of the invoke, and signs each batch', async () => {
    s = scratch();
    receiver = await new TelemetryReceiver().start();
    writeFunction(s.task, 'index.mjs', 'export const handler = async () => "ok";\n');
    writeExtension(s.extensions, 'listener', {
      subscribe: subscription(receiver.port, {
        buffering: { maxItems: 1000, maxBytes: 262144, timeoutMs: 30000 },
      }),
    });
    sandbox = new LambdaSandbox({ taskRoot: s.task, extensionsDir: s.extensions });
    await sandbox.start();
    await sandbox.invoke({});
    await receiver.waitFor((e) => types(e).includes('platform.report'));
    // Nothing left before the end-of-invoke flush: init and invoke events come in one batch.
    const first = receiver.batches[0]!;
    expect(types(first.events)).toContain('platform.initStart');
    expect(types(first.events)).toContain('platform.report');
    const body = JSON.stringify(first.events);
    expect(first.headers['sequence-id']).toBe(createHash('sha256').update(body).digest('base64'));
  });

  it('splits batches at maxItems and maxBytes', async () => {
    s = scratch();
    receiver = await new TelemetryReceiver().start();
    writeFunction(
      s.task,
      'index.mjs',
      `export const handler = async (event) => {
  for (let i = 0; i < event.lines; i++) console.log(String(i).padStart(6, '0') + 'x'.repeat(event.size));
  return 'ok';
};
`,
    );
    writeExtension(s.extensions, 'listener', {
      subscribe: subscription(receiver.port, {
        types: ['function'],
        buffering: { maxItems: 1000, maxBytes: 262144, timeoutMs: 25 },
      }),
    });
    sandbox = new LambdaSandbox({ taskRoot: s.task, extensionsDir: s.extensions });
    await sandbox.start();
    await sandbox.invoke({ lines: 2500, size: 10 });
    await receiver.waitFor((e) => e.length >= 2500);
    expect(Math.max(...receiver.batches.map((b) => b.events.length))).toBeLessThanOrEqual(1000);
    const before = receiver.batches.length;
    await sandbox.invoke({ lines: 600, size: 2000 });
    await receiver.waitFor((e) => e.length >= 3100);
    const big = receiver.batches.slice(before);
    for (const b of big) expect(b.bytes).toBeLessThanOrEqual(262144);
    expect(big.length).toBeGreaterThanOrEqual(5);
    // Order is kept across batches.
    const seq = receiver.events.map((e) => Number(String(e.record).split('\t')[3]!.slice(0, 6)));
    expect(seq.slice(0, 2500)).toEqual([...Array(2500).keys()]);
    expect(seq.slice(2500)).toEqual([...Array(600).keys()]);
  });

  it('drops log records past the bound of a stalled subscriber and reports platform.logsDropped', async () => {
    s = scratch();
    receiver = await new TelemetryReceiver().start();
    let release: () => void = () => {};
    receiver.gate = new Promise<void>((r) => {
      release = r;
    });
    writeFunction(
      s.task,
      'index.mjs',
      `export const handler = async () => {
  for (let i = 0; i < 6000; i++) console.log('y'.repeat(1000));
  return 'ok';
};
`,
    );
    writeExtension(s.extensions, 'listener', {
      subscribe: subscription(receiver.port, { types: ['platform', 'function'] }),
    });
    sandbox = new LambdaSandbox({ taskRoot: s.task, extensionsDir: s.extensions });
    await sandbox.start();
    await sandbox.invoke({});
    release();
    await receiver.waitFor((e) => types(e).includes('platform.logsDropped'));
    const dropped = receiver.events.find((e) => e.type === 'platform.logsDropped')!;
    expect(dropped.record).toMatchObject({
      reason: expect.any(String),
      droppedRecords: expect.any(Number),
      droppedBytes: expect.any(Number),
    });
    const rec = dropped.record as { droppedRecords: number };
    const delivered = receiver.events.filter((e) => e.type === 'function').length;
    expect(rec.droppedRecords).toBeGreaterThan(0);
    expect(delivered + rec.droppedRecords).toBe(6000);
    const [sub] = sandbox.subscriptions;
    expect(sub?.name).toBe('listener');
    expect(sub?.stats.droppedRecords).toBe(rec.droppedRecords);
  });
});

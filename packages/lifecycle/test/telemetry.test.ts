import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  parseTelemetryEvent,
  register,
  subscribeTelemetry,
  subscriptionRequest,
  type TelemetryEvent,
  TelemetryListener,
} from '../src/index.js';
import { FakeLambdaApi, post, until } from './helpers/lambda-api.js';

const examples = JSON.parse(
  readFileSync(new URL('./fixtures/telemetry-spec-examples.json', import.meta.url), 'utf8'),
);

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

function memoryLogger() {
  const lines: string[] = [];
  const push = (l: string) => (m: string) => lines.push(`${l} ${m}`);
  return {
    lines,
    logger: { debug: push('debug'), info: push('info'), warn: push('warn'), error: push('error') },
  };
}

describe('telemetry subscription', () => {
  it('sends the schema, destination, types and buffering of the real extension', async () => {
    const api = new FakeLambdaApi();
    closers.push(() => api.close());
    const runtimeApi = await api.start();
    const reg = await register({ runtimeApi });
    expect(
      await subscribeTelemetry({
        runtimeApi,
        extensionId: reg.extensionId,
        port: 8999,
        logsEnabled: true,
        managedInstances: false,
      }),
    ).toBe('subscribed');
    const req = api.requests.find((r) => r.url === '/2022-07-01/telemetry')!;
    expect(req.method).toBe('PUT');
    expect(req.headers['lambda-extension-identifier']).toBe(reg.extensionId);
    expect(JSON.parse(req.body)).toEqual({
      schemaVersion: '2022-12-13',
      destination: { protocol: 'HTTP', URI: 'http://sandbox:8999/' },
      types: ['platform', 'function', 'extension'],
      buffering: { maxItems: 1000, maxBytes: 262144, timeoutMs: 25 },
    });
  });

  it('asks for platform alone when logs are off, and the 2025-01-29 schema for managed instances', () => {
    expect(subscriptionRequest({ port: 9000, logsEnabled: false, managedInstances: true })).toEqual({
      schemaVersion: '2025-01-29',
      destination: { protocol: 'HTTP', URI: 'http://sandbox:9000/' },
      types: ['platform'],
      buffering: { maxItems: 1000, maxBytes: 262144, timeoutMs: 25 },
    });
  });

  it("survives an emulator's 202 Telemetry.NotSupported and rejects a 400", async () => {
    const api = new FakeLambdaApi({
      telemetryStatus: 202,
      telemetryBody: '{"errorMessage":"Telemetry API is not supported","errorType":"Telemetry.NotSupported"}',
    });
    closers.push(() => api.close());
    const runtimeApi = await api.start();
    const reg = await register({ runtimeApi });
    const o = {
      runtimeApi,
      extensionId: reg.extensionId,
      port: 8999,
      logsEnabled: true,
      managedInstances: false,
    };
    expect(await subscribeTelemetry(o)).toBe('not-supported');
    api.options.telemetryStatus = 400;
    api.options.telemetryBody = '{"errorType":"ValidationError","errorMessage":"bad"}';
    await expect(subscribeTelemetry(o)).rejects.toMatchObject({ status: 400, errorType: 'ValidationError' });
  });
});

describe('telemetry event parsing', () => {
  it('parses every event of the cold-start example and every variant', () => {
    for (const raw of [...examples.coldStartBatch, ...examples.variants]) {
      const r = parseTelemetryEvent(raw);
      expect(r.ok, JSON.stringify(raw)).toBe(true);
      if (r.ok) {
        expect(r.event.type).toBe(raw.type);
        expect(r.event.time).toBe(Date.parse(raw.time));
      }
    }
    const types = new Set(
      [...examples.coldStartBatch, ...examples.variants].map((e: { type: string }) => e.type),
    );
    for (const t of [
      'platform.initStart',
      'platform.extension',
      'platform.telemetrySubscription',
      'platform.initRuntimeDone',
      'platform.initReport',
      'platform.start',
      'platform.runtimeDone',
      'platform.report',
      'platform.logsDropped',
      'platform.restoreStart',
      'platform.restoreRuntimeDone',
      'platform.restoreReport',
      'function',
      'extension',
    ]) {
      expect(types.has(t), t).toBe(true);
    }
  });

  it('keeps the report metrics and the spans', () => {
    const report = examples.coldStartBatch.find((e: { type: string }) => e.type === 'platform.report');
    const r = parseTelemetryEvent(report);
    expect(r.ok && r.event.type === 'platform.report' && r.event.record).toMatchObject({
      requestId: '6d68ca91-49c9-448d-89b8-7ca3e6dc66aa',
      status: 'success',
      metrics: {
        durationMs: 129.81,
        billedDurationMs: 130,
        memorySizeMB: 1024,
        maxMemoryUsedMB: 86,
        initDurationMs: 321.5,
      },
      spans: [
        { name: 'responseLatency', start: '2024-05-01T12:00:00.431Z', durationMs: 98.2 },
        { name: 'responseDuration', start: '2024-05-01T12:00:00.529Z', durationMs: 0.4 },
      ],
    });
  });

  it('tells unknown types from malformed events', () => {
    expect(
      parseTelemetryEvent({ time: '2024-05-01T12:00:00Z', type: 'platform.brandNew', record: {} }),
    ).toEqual({
      ok: false,
      reason: 'unknown-type',
      type: 'platform.brandNew',
    });
    expect(
      parseTelemetryEvent({ time: '2024-05-01T12:00:00Z', type: 'platform.start', record: {} }),
    ).toMatchObject({
      ok: false,
      reason: 'malformed',
    });
    expect(parseTelemetryEvent({ time: 'yesterday', type: 'function', record: 'x' })).toMatchObject({
      reason: 'malformed',
    });
    expect(parseTelemetryEvent(42)).toMatchObject({ reason: 'malformed' });
    expect(
      parseTelemetryEvent({
        time: '2024-05-01T12:00:00Z',
        type: 'platform.report',
        record: { requestId: 'a', metrics: { durationMs: 'x' } },
      }),
    ).toMatchObject({ reason: 'malformed' });
  });
});

describe('TelemetryListener', () => {
  async function listener(opts: ConstructorParameters<typeof TelemetryListener>[1] = {}) {
    const got: TelemetryEvent[] = [];
    const l = new TelemetryListener((events) => got.push(...events), { port: 0, ...opts });
    closers.push(() => l.close());
    const port = await l.start();
    return { l, got, port };
  }

  it('binds all interfaces and answers 200 "OK"', async () => {
    const { l, got, port } = await listener();
    expect((l as unknown as { server: { address(): AddressInfo } }).server.address().address).toBe('0.0.0.0');
    const res = await post(port, '/', JSON.stringify(examples.coldStartBatch));
    expect(res).toMatchObject({ status: 200, body: '"OK"' });
    await until(() => got.length === examples.coldStartBatch.length);
    expect(got.map((e) => e.type)).toEqual(examples.coldStartBatch.map((e: { type: string }) => e.type));
  });

  it('skips unknown and malformed events one by one, never the batch', async () => {
    const m = memoryLogger();
    const { l, got, port } = await listener({ logger: m.logger });
    const batch = [
      examples.coldStartBatch[4],
      { time: '2024-05-01T12:00:00.500Z', type: 'platform.somethingNew', record: { a: 1 } },
      { time: '2024-05-01T12:00:00.500Z', type: 'platform.somethingNew', record: { a: 2 } },
      { time: '2024-05-01T12:00:00.500Z', type: 'platform.start', record: { requestId: 7 } },
      'garbage',
      examples.coldStartBatch[5],
    ];
    expect((await post(port, '/', JSON.stringify(batch))).status).toBe(200);
    await until(() => got.length === 2);
    expect(got.map((e) => e.type)).toEqual(['platform.initReport', 'platform.start']);
    expect(l.stats).toMatchObject({
      batches: 1,
      events: 2,
      unknownType: 2,
      malformed: 2,
      unknownTypes: { 'platform.somethingNew': 2 },
    });
    expect(m.lines.filter((x) => x.includes('somethingNew'))).toHaveLength(1);
  });

  it('answers 200 to a body that is not JSON, and to an oversized one, counting both', async () => {
    const { l, got, port } = await listener({ maxBodyBytes: 1024 });
    expect((await post(port, '/', '[{"time":')).status).toBe(200);
    expect(
      (await post(port, '/', JSON.stringify([examples.coldStartBatch[6]]).padEnd(5000, ' '))).status,
    ).toBe(200);
    expect(l.stats).toMatchObject({ unparsableBatches: 1, oversizedBatches: 1, batches: 2 });
    expect(got).toHaveLength(0);
  });

  it('hands events on after answering, and bounds what it queues', async () => {
    const got: TelemetryEvent[] = [];
    const l = new TelemetryListener((events) => got.push(...events), { port: 0, maxQueuedEvents: 3 });
    l.accept(JSON.stringify(examples.coldStartBatch));
    expect(l.stats.droppedOverflow).toBe(examples.coldStartBatch.length - 3);
    expect(got).toHaveLength(0); // delivered on a later turn, once the answer is on its way
    await new Promise((r) => setImmediate(r));
    expect(got).toHaveLength(3);
  });
});

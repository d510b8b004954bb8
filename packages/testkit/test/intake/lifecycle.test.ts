import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { type DatadogIntake, DEFAULT_INTAKE_API_KEY, formatRequest, startIntake } from '../../src/index.js';
import { send } from './helpers/http.js';

const started: DatadogIntake[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((i) => i.stop()));
});
const start = async (opts?: ConstructorParameters<typeof DatadogIntake>[0]) => {
  const i = await startIntake(opts);
  started.push(i);
  return i;
};
const log = (i: DatadogIntake, body = '[{"message":"m"}]', headers: Record<string, string> = {}) =>
  send(i.url, '/api/v2/logs', { body, headers: { 'dd-api-key': i.apiKey, ...headers } });

describe('intake lifecycle', () => {
  it('binds 127.0.0.1 on a free port; two intakes run side by side', async () => {
    const [a, b] = await Promise.all([start(), start()]);
    expect(a.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(a.port).not.toBe(b.port);
    expect((await log(a)).status).toBe(202);
    expect(b.requests()).toEqual([]);
  });

  it('accepts the default key unless told otherwise, or any key with apiKeys: "any"', async () => {
    const a = await start();
    expect(a.apiKey).toBe(DEFAULT_INTAKE_API_KEY);
    const any = await start({ apiKeys: 'any' });
    expect((await log(any, '[]', { 'dd-api-key': 'whatever' })).status).toBe(202);
    expect((await send(any.url, '/api/v2/logs', { body: '[]' })).status).toBe(401);
  });

  it('stops idempotently, and a pending waitFor rejects when it stops', async () => {
    const i = await start();
    const waiting = i.waitFor((x) => x.logs().length > 0, { timeoutMs: 10_000 });
    await i.stop();
    await i.stop();
    await expect(waiting).rejects.toThrow(/intake stopped/);
  });

  it('reports each request to onRequest listeners, with a printable line that hides the key', async () => {
    const i = await start({ apiKeys: ['secret-key-123456789'] });
    const lines: string[] = [];
    const off = i.onRequest((r) => lines.push(formatRequest(r)));
    await log(i, '[{"message":"a"},{"message":"b"}]', { 'dd-api-key': 'secret-key-123456789' });
    i.fault({ status: 503, times: 1 });
    await log(i, '[]', { 'dd-api-key': 'secret-key-123456789' });
    off();
    await log(i, '[]', { 'dd-api-key': 'secret-key-123456789' });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^#1 POST \/api\/v2\/logs logs identity \d+ B → 202 \(2 items\)$/);
    expect(lines[1]).toContain('→ 503 [fault #1 (status 503)]');
    expect(lines.join('\n')).not.toContain('secret-key');
  });

  it('describes itself without the key', async () => {
    const i = await start({ https: true, apiKeys: ['secret-key-123456789'] });
    const d = i.describe();
    expect(d).toMatchObject({ url: i.url, httpsUrl: i.httpsUrl, apiKey: '***56789' });
    expect(d.paths).toContain('/api/v2/series');
    expect(d.paths).toContain('/intake/');
  });

  it('bounds what it keeps and counts what it dropped', async () => {
    const i = await start({ maxRecordedRequests: 2, maxRecordedItems: 3 });
    for (let n = 0; n < 3; n++) await log(i, JSON.stringify([{ message: `${n}a` }, { message: `${n}b` }]));
    expect(i.requests().map((r) => r.id)).toEqual([2, 3]);
    expect(i.droppedRequests).toBe(1);
    expect(i.logs().map((l) => l['message'])).toEqual(['1b', '2a', '2b']);
    expect(i.droppedItems).toBe(3);
  });

  it('clear() forgets the record but keeps faults', async () => {
    const i = await start();
    await log(i);
    i.fault({ status: 500 });
    i.clear();
    expect(i.requests()).toEqual([]);
    expect(i.logs()).toEqual([]);
    expect((await log(i)).status).toBe(500);
  });

  it('waits for logs, spans and distributions with the typed helpers', async () => {
    const i = await start();
    const logs = i.waitForLogs(2);
    await log(i, '[{"message":"x"},{"message":"y"}]');
    expect((await logs).map((l) => l['message'])).toEqual(['x', 'y']);
    await expect(i.waitForSpans(1, undefined, { timeoutMs: 30 })).rejects.toThrow(/1 span\(s\)/);
    await expect(i.waitForDistribution('d', { timeoutMs: 30 })).rejects.toThrow(/sketch\(es\) of d/);
  });

  it('takes 150 concurrent requests of mixed kinds and records every one', async () => {
    const i = await start();
    const headers = {
      'dd-api-key': i.apiKey,
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    };
    const series = (n: number) =>
      gzipSync(
        JSON.stringify({ series: [{ metric: `c.${n}`, type: 3, points: [{ timestamp: 1, value: n }] }] }),
      );
    const sends = Array.from({ length: 150 }, (_, n) =>
      n % 3 === 0
        ? send(i.url, '/api/v2/series', { body: series(n), headers })
        : n % 3 === 1
          ? send(i.url, '/api/v2/logs', { body: gzipSync(`[{"message":"c${n}"}]`), headers })
          : send(i.url, '/api/v1/check_run', { body: gzipSync(`[{"check":"c${n}","status":0}]`), headers }),
    );
    const answers = await Promise.all(sends);
    expect(answers.every((a) => a.status === 202)).toBe(true);
    expect(i.requests()).toHaveLength(150);
    expect(new Set(i.requests().map((r) => r.id)).size).toBe(150);
    expect(i.metrics()).toHaveLength(50);
    expect(i.logs()).toHaveLength(50);
    expect(i.checks()).toHaveLength(50);
  });

  it('disposes with await using', async () => {
    let url = '';
    {
      await using i = await startIntake();
      url = i.url;
      expect((await log(i)).status).toBe(202);
    }
    await expect(send(url, '/api/v2/logs', { body: '[]', timeoutMs: 2000 })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
  });
});

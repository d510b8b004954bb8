import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DatadogIntake, startIntake } from '../../src/index.js';
import { send } from './helpers/http.js';

let intake: DatadogIntake;
beforeEach(async () => {
  intake = await startIntake();
});
afterEach(() => intake.stop());

const logs = (body = '[{"message":"m"}]', key = intake.apiKey, timeoutMs?: number) =>
  send(intake.url, '/api/v2/logs', {
    body,
    headers: { 'dd-api-key': key, 'content-type': 'application/json' },
    timeoutMs,
  });

describe('fault injection', () => {
  it.each([500, 503, 429, 403, 413])('answers %i on the faulted path only', async (status) => {
    intake.fault({ path: '/api/v2/logs', status });
    const res = await logs();
    expect(res.status).toBe(status);
    expect(intake.logs()).toEqual([]);
    const other = await send(intake.url, '/api/v1/validate', {
      method: 'GET',
      headers: { 'dd-api-key': intake.apiKey },
    });
    expect(other.status).toBe(200);
    const [rec] = intake.requests({ kind: 'logs' });
    expect(rec).toMatchObject({ status, fault: expect.stringContaining(`status ${status}`) });
    // The refused request is still decoded for inspection.
    expect(rec!.decoded).toEqual([{ message: 'm' }]);
  });

  it('fails N times, then recovers', async () => {
    const fault = intake.fault({ path: '/api/v2/logs', status: 503, times: 2 });
    expect((await logs()).status).toBe(503);
    expect((await logs()).status).toBe(503);
    expect(fault.spent).toBe(true);
    expect((await logs()).status).toBe(202);
    expect(fault.hits).toBe(2);
    expect(intake.logs()).toHaveLength(1);
  });

  it('lets the first requests through with `after`', async () => {
    intake.fault({ path: '/api/v2/*', status: 500, after: 1, times: 1 });
    expect((await logs()).status).toBe(202);
    expect((await logs()).status).toBe(500);
    expect((await logs()).status).toBe(202);
  });

  it('sends custom headers such as Retry-After with a 429', async () => {
    intake.fault({
      path: '*',
      status: 429,
      headers: { 'retry-after': '1' },
      body: '{"errors":["slow down"]}',
    });
    const res = await logs();
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.text).toBe('{"errors":["slow down"]}');
  });

  it('faults one destination API key and not another', async () => {
    intake.setApiKeys(['key-primary-00000', 'key-secondary-000']);
    intake.fault({ apiKey: 'key-secondary-000', status: 500 });
    expect((await logs(undefined, 'key-primary-00000')).status).toBe(202);
    expect((await logs(undefined, 'key-secondary-000')).status).toBe(500);
    expect(intake.requests({ apiKey: 'key-secondary-000' })).toHaveLength(1);
  });

  it('faults by destination host', async () => {
    intake.fault({ destination: 'other.example', status: 503 });
    expect((await logs()).status).toBe(202);
    const res = await send(intake.url, '/api/v2/logs', {
      body: '[]',
      headers: { host: 'other.example', 'dd-api-key': intake.apiKey, 'content-type': 'application/json' },
    });
    expect(res.status).toBe(503);
  });

  it('delays the answer, then processes normally', async () => {
    intake.fault({ path: '/api/v2/logs', delayMs: 300 });
    const t0 = performance.now();
    const res = await logs();
    expect(res.status).toBe(202);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    expect(intake.logs()).toHaveLength(1);
    const [rec] = intake.requests();
    expect(rec!.answeredAt! - rec!.receivedAt).toBeGreaterThanOrEqual(290);
  });

  it('delays and then fails when both are given', async () => {
    intake.fault({ path: '/api/v2/logs', delayMs: 100, status: 500 });
    expect((await logs()).status).toBe(500);
  });

  it('resets the connection', async () => {
    intake.fault({ path: '/api/v2/logs', reset: true, times: 1 });
    await expect(logs()).rejects.toMatchObject({
      code: expect.stringMatching(/ECONNRESET|EPIPE|socket hang up/),
    });
    expect(intake.requests()[0]).toMatchObject({
      status: undefined,
      fault: expect.stringContaining('reset'),
    });
    expect((await logs()).status).toBe(202);
  });

  it('loses the answer: the data is accepted, the client sees a reset, and a retry duplicates it', async () => {
    intake.fault({ path: '/api/v2/logs', loseAnswer: true, times: 1 });
    await expect(logs('[{"message":"once"}]')).rejects.toMatchObject({
      code: expect.stringMatching(/ECONNRESET|EPIPE|socket hang up/),
    });
    expect(intake.logs('once')).toHaveLength(1);
    expect(intake.requests()[0]).toMatchObject({
      status: undefined,
      items: 1,
      fault: expect.stringContaining('lost answer'),
    });
    expect((await logs('[{"message":"once"}]')).status).toBe(202);
    expect(intake.logs('once')).toHaveLength(2);
  });

  it('loses the answer of a refused request without accepting its data', async () => {
    intake.fault({ path: '/api/v2/logs', loseAnswer: true, times: 1 });
    await expect(logs('[{"message":"refused"}]', 'wrong-key')).rejects.toThrow();
    expect(intake.logs('refused')).toEqual([]);
    expect(intake.requests()[0]).toMatchObject({ items: 0, error: 'Forbidden' });
  });

  it('a pooled keep-alive client (fetch) sees the reset and recovers on the next request', async () => {
    const post = () =>
      fetch(`${intake.url}/api/v2/logs`, {
        method: 'POST',
        body: '[{"message":"pooled"}]',
        headers: { 'dd-api-key': intake.apiKey, 'content-type': 'application/json' },
      });
    expect((await post()).status).toBe(202);
    intake.fault({ path: '/api/v2/logs', reset: true, times: 1 });
    await expect(post()).rejects.toThrow(/fetch failed/);
    expect((await post()).status).toBe(202);
    expect(intake.logs('pooled')).toHaveLength(2);
  });

  it('black-holes: never answers, so the client times out', async () => {
    intake.fault({ path: '/api/v2/logs', blackhole: true });
    await expect(logs(undefined, undefined, 300)).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(intake.requests()[0]).toMatchObject({
      status: undefined,
      fault: expect.stringContaining('blackhole'),
    });
  });

  it('stops cleanly while a black-holed request is pending', async () => {
    intake.fault({ blackhole: true });
    const pending = logs().catch((e: Error) => e);
    await intake.waitForRequests(1);
    await intake.stop();
    expect(await pending).toBeInstanceOf(Error);
  });

  it('removes a fault by handle and all faults at once', async () => {
    const a = intake.fault({ status: 500 });
    a.remove();
    expect((await logs()).status).toBe(202);
    intake.fault({ status: 500 });
    intake.fault({ status: 503 });
    expect((await logs()).status).toBe(503); // newest rule wins
    intake.clearFaults();
    expect((await logs()).status).toBe(202);
  });
});

describe('waitFor', () => {
  it('resolves as soon as the data arrives', async () => {
    const waiting = intake.waitFor((i) => i.logs('late')[0]);
    setImmediate(() => void logs('[{"message":"late"}]'));
    await expect(waiting).resolves.toMatchObject({ message: 'late' });
  });

  it('resolves at once when the data is already there', async () => {
    await logs('[{"message":"early"}]');
    await expect(intake.waitFor((i) => i.logs().length === 1)).resolves.toBe(true);
  });

  it('rejects after the timeout with a summary of what arrived, never showing the key', async () => {
    await logs('[{"message":"x"}]', 'wrong-key-123456');
    const err = (await intake
      .waitFor((i) => i.logs().length > 0, { timeoutMs: 50, description: 'a log' })
      .catch((e: Error) => e)) as Error;
    expect(err.message).toContain('waiting for a log');
    expect(err.message).toContain('logs: 1×403');
    expect(err.message).not.toContain('wrong-key-123456');
  });

  it('waitForMetric waits for a count of points', async () => {
    const waiting = intake.waitForMetric('m', { count: 2 });
    const series = (v: number) =>
      JSON.stringify({
        series: [{ metric: 'm', type: 3, points: [{ timestamp: Math.floor(Date.now() / 1000), value: v }] }],
      });
    const post = (v: number) =>
      send(intake.url, '/api/v2/series', {
        body: series(v),
        headers: { 'dd-api-key': intake.apiKey, 'content-type': 'application/json' },
      });
    await post(1);
    await post(2);
    expect((await waiting).map((p) => p.value)).toEqual([1, 2]);
  });
});

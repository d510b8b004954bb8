import { type DatadogIntake, startIntake } from '@serverless-agent/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Aggregator,
  buildSeriesPayloads,
  flushPayloads,
  type OutgoingPayload,
  type Serie,
} from '../src/index.js';
import { ParseWorkerLink } from '../src/worker-link.js';

/** With `worker`, the aggregator's parsing and flushes run in the parser worker thread. */
function parsingOn(mode: 'main' | 'worker', a: Aggregator): () => Promise<void> {
  if (mode === 'main') return async () => {};
  const link = ParseWorkerLink.start(a);
  if (link === undefined) throw new Error('the parser worker did not start (is dist/ built?)');
  return async () => {
    await link.close();
    await a.flush({ all: true });
  };
}

// The testkit's fake intake decodes with its own wire decoder and schemas, independent of ours.
const PATHS: Record<string, string> = {
  series: '/api/v2/series',
  sketches: '/api/beta/sketches',
  check_run: '/api/v1/check_run',
  events: '/intake/',
};

let intake: DatadogIntake;
beforeAll(async () => {
  intake = await startIntake({ limits: { series: { decompressed: 4000 } } });
});
afterAll(async () => {
  await intake.stop();
});

async function post(p: OutgoingPayload): Promise<number> {
  const res = await fetch(`${intake.url}${PATHS[p.kind]}`, {
    method: 'POST',
    headers: { 'DD-API-KEY': intake.apiKey, 'Content-Type': p.contentType, ...p.headers },
    body: p.body,
  });
  await res.arrayBuffer();
  return res.status;
}

/** Sends a payload, halving it on 413 as the forwarder does. */
async function send(p: OutgoingPayload): Promise<number[]> {
  const status = await post(p);
  if (status !== 413) return [status];
  const halves = p.split?.();
  if (halves === undefined) return [status];
  return (await Promise.all(halves.map(send))).flat();
}

describe('payloads decoded by the testkit intake', () => {
  it.each(['main', 'worker'] as const)(
    'accepts and decodes series, sketches, check runs and events as sent, parsing on the %s thread',
    async (mode) => {
      intake.clear();
      const now = Date.now();
      const nowSec = Math.floor(now / 1000);
      const bucket = nowSec - (nowSec % 10);
      const a = new Aggregator({
        now: () => now,
        globalTags: ['env:prod', 'functionname:f'],
        hostTagOverride: true,
      });
      const end = parsingOn(mode, a);
      a.ingest(
        Buffer.from(
          [
            'req.count:3|c|#route:/a,route:/a',
            'req.count:1|c|@0.5|#route:/a',
            'temp:21.5|g|#host:web1',
            'lat:10:20:30|ms',
            'users:u1|s',
            'users:u2|s',
            '_sc|db.up|1|#db:main|m:slow',
            '_e{6,4}:deploy|v1.2|t:success|#team:x',
          ].join('\n'),
        ),
      );
      for (let i = 1; i <= 1000; i++) a.ingest(Buffer.from(`resp.ms:${i}|d|#route:/a|T${nowSec - 30}`));
      a.submit({ name: 'aws.lambda.enhanced.runtime_duration', value: 12.5, tags: ['cold_start:true'] });
      const payloads = await flushPayloads(a, { all: true });
      expect(payloads.map((p) => p.kind)).toEqual(['series', 'sketches', 'check_run', 'events']);
      for (const p of payloads) expect(await send(p)).toEqual([202]);

      const point = (metric: string) => intake.metrics((m) => m.metric === metric);
      expect(point('req.count')).toMatchObject([
        {
          type: 'count',
          typeCode: 1,
          value: 5,
          interval: 10,
          tags: ['env:prod', 'functionname:f', 'route:/a'],
          timestamp: bucket,
          outOfRange: false,
        },
      ]);
      expect(point('temp')).toMatchObject([{ type: 'gauge', value: 21.5, host: 'web1' }]);
      expect(point('lat.max')).toMatchObject([{ type: 'gauge', value: 30 }]);
      expect(point('lat.count')).toMatchObject([{ type: 'rate', value: 0.3, interval: 10 }]);
      expect(point('users')).toMatchObject([{ type: 'gauge', value: 2 }]);

      const [resp] = intake.distributions((d) => d.metric === 'resp.ms');
      expect(resp).toMatchObject({ count: 1000, min: 1, max: 1000, sum: 500_500, problems: [] });
      expect(resp!.ts).toBe(nowSec - 30 - ((nowSec - 30) % 10));
      expect(resp!.tags).toEqual(['env:prod', 'functionname:f', 'route:/a']);
      for (const [q, exact] of [
        [0.5, 500],
        [0.95, 950],
        [0.99, 990],
      ] as const) {
        expect(Math.abs(resp!.quantile(q) - exact) / exact).toBeLessThan(0.025);
      }
      const [enhanced] = intake.distributions((d) => d.metric === 'aws.lambda.enhanced.runtime_duration');
      expect(enhanced).toMatchObject({ count: 1, sum: 12.5, problems: [] });

      expect(intake.checks()).toMatchObject([
        { check: 'db.up', status: 1, message: 'slow', tags: ['db:main', 'env:prod', 'functionname:f'] },
      ]);
      expect(intake.events()).toMatchObject([
        {
          title: 'deploy',
          text: 'v1.2',
          alertType: 'success',
          tags: ['env:prod', 'functionname:f', 'team:x'],
          format: 'intake',
        },
      ]);
      await end();
    },
  );

  it('a payload over the intake limit gets 413, and its halves are accepted', async () => {
    intake.clear();
    const ts = Math.floor(Date.now() / 1000);
    const series: Serie[] = Array.from({ length: 200 }, (_, i) => ({
      metric: `big.series.${i}`,
      type: 3,
      points: [{ timestamp: ts - (ts % 10), value: i }],
      tags: ['k:v'],
    }));
    const [payload] = buildSeriesPayloads(series);
    expect(payload!.body.length).toBeGreaterThan(4000);
    const statuses = await send(payload!);
    expect(statuses[0]).toBe(202);
    expect(statuses.every((s) => s === 202)).toBe(true);
    expect(statuses.length).toBeGreaterThan(1);
    expect(
      intake
        .metrics()
        .map((m) => m.value)
        .sort((x, y) => x - y),
    ).toEqual(series.map((_, i) => i));
  });

  it.each(['main', 'worker'] as const)(
    'distributions with sample rates and huge counts decode without problems (%s thread)',
    async (mode) => {
      intake.clear();
      const a = new Aggregator();
      const end = parsingOn(mode, a);
      a.ingest(Buffer.from('w:5|d|@0.00001\nw:-3|d\nw:0|d'));
      for (const p of await flushPayloads(a, { all: true })) expect(await send(p)).toEqual([202]);
      const [w] = intake.distributions();
      // 1/0.00001 is 99999.99999999999 in floating point, truncated to 99999 as the agent's uint(1/r).
      expect(w).toMatchObject({ count: 99_999 + 2, min: -3, max: 5, problems: [] });
      expect(w!.k.filter((k) => k === w!.k[w!.k.length - 1]).length).toBe(2);
      await end();
    },
  );
});

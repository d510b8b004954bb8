// Every payload this package builds is POSTed to the testkit's fake Datadog intake, which decodes
// and checks it against the logs API's contract (array of ≤ 1000 objects, ≤ 5 MiB, 1 MiB entries).
import { type DatadogIntake, startIntake } from '@serverless-agent/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildBatches,
  LambdaLogs,
  LogPipeline,
  MAX_BATCH_BYTES,
  type OutgoingPayload,
  type TelemetryEvent,
  TRUNCATED_MARKER,
} from '../src/index.js';
import { ARN, fixture, fn, invocation } from './helpers/telemetry.js';

let intake: DatadogIntake;
beforeAll(async () => {
  intake = await startIntake();
});
afterAll(async () => {
  await intake.stop();
});

async function post(p: OutgoingPayload): Promise<number> {
  const res = await fetch(`${intake.url}/api/v2/logs`, {
    method: 'POST',
    headers: { 'DD-API-KEY': intake.apiKey, 'Content-Type': p.contentType, ...p.headers },
    body: p.body,
  });
  await res.arrayBuffer();
  return res.status;
}

/** Posts like a forwarder would: a 413 is answered by splitting the payload. */
async function send(payloads: OutgoingPayload[]): Promise<number[]> {
  const statuses: number[] = [];
  for (const p of payloads) {
    const status = await post(p);
    statuses.push(status);
    if (status === 413) statuses.push(...(await send(p.split?.() ?? [])));
  }
  return statuses;
}

describe('payloads accepted by the fake Datadog intake', () => {
  it('takes a whole Lambda run: platform lines, every format, exact-edge and truncated batches', async () => {
    intake.clear();
    const logs = new LambdaLogs({
      functionArn: ARN,
      service: 'checkout',
      tags: 'env:test,functionname:my-function',
    });
    logs.ingest(fixture<TelemetryEvent[]>('telemetry-cold-start.json'));
    const runtimes = fixture<{ record: unknown }[]>('runtime-lines.json').map((c) => c.record);
    const lines = Array.from({ length: 2500 }, (_, i) => runtimes[i % runtimes.length]);
    logs.ingest(invocation('c0ffee00-0000-4000-8000-000000000001', lines));
    logs.ingest(
      invocation('c0ffee00-0000-4000-8000-000000000002', [
        'y'.repeat(2 * 1024 * 1024),
        'after the big one\n',
      ]),
    );
    logs.ingest(fn('DD_EXTENSION | DEBUG | not shipped'));
    const payloads = logs.flush({ final: true });
    expect(payloads.length).toBeGreaterThanOrEqual(3);
    const statuses = await send(payloads);
    expect(statuses.every((s) => s === 202)).toBe(true);
    const expected = payloads.reduce((n, p) => n + (p.items ?? 0), 0);
    const received = await intake.waitForLogs(expected);
    expect(received).toHaveLength(expected);
    expect(logs.stats().flushed).toBe(expected);
    for (const r of intake.logs()) {
      const entry = r as unknown as Record<string, unknown> & { message: Record<string, unknown> };
      expect(entry).toMatchObject({ hostname: ARN, service: 'checkout', ddsource: 'lambda' });
      expect(String(entry['ddtags']).startsWith('env:test,functionname:my-function')).toBe(true);
      expect(entry.message['lambda']).toMatchObject({ arn: ARN });
      expect((r as unknown as { $truncated: boolean }).$truncated).toBe(false);
    }
    const big = intake
      .logs()
      .find((r) =>
        String((r as unknown as { message: { message: string } }).message.message).startsWith('yyyy'),
      );
    expect(
      String((big as unknown as { message: { message: string } }).message.message).endsWith(TRUNCATED_MARKER),
    ).toBe(true);
  });

  it('takes a body of exactly 5 MiB, and a bigger one after the 413 split', async () => {
    intake.clear();
    // Events of exact sizes: five of 1 000 000 bytes, a sixth filling the body to 5 MiB.
    const entry = (bytes: number, c: string) =>
      JSON.stringify({ message: c.repeat(bytes - 30), status: 'info' });
    const five = [1, 2, 3, 4, 5].map((i) => entry(1_000_000, String(i)));
    const sixthBytes = MAX_BATCH_BYTES - 5 * 1_000_000 - 5 - 2;
    const all = [...five, entry(sixthBytes, 'z')];
    const exact = buildBatches(
      all,
      all.map((e) => e.length),
    );
    expect(exact).toHaveLength(1);
    expect(exact[0]!.body.byteLength).toBe(MAX_BATCH_BYTES);
    expect(await send(exact)).toEqual([202]);

    const over = [...five, entry(sixthBytes + 1, 'z')];
    const tooBig = buildBatches(
      over,
      over.map((e) => e.length),
      { maxBytes: MAX_BATCH_BYTES + 1 },
    );
    expect(tooBig[0]!.body.byteLength).toBe(MAX_BATCH_BYTES + 1);
    expect(await send(tooBig)).toEqual([413, 202, 202]);
    expect(await intake.waitForLogs(12)).toHaveLength(12);
  });

  it('takes serverless-init events', async () => {
    intake.clear();
    const pipeline = new LogPipeline({
      source: 'cloudrun',
      service: 'web',
      hostname: 'none',
      tags: { origin: 'cloudrun' },
    });
    pipeline.submit('GET / 200');
    pipeline.submit('Error: boom\n    at x (/app/a.js:1:1)', 'error');
    expect(await send(pipeline.flush())).toEqual([202]);
    const got = await intake.waitForLogs(2);
    expect(
      got.map((r) => [
        (r as unknown as { message: string }).message,
        (r as unknown as { status: string }).status,
      ]),
    ).toEqual([
      ['GET / 200', 'info'],
      ['Error: boom\n    at x (/app/a.js:1:1)', 'error'],
    ]);
  });
});

import { randomBytes } from 'node:crypto';
import { createForwarder, fromEnv as forwarderFromEnv } from '@serverless-agent/forwarder';
import { LogBuffer } from '@serverless-agent/logs';
import { type DatadogIntake, startIntake } from '@serverless-agent/testkit';
import { afterEach, describe, expect, it } from 'vitest';

// The layer compresses each logs batch with the forwarder's codec when the batch is cut (the
// logs package's `codec`), and the forwarder sends those bodies as they are. A 413 must split such a
// payload by its events, through the logs package's own split, and lose nothing.

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function setUp(limits: Parameters<typeof startIntake>[0]) {
  const intake: DatadogIntake = await startIntake(limits);
  closers.push(() => intake.stop());
  const forwarder = createForwarder(forwarderFromEnv(intake.agentEnv()));
  closers.push(() => forwarder.close());
  const codec = forwarder.payloadCodec('logs');
  if (!codec) throw new Error('the forwarder compresses logs by default');
  return { intake, forwarder, buffer: new LogBuffer({ codec }) };
}

const event = (message: string) => JSON.stringify({ message, status: 'info', service: 'f' });

describe('logs batches compressed at their cut, through the real forwarder', () => {
  it('arrive decoded, and a 413 splits them by their events until every one is accepted', async () => {
    // Incompressible lines, so that the compressed size grows with the count past the intake's cap.
    const { intake, forwarder, buffer } = await setUp({ limits: { logs: { compressed: 20_000 } } });
    const messages = Array.from({ length: 1300 }, (_, i) => `${i} ${randomBytes(60).toString('base64')}`);
    for (const m of messages) expect(buffer.push({ json: event(m), bytes: -1, truncated: false })).toBe(true);
    const payloads = buffer.drain();
    // The first batch was cut at 1000 events and compressed then; the open one at the drain.
    expect(payloads.map((p) => [p.items, p.headers?.['Content-Encoding']])).toEqual([
      [1000, forwarder.payloadCodec('logs')!.encoding],
      [300, forwarder.payloadCodec('logs')!.encoding],
    ]);
    const result = await forwarder.flush(payloads, { signal: AbortSignal.timeout(20_000) });
    expect(result.dropped).toEqual({});
    expect(intake.requests({ path: '/api/v2/logs' }).some((r) => r.status === 413)).toBe(true);
    const arrived = intake.logs().map((l) => l.message);
    expect(arrived.sort()).toEqual([...messages].sort());
  });
});

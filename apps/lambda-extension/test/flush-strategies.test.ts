// Each flush strategy in the sandbox with freeze on: with `end`, everything an invocation emitted is
// at the intake when the extension is back on `next` (before the freeze); with the default, the
// end-of-invocation flushes stop where Datadog's rule says: invocations 1 to 19 flush at their end,
// the 20th does not (20 recorded in under DD_FLUSH_TIMEOUT: continuously, 20 s).
import { describe, expect, it } from 'vitest';
import {
  checkDelivery,
  checkedItems,
  type EmitterEvent,
  emitterSandbox,
  fullEvent,
  logToken,
  shutdownCleanly,
  shutdownStats,
  useLayerAndIntake,
} from './emitter.js';

const ctx = useLayerAndIntake();

/**
 * The event with the invocation's span, tagged with its request id as datadog-lambda-js does, under
 * which the function's own root spans hang.
 */
function withLambdaSpan(base: EmitterEvent): EmitterEvent {
  const root = base.spans![0]!;
  const lambdaId = String(BigInt(root.spanId) + 100n);
  return {
    ...base,
    spans: [
      { traceId: root.traceId, spanId: lambdaId, name: 'aws.lambda' },
      ...base.spans!.map((s) => (s.parentId ? s : { ...s, parentId: lambdaId })),
    ],
  };
}

describe('flush strategies', () => {
  it('end: every metric point, span and line of an invocation is at the intake before the freeze', async () => {
    const { sandbox } = await emitterSandbox(ctx.extensionsDir, ctx.intake, {
      DD_SERVERLESS_FLUSH_STRATEGY: 'end',
    });
    try {
      expect((await sandbox.start()).status).toBe('success');
      for (let n = 0; n < 4; n++) {
        const event = fullEvent(n);
        const r = await sandbox.invoke(event);
        expect(r.status).toBe('success');
        // Back on `next` means flushed: checked at once, without waiting.
        expect(checkDelivery(ctx.intake, [event]).missing, `invocation ${n}`).toEqual([]);
        expect(await sandbox.waitForFreeze(10_000)).toBe(true);
      }
    } finally {
      await sandbox.shutdown();
    }
  }, 60_000);

  it('default: invocations 1-19 flush at their end, the 20th does not; shutdown delivers the rest', async () => {
    const { sandbox } = await emitterSandbox(ctx.extensionsDir, ctx.intake);
    const events: EmitterEvent[] = [];
    try {
      expect((await sandbox.start()).status).toBe('success');
      for (let n = 0; n < 20; n++) {
        const event = fullEvent(n);
        events.push(event);
        expect((await sandbox.invoke(event)).status).toBe('success');
        const { missing } = checkDelivery(ctx.intake, [event]);
        if (n < 19) {
          expect(missing, `invocation ${n + 1} flushed at its end`).toEqual([]);
        } else {
          // The 20th: nothing of it has left, and the sandbox freezes with it buffered.
          expect(missing, 'the 20th invocation is not flushed at its end').toHaveLength(checkedItems(event));
          expect(await sandbox.waitForFreeze(10_000)).toBe(true);
          expect(checkDelivery(ctx.intake, [event]).missing).toHaveLength(checkedItems(event));
        }
      }
      await shutdownCleanly(sandbox);
      const report = checkDelivery(ctx.intake, events);
      expect(report.missing).toEqual([]);
      expect(report.duplicates).toBe(0);
    } finally {
      await sandbox.shutdown();
    }
  }, 90_000);

  it('default, first invocations: the trace and metrics leave before runtimeDone, what came after still before next', async () => {
    const { sandbox, extensionLines } = await emitterSandbox(ctx.extensionsDir, ctx.intake);
    const events: EmitterEvent[] = [];
    try {
      expect((await sandbox.start()).status).toBe('success');
      for (let n = 0; n < 3; n++) {
        // The function lingers before answering, and prints a last line.
        const event: EmitterEvent = {
          ...withLambdaSpan(fullEvent(n)),
          workMs: 400,
          lateLogs: [`${logToken(n, 9)} last line of ${n}`],
        };
        events.push(event);
        const t0 = Date.now();
        const r = await sandbox.invoke(event);
        expect(r.status).toBe('success');
        const responded = t0 + r.record.runtimeDurationMs;
        const receivedAt = (id: number | undefined) =>
          ctx.intake.requests().find((q) => q.id === id)?.receivedAt;
        // Back on `next`: everything is there, the late line and runtimeDone's own metric too.
        expect(checkDelivery(ctx.intake, [event]).missing, `invocation ${n}`).toEqual([]);
        const runtimeDuration = ctx.intake.distributions('aws.lambda.enhanced.runtime_duration');
        expect(runtimeDuration.reduce((a, d) => a + d.count, 0)).toBe(n + 1);
        // The trace was at the intake before the runtime even answered, so before Telemetry could
        // deliver runtimeDone; the late line after it.
        const span = ctx.intake.spans((s) => s.name === 'aws.lambda' && s.meta['request_id'] === r.requestId);
        expect(span).toHaveLength(1);
        expect(receivedAt(span[0]!.requestId)).toBeLessThan(responded);
        // The metrics went ahead with the trace, on their own requests, also before the runtime answered.
        const metricRequests = ctx.intake
          .requests()
          .filter((q) => q.kind === 'sketches' && q.receivedAt < responded && q.decoded !== undefined);
        expect(
          metricRequests.length,
          `invocation ${n}: a sketches request before runtimeDone`,
        ).toBeGreaterThan(0);
        const late = ctx.intake.logs(new RegExp(`\\[zl ${n}\\.9\\]`));
        expect(late).toHaveLength(1);
        expect(receivedAt(late[0]!.$requestId)).toBeGreaterThanOrEqual(responded - 1);
      }
      await shutdownCleanly(sandbox);
      const report = checkDelivery(ctx.intake, events);
      expect(report.missing).toEqual([]);
      expect(report.duplicates).toBe(0);
      expect(ctx.intake.spans('aws.lambda')).toHaveLength(3);
      // Each invocation's flush is one blocking flush to the strategy (and one at shutdown), of which
      // the first sends went ahead.
      const flush = shutdownStats(extensionLines)?.flush as { blocking: number; sentAhead: number };
      expect(flush).toMatchObject({ blocking: 4, sentAhead: 3 });
    } finally {
      await sandbox.shutdown();
    }
  }, 90_000);

  it('default, an intake answering traces and metrics slowly: both are there when the invocation returns', async () => {
    // One of the sends started ahead of runtimeDone is answered 300 ms later (the trace, or the
    // custom count's series, in turn); the flush after runtimeDone (the logs, runtimeDone's
    // distributions, on the forwarder's other connection) at once: it must wait for the earlier
    // requests too before the extension asks for `next`.
    let slow = '/api/v0.2/traces';
    ctx.intake.fault({ path: (p) => p === slow, delayMs: 300 });
    const { sandbox, extensionLines } = await emitterSandbox(ctx.extensionsDir, ctx.intake);
    const events: EmitterEvent[] = [];
    try {
      expect((await sandbox.start()).status).toBe('success');
      for (let n = 0; n < 4; n++) {
        slow = n % 2 === 0 ? '/api/v0.2/traces' : '/api/v2/series';
        const event: EmitterEvent = { ...withLambdaSpan(fullEvent(n)), workMs: 0 };
        events.push(event);
        const r = await sandbox.invoke(event);
        expect(r.status).toBe('success');
        // Back on `next`, before the freeze: the trace and every metric point are at the intake.
        expect(checkDelivery(ctx.intake, [event]).missing, `invocation ${n}`).toEqual([]);
        const span = ctx.intake.spans((s) => s.name === 'aws.lambda' && s.meta['request_id'] === r.requestId);
        expect(span).toHaveLength(1);
        expect(await sandbox.waitForFreeze(10_000)).toBe(true);
      }
      await shutdownCleanly(sandbox);
      expect(checkDelivery(ctx.intake, events).missing).toEqual([]);
      // Every invocation's sends went ahead (what this test is about), and only those.
      const flush = shutdownStats(extensionLines)?.flush as { blocking: number; sentAhead: number };
      expect(flush).toMatchObject({ blocking: 5, sentAhead: 4 });
    } finally {
      await sandbox.shutdown();
    }
  }, 90_000);
});

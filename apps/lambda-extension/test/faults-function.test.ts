// The function misbehaving, in the sandbox with freeze on: it times out, it runs out of memory, it
// floods the DogStatsD port with ten times what the extension keeps between two flushes.
import { kernelUdpDrops } from '@serverless-agent/dogstatsd';
import type { InvocationRecord } from '@serverless-agent/testkit';
import { describe, expect, it } from 'vitest';
import {
  checkDelivery,
  emitterSandbox,
  fullEvent,
  shutdownStats,
  useLayerAndIntake,
  warmUp,
} from './emitter.js';

const ctx = useLayerAndIntake();

const total = (name: string) => ctx.intake.distributions(name).reduce((a, d) => a + d.count, 0);
const message = (l: unknown) => JSON.stringify(l);

/** The kernel's count of datagrams it dropped for the UDP socket bound to this port (any address). */
function kernelDrops(port: number): number {
  const drops = kernelUdpDrops(port);
  if (drops === undefined) throw new Error(`no UDP socket on port ${port}`);
  return drops;
}

describe('faults in the function', () => {
  it('a timeout: the timeout metric, the data sent before it and the timed-out END line arrive', async () => {
    const { sandbox } = await emitterSandbox(
      ctx.extensionsDir,
      ctx.intake,
      { DD_SERVERLESS_FLUSH_STRATEGY: 'end' },
      { timeoutMs: 3000 },
    );
    const event = { ...fullEvent(0), hangMs: 60_000 };
    try {
      expect((await sandbox.start()).status).toBe('success');
      const r = await sandbox.invoke(event);
      expect(r.status).toBe('timeout');
      // The sandbox resets the environment after a timeout: SHUTDOWN (timeout), and the extension,
      // flushed, exits on its own within the deadline.
      expect(r.reset?.reason).toBe('timeout');
      expect(r.reset?.processes.find((p) => p.name === 'datadog-agent')).toMatchObject({
        ended: 'exit',
        code: 0,
      });
      expect(total('aws.lambda.enhanced.timeouts')).toBe(1);
      expect(total('aws.lambda.enhanced.errors')).toBe(1);
      expect(checkDelivery(ctx.intake, [event]).missing).toEqual([]);
      const end = ctx.intake
        .logs()
        .map(message)
        .filter((m) => m.includes(`END RequestId: ${r.requestId}`));
      expect(end).toHaveLength(1);
      expect(end[0]).toMatch(/Task timed out after 3\.00 seconds/);
      expect(ctx.intake.logs().some((l) => message(l).includes(`REPORT RequestId: ${r.requestId}`))).toBe(
        true,
      );
      await sandbox.shutdown();
      expect(total('aws.lambda.enhanced.timeouts')).toBe(1);
    } finally {
      await sandbox.shutdown();
    }
  }, 60_000);

  it('a timeout: the aws.lambda span of an instrumented invocation arrives with the timeout error', async () => {
    const { sandbox } = await emitterSandbox(
      ctx.extensionsDir,
      ctx.intake,
      { DD_SERVERLESS_FLUSH_STRATEGY: 'end' },
      { timeoutMs: 3000 },
    );
    try {
      expect((await sandbox.start()).status).toBe('success');
      const r = await sandbox.invoke({ n: 0, startHook: true, hangMs: 60_000 });
      expect(r.status).toBe('timeout');
      const spans = ctx.intake.spans('aws.lambda').filter((s) => s.meta['request_id'] === r.requestId);
      expect(spans).toHaveLength(1);
      expect(spans[0]).toMatchObject({
        error: 1,
        meta: expect.objectContaining({ 'error.type': 'Timeout', 'error.msg': 'Datadog detected a Timeout' }),
      });
      expect(spans[0]!.spanID).not.toBe(0n);
    } finally {
      await sandbox.shutdown();
    }
  }, 60_000);

  it('an out-of-memory kill: the OOM metric arrives once, with what the function sent before it', async () => {
    const { sandbox } = await emitterSandbox(
      ctx.extensionsDir,
      ctx.intake,
      { DD_SERVERLESS_FLUSH_STRATEGY: 'end' },
      { memorySizeMB: 160 },
    );
    const event = { ...fullEvent(0), exhaustMemory: true };
    try {
      expect((await sandbox.start()).status).toBe('success');
      const r = await sandbox.invoke(event);
      expect(r.status).toBe('error');
      expect(r.errorType).toBe('Runtime.OutOfMemory');
      expect(r.record.maxMemoryUsedMB).toBe(160);
      expect(r.reset?.reason).toBe('failure');
      expect(r.reset?.processes.find((p) => p.name === 'datadog-agent')).toMatchObject({
        ended: 'exit',
        code: 0,
      });
      const next = await sandbox.invoke(fullEvent(1));
      expect(next.status).toBe('success');
      await sandbox.shutdown();
    } finally {
      await sandbox.shutdown();
    }
    // Three detectors see it (runtimeDone's error type, the report's memory at the limit, and any
    // out-of-memory log line); one metric point.
    expect(total('aws.lambda.enhanced.out_of_memory')).toBe(1);
    expect(ctx.intake.distributions('aws.lambda.enhanced.out_of_memory')[0]?.tags).toEqual(
      expect.arrayContaining(['functionname:emitter-fn']),
    );
    expect(total('aws.lambda.enhanced.errors')).toBe(1);
    expect(checkDelivery(ctx.intake, [event, fullEvent(1)]).missing).toEqual([]);
  }, 60_000);

  it('a datagram flood of 10× capacity: memory bounded, the excess dropped and counted, then back to normal', async () => {
    const MAX_EVENTS = 10_000; // the aggregator's bound on events kept between two flushes
    const FLOOD = 10 * MAX_EVENTS;
    const { sandbox, extensionLines, ports } = await emitterSandbox(
      ctx.extensionsDir,
      ctx.intake,
      { DD_SERVERLESS_FLUSH_STRATEGY: 'end' },
      { timeoutMs: 60_000 },
    );
    try {
      expect((await sandbox.start()).status).toBe('success');
      await warmUp(sandbox);
      const before: InvocationRecord[] = [];
      for (let n = 0; n < 3; n++) {
        const r = await sandbox.invoke(fullEvent(n));
        expect(r.status).toBe('success');
        before.push(r.record);
      }
      const dropsBefore = kernelDrops(ports.dogstatsd);
      const flood = await sandbox.invoke({ n: 3, flood: { datagrams: FLOOD } });
      expect(flood.status).toBe('success');
      const dropsInKernel = kernelDrops(ports.dogstatsd) - dropsBefore;
      const after: InvocationRecord[] = [];
      for (let n = 4; n < 7; n++) {
        const r = await sandbox.invoke(fullEvent(n));
        expect(r.status).toBe('success');
        // Normal again: everything of the invocation at the intake when it ends.
        expect(checkDelivery(ctx.intake, [fullEvent(n)]).missing, `invocation ${n}`).toEqual([]);
        after.push(r.record);
      }
      await sandbox.shutdown();

      const stats = shutdownStats(extensionLines)?.metrics ?? {};
      // Every datagram is accounted for: read and parsed by the extension, or dropped by the kernel
      // when the extension fell behind (the socket buffer is the only queue in between).
      expect((stats.events ?? 0) + dropsInKernel).toBe(FLOOD);
      // ... and the extension counted the kernel's share itself.
      expect(stats.kernelDrops).toBe(dropsInKernel);
      // The extension kept its bound and counted the rest.
      expect(stats.events).toBeGreaterThan(MAX_EVENTS);
      // The flood's invocation returned once the extension had read everything (the emitter waits for
      // the socket's queue to empty), so its flush carried the bound's worth and the rest was counted.
      const delivered = ctx.intake.events('flood event').length;
      expect(delivered).toBe(MAX_EVENTS);
      expect(stats.eventsDropped).toBe((stats.events ?? 0) - delivered);
      // Memory: what the flood left in the extension's RSS stays small next to what 100 000 kept
      // events would take.
      const rss = (r: InvocationRecord) => r.extensions.find((e) => e.name === 'datadog-agent')?.rssKB ?? 0;
      const growthMB = (Math.max(...after.map(rss)) - Math.max(...before.map(rss))) / 1024;
      console.log(
        `flood: ${FLOOD} datagrams, ${stats.events} read, ${dropsInKernel} dropped by the kernel, ${stats.eventsDropped} dropped by the extension; RSS ${growthMB >= 0 ? '+' : ''}${growthMB.toFixed(1)} MiB`,
      );
      expect(growthMB).toBeLessThan(64);
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      expect(median(after.map((r) => r.postRuntimeDurationMs))).toBeLessThan(
        2 * median(before.map((r) => r.postRuntimeDurationMs)) + 100,
      );
    } finally {
      await sandbox.shutdown();
    }
  }, 90_000);
});

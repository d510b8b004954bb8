// The intake misbehaving, in the sandbox with freeze on and the `end` strategy (every invocation
// waits for a flush, so what a fault costs the function shows in its post-runtime duration): failing
// with 503 for 30 invocations then recovering, black-holed, and answering slowly while SHUTDOWN comes.
import type { InvokeResult } from '@serverless-agent/testkit';
import { describe, expect, it } from 'vitest';
import {
  checkDelivery,
  type EmitterEvent,
  emitterSandbox,
  fullEvent,
  shutdownCleanly,
  shutdownStats,
  useLayerAndIntake,
  warmUp,
} from './emitter.js';

// The forwarder's unhealthy budget (its README): what a blocking flush may hold the function once the
// intake is marked unhealthy.
const UNHEALTHY_BUDGET_MS = 250;
// What the post-runtime duration holds besides the flush: the Telemetry API's 25 ms buffering of
// runtimeDone, and scheduling on a loaded machine. Without the budget a flush would hold the function
// for its retries and their backoff, or for a black-holed request's DD_FLUSH_TIMEOUT (2 s below), up
// to 100 ms before its deadline (10 s here).
const SLACK_MS = 300;
const UNHEALTHY_LINE = 'intake unhealthy';

const ctx = useLayerAndIntake();

const marked = (r: InvokeResult) =>
  r.logs.some((l) => l.source === 'extension' && l.line.includes(UNHEALTHY_LINE));

/** Invocations from the one during which the intake was marked unhealthy on, excluding that one. */
function afterMarked(results: InvokeResult[]): InvokeResult[] {
  const i = results.findIndex(marked);
  expect(i, 'the intake was marked unhealthy').toBeGreaterThanOrEqual(0);
  return results.slice(i + 1);
}

/** Every one within the budget and the slack; typically (the median) within the budget and 100 ms. */
function expectWithinBudget(durations: number[]): void {
  const sorted = [...durations].sort((a, b) => a - b);
  expect(sorted[Math.floor(sorted.length / 2)]).toBeLessThan(UNHEALTHY_BUDGET_MS + 100);
  expect(sorted.at(-1)).toBeLessThan(UNHEALTHY_BUDGET_MS + SLACK_MS);
}

describe('faults at the intake', () => {
  it('503 for 30 invocations, then recovery: nothing lost, and each unhealthy invocation stays within the budget', async () => {
    const { sandbox, extensionLines } = await emitterSandbox(ctx.extensionsDir, ctx.intake, {
      DD_SERVERLESS_FLUSH_STRATEGY: 'end',
    });
    const events: EmitterEvent[] = [];
    const failing: InvokeResult[] = [];
    try {
      expect((await sandbox.start()).status).toBe('success');
      await warmUp(sandbox);
      const fault = ctx.intake.fault({ status: 503 });
      for (let n = 0; n < 30; n++) {
        events.push(fullEvent(n));
        const r = await sandbox.invoke(events[n]);
        expect(r.status).toBe('success');
        failing.push(r);
      }
      fault.remove();
      for (let n = 30; n < 35; n++) {
        events.push(fullEvent(n));
        expect((await sandbox.invoke(events[n])).status).toBe('success');
      }
      await shutdownCleanly(sandbox);
    } finally {
      await sandbox.shutdown();
    }
    const unhealthy = afterMarked(failing);
    expect(unhealthy.length).toBeGreaterThanOrEqual(25);
    expectWithinBudget(unhealthy.map((r) => r.record.postRuntimeDurationMs));
    expect(extensionLines.some((l) => l.includes('intake healthy again'))).toBe(true);

    // Everything the 35 invocations emitted was kept in the retry buffer and delivered.
    const report = checkDelivery(ctx.intake, events);
    expect(report.missing).toEqual([]);
    // A refused request carried nothing the intake kept: its retry is no duplicate. Only a retry of
    // an accepted one (a probe frozen before its answer was read) could be.
    expect(report.unexplained).toEqual([]);
    expect(ctx.intake.requests({ status: 503 }).length).toBeGreaterThan(30);
    const dropped = shutdownStats(extensionLines)?.forwarder?.dropped ?? {};
    expect(Object.values(dropped).reduce((a, d) => a + d.requests, 0)).toBe(0);
  }, 90_000);

  it('503 past what the retry buffer holds: the oldest requests dropped first and counted, the rest delivered', async () => {
    const { sandbox, extensionLines } = await emitterSandbox(ctx.extensionsDir, ctx.intake, {
      DD_SERVERLESS_FLUSH_STRATEGY: 'end',
      // Room for a few invocations' requests (a few hundred bytes each, compressed).
      DD_FORWARDER_RETRY_QUEUE_PAYLOADS_MAX_SIZE: '12288',
    });
    const events: EmitterEvent[] = [];
    try {
      expect((await sandbox.start()).status).toBe('success');
      await warmUp(sandbox);
      const fault = ctx.intake.fault({ status: 503 });
      for (let n = 0; n < 12; n++) {
        events.push(fullEvent(n));
        expect((await sandbox.invoke(events[n])).status).toBe('success');
      }
      fault.remove();
      for (let n = 12; n < 14; n++) {
        events.push(fullEvent(n));
        expect((await sandbox.invoke(events[n])).status).toBe('success');
      }
      await shutdownCleanly(sandbox);
    } finally {
      await sandbox.shutdown();
    }
    const dropped = shutdownStats(extensionLines)?.forwarder?.dropped ?? {};
    expect(dropped.buffer_overflow?.requests).toBeGreaterThan(0);
    expect(dropped.buffer_overflow?.items).toBeGreaterThan(0);
    // Oldest first: once an invocation is complete at the intake, so is every later one.
    const complete = events.map((e) => checkDelivery(ctx.intake, [e]).missing.length === 0);
    const firstComplete = complete.indexOf(true);
    expect(firstComplete, `complete: ${complete.join(' ')}`).toBeGreaterThan(0);
    expect(complete.slice(firstComplete).every(Boolean), `complete: ${complete.join(' ')}`).toBe(true);
  }, 90_000);

  it('black-holed: the function is unaffected, each invocation within the budget once unhealthy, nothing lost', async () => {
    // A black-holed request fails only when it times out: DD_FLUSH_TIMEOUT=2 makes the first one
    // fail after 2 s; without the unhealthy budget every later flush would hold the function as long.
    const { sandbox } = await emitterSandbox(ctx.extensionsDir, ctx.intake, {
      DD_SERVERLESS_FLUSH_STRATEGY: 'end',
      DD_FLUSH_TIMEOUT: '2',
    });
    const events: EmitterEvent[] = [];
    const held: InvokeResult[] = [];
    try {
      expect((await sandbox.start()).status).toBe('success');
      await warmUp(sandbox);
      const hole = ctx.intake.fault({ blackhole: true });
      for (let n = 0; n < 10; n++) {
        events.push({ ...fullEvent(n), workMs: 5 });
        const r = await sandbox.invoke(events[n]);
        console.log(
          n,
          r.status,
          r.record.runtimeDurationMs,
          r.record.postRuntimeDurationMs,
          r.logs.map((l) => l.line).join('\n'),
        );
        // The function itself: answered, on time, with its own result.
        expect(r.status).toBe('success');
        expect(r.response).toEqual({ n });
        held.push(r);
      }
      hole.remove();
      for (let n = 10; n < 13; n++) {
        events.push(fullEvent(n));
        expect((await sandbox.invoke(events[n])).status).toBe('success');
      }
      await sandbox.shutdown();
    } finally {
      await sandbox.shutdown();
    }
    // Its own time is its own: about 5 ms of work and its sends to the extension, black hole or not.
    const runtime = held.map((r) => r.record.runtimeDurationMs).sort((a, b) => a - b);
    expect(runtime[Math.floor(runtime.length / 2)]).toBeLessThan(500);
    const durations = afterMarked(held).map((r) => r.record.postRuntimeDurationMs);
    expect(durations.length).toBeGreaterThanOrEqual(5);
    expectWithinBudget(durations);
    const report = checkDelivery(ctx.intake, events);
    expect(report.missing).toEqual([]);
    expect(report.unexplained).toEqual([]);
  }, 90_000);

  it('SHUTDOWN during a flush: everything buffered reaches the intake before the deadline', async () => {
    const TIMEOUT_MS = 4000;
    const { sandbox, extensionLines } = await emitterSandbox(
      ctx.extensionsDir,
      ctx.intake,
      { DD_SERVERLESS_FLUSH_STRATEGY: 'end' },
      { timeoutMs: TIMEOUT_MS },
    );
    const events = [fullEvent(0)];
    const requestIds: string[] = [];
    let shutdownAt = 0;
    try {
      expect((await sandbox.start()).status).toBe('success');
      await warmUp(sandbox);
      // The invocation's flush is answered later than its deadline allows: the extension goes back to
      // `next` with the requests out, the sandbox freezes them, and SHUTDOWN thaws them. What is sent
      // from then on is answered at once, so only the deadline can cut the final flush short.
      let slow = true;
      ctx.intake.fault({ path: () => slow, delayMs: TIMEOUT_MS + 300 });
      const r = await sandbox.invoke(events[0]);
      expect(r.status).toBe('success');
      requestIds.push(r.requestId);
      slow = false;
      shutdownAt = Date.now();
      const down = await shutdownCleanly(sandbox);
      expect(down.durationMs).toBeLessThan(2000);
    } finally {
      await sandbox.shutdown();
    }
    // A flush was out when SHUTDOWN came: received before it, answered after.
    expect(
      ctx.intake.requests().some((r) => r.receivedAt < shutdownAt && (r.answeredAt ?? 0) > shutdownAt),
      'a request in flight at SHUTDOWN',
    ).toBe(true);
    const report = checkDelivery(ctx.intake, events);
    expect(report.missing).toEqual([]);
    // Including what only exists after the last invocation: its END and REPORT lines.
    const text = ctx.intake.logs().map((l) => JSON.stringify(l));
    for (const id of requestIds) {
      expect(text.some((t) => t.includes(`REPORT RequestId: ${id}`))).toBe(true);
    }
    const dropped = shutdownStats(extensionLines)?.forwarder?.dropped ?? {};
    expect(Object.values(dropped).reduce((a, d) => a + d.requests, 0)).toBe(0);
  }, 60_000);
});

// Zero loss: 200 invocations of random work, output and gaps (seeded), the sandbox frozen between
// them, the default flush strategy (end-of-invocation flushes, then background ones once it adapts),
// and an intake that now and then takes a request but loses its answer.
import { setTimeout as sleep } from 'node:timers/promises';
import { seededRandom } from '@serverless-agent/testkit';
import { describe, expect, it } from 'vitest';
import {
  checkDelivery,
  type EmitterEvent,
  emitterSandbox,
  randomEvent,
  shutdownCleanly,
  shutdownStats,
  useLayerAndIntake,
} from './emitter.js';

const SEED = Number(process.env.ZERO_LOSS_SEED ?? 20261203);
const INVOCATIONS = 200;

const ctx = useLayerAndIntake();

describe('zero loss', () => {
  it(`${INVOCATIONS} random invocations: every point, span and line at the intake after shutdown (seed ${SEED})`, async () => {
    const rand = seededRandom(SEED);
    // One request of each kind taken but unanswered, somewhere in the run: the forwarder retries
    // it, and those copies are the only duplicates allowed.
    const faults = ['/api/beta/sketches', '/api/v2/series', '/api/v0.2/traces', '/api/v2/logs'].map((path) =>
      ctx.intake.fault({ path, loseAnswer: true, after: 1 + Math.floor(rand() * 4), times: 1 }),
    );
    const { sandbox, extensionLines } = await emitterSandbox(ctx.extensionsDir, ctx.intake);
    const events: EmitterEvent[] = [];
    const requestIds: string[] = [];
    try {
      expect((await sandbox.start()).status).toBe('success');
      for (let n = 0; n < INVOCATIONS; n++) {
        const event = randomEvent(rand, n);
        events.push(event);
        const r = await sandbox.invoke(event);
        expect(r.status, `invocation ${n}`).toBe('success');
        expect(r.response).toEqual({ n });
        requestIds.push(r.requestId);
        const gap = Math.floor(rand() * 30);
        if (gap > 0) await sleep(gap);
      }
      await shutdownCleanly(sandbox);
    } finally {
      await sandbox.shutdown();
    }

    const report = checkDelivery(ctx.intake, events);
    expect(report.missing).toEqual([]);
    expect(report.unexplained).toEqual([]);
    // Each lost answer was a request the intake took; the forwarder resent it, body for body, and
    // those resent copies are the only duplicates (a freeze cutting a connection would add more).
    expect(faults.map((f) => f.hits)).toEqual([1, 1, 1, 1]);
    expect(report.lostAnswers).toBe(4);
    expect(report.resent).toBeGreaterThanOrEqual(report.lostAnswers);
    const stats = shutdownStats(extensionLines);
    const retries = (stats?.forwarder?.destinations ?? []).reduce((a, d) => a + (d.retries ?? 0), 0);
    expect(retries).toBeGreaterThanOrEqual(report.resent);
    console.log(
      `zero loss: ${INVOCATIONS} invocations, ${report.lostAnswers} lost answers, ${report.resent} requests resent, ${report.duplicates} duplicated items`,
    );

    // The platform's lines and the enhanced invocations metric, one per invocation.
    const text = ctx.intake.logs().map((l) => JSON.stringify(l));
    for (const id of requestIds) {
      for (const kind of ['START', 'END', 'REPORT'])
        expect(
          text.some((t) => t.includes(`${kind} RequestId: ${id}`)),
          `${kind} of ${id}`,
        ).toBe(true);
    }
    // Exactly one per invocation, the resent copies of a request whose answer was lost aside.
    const invocations = ctx.intake
      .distributions('aws.lambda.enhanced.invocations')
      .filter((d) => d.requestId === undefined || !report.resentIds.has(d.requestId));
    expect(invocations.reduce((a, d) => a + d.count, 0)).toBe(INVOCATIONS);
  }, 120_000);
});

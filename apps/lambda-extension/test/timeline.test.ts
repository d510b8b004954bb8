// SERVERLESS_AGENT_TIMELINE naming a file that cannot be written: said once, the stamps stop, and
// the extension goes on shipping (a throw in the Telemetry listener or the invocation path would
// have turned it idle).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checkDelivery,
  type EmitterEvent,
  emitterSandbox,
  fullEvent,
  shutdownCleanly,
  useLayerAndIntake,
} from './emitter.js';
import { scratch } from './helpers.js';

const ctx = useLayerAndIntake();

describe('SERVERLESS_AGENT_TIMELINE', () => {
  it('a path in a missing folder: one warning, no stamps, every invocation delivered', async () => {
    const work = scratch();
    const { sandbox, extensionLines } = await emitterSandbox(ctx.extensionsDir, ctx.intake, {
      DD_SERVERLESS_FLUSH_STRATEGY: 'end',
      SERVERLESS_AGENT_TIMELINE: join(work.dir, 'no-such-folder', 'timeline.txt'),
    });
    const events: EmitterEvent[] = [];
    try {
      expect((await sandbox.start()).status).toBe('success');
      for (let n = 0; n < 3; n++) {
        const event = fullEvent(n);
        events.push(event);
        expect((await sandbox.invoke(event)).status).toBe('success');
        expect(checkDelivery(ctx.intake, [event]).missing, `invocation ${n}`).toEqual([]);
      }
      await shutdownCleanly(sandbox);
      expect(checkDelivery(ctx.intake, events).missing).toEqual([]);
    } finally {
      await sandbox.shutdown();
      work.cleanup();
    }
    expect(extensionLines.filter((l) => l.includes('SERVERLESS_AGENT_TIMELINE'))).toHaveLength(1);
    expect(extensionLines.filter((l) => l.includes('falling back to a plain event loop'))).toEqual([]);
  }, 60_000);
});

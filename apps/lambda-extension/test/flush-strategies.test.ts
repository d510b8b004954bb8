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
  shutdownCleanly,
  useLayerAndIntake,
} from './emitter.js';

const ctx = useLayerAndIntake();

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
});

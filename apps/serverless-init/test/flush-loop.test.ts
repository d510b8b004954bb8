import { describe, expect, it } from 'vitest';
import { FlushLoop, flushIntervalFromEnv } from '../src/flush-loop.js';
import { noopLogger } from '../src/logger.js';

describe('FlushLoop', () => {
  it('flushes on the timer, through the flush-strategy core, and stops', async () => {
    let flushes = 0;
    const loop = new FlushLoop({
      intervalMs: 50,
      flush: async () => {
        flushes++;
      },
      logger: noopLogger,
    });
    loop.start();
    await expect.poll(() => flushes, { timeout: 5000, interval: 20 }).toBeGreaterThanOrEqual(2);
    loop.stop();
    const after = flushes;
    await loop.idle();
    await loop.flushNow();
    expect(flushes).toBe(after + 1);
  });

  it('the interval: 3 s, or periodically,N / continuously,N', () => {
    const warnings: string[] = [];
    const logger = { ...noopLogger, warn: (m: string) => warnings.push(m) };
    expect(flushIntervalFromEnv({}, logger)).toBe(3000);
    expect(flushIntervalFromEnv({ DD_SERVERLESS_FLUSH_STRATEGY: 'periodically,10000' }, logger)).toBe(10000);
    expect(flushIntervalFromEnv({ DD_SERVERLESS_FLUSH_STRATEGY: 'continuously,1000' }, logger)).toBe(1000);
    expect(flushIntervalFromEnv({ DD_SERVERLESS_FLUSH_STRATEGY: 'end' }, logger)).toBe(3000);
    expect(warnings).toHaveLength(1);
  });
});

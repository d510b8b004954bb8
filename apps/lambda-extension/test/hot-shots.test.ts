import { join } from 'node:path';
import { type DatadogIntake, LambdaSandbox, startIntake } from '@serverless-agent/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_DIR, buildAndUnzipLayer, freePorts, scratch } from './helpers.js';

let work: ReturnType<typeof scratch>;
let opt: string;
let intake: DatadogIntake;
beforeAll(async () => {
  work = scratch();
  opt = buildAndUnzipLayer(join(work.dir, 'zip'));
  intake = await startIntake();
}, 120_000);
afterAll(async () => {
  await intake?.stop();
  work?.cleanup();
});

describe('hot-shots', () => {
  it('every type it sends reaches the intake, with the end strategy, before the freeze', async () => {
    const { env } = await freePorts();
    const sandbox = new LambdaSandbox({
      taskRoot: join(APP_DIR, 'test/fixtures/hot-shots-function'),
      handler: 'index.handler',
      extensionsDir: join(opt, 'extensions'),
      functionName: 'hs-fn',
      // The cold first invocation waits for the components to load: seconds on a loaded machine.
      timeoutMs: 15_000,
      env: { ...env, ...intake.agentEnv(), DD_SERVERLESS_FLUSH_STRATEGY: 'end' },
    });
    try {
      expect((await sandbox.start()).status).toBe('success');
      for (let n = 0; n < 3; n++) expect((await sandbox.invoke({ n })).status).toBe('success');
      // Back on `next`: everything of the three invocations is already there, no waiting.
      const sum = (name: string) => intake.metrics(name).reduce((a, m) => a + m.value, 0);
      expect(sum('hs.count')).toBe(6);
      expect(intake.metrics('hs.gauge').map((m) => m.value)).toEqual(expect.arrayContaining([40, 41, 42]));
      expect(intake.metrics('hs.histogram.count').length).toBeGreaterThan(0);
      expect(intake.metrics('hs.timing.avg').length).toBeGreaterThan(0);
      expect(sum('hs.set')).toBe(3);
      const dist = intake.distributions('hs.distribution');
      expect(dist.reduce((a, d) => a + d.count, 0)).toBe(3);
      expect(dist.reduce((a, d) => a + d.sum, 0)).toBe(21);
      expect(dist[0]?.tags).toEqual(expect.arrayContaining(['app:hs', 'functionname:hs-fn']));
      expect(intake.events('hs event')).toHaveLength(3);
      expect(intake.checks('hs.check')).toHaveLength(3);
    } finally {
      await sandbox.shutdown();
    }
  }, 60_000);
});

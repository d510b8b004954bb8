import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startIntake } from '@serverless-agent/testkit';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { APP_DIR, ensureBundle, start } from './helpers/datadog-init.js';
import { startMetadataServer } from './helpers/metadata-server.js';

const JOB = join(APP_DIR, 'test', 'fixtures', 'job.cjs');

beforeAll(async () => {
  await ensureBundle();
}, 60_000);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('Cloud Run job through datadog-init', () => {
  it('one gcp.run.job.task span parents the task root spans; a failed task marks it and keeps its exit code', async () => {
    const intake = await startIntake();
    cleanups.push(() => intake.stop());
    const metadata = await startMetadataServer({
      id: 'task-1',
      region: 'projects/1/regions/europe-west1',
      project: 'proj',
    });
    cleanups.push(() => metadata.close());
    const run = start(['node', JOB], {
      ...intake.agentEnv(),
      CLOUD_RUN_JOB: 'nightly-export',
      CLOUD_RUN_EXECUTION: 'nightly-export-abc12',
      CLOUD_RUN_TASK_INDEX: '0',
      CLOUD_RUN_TASK_ATTEMPT: '1',
      CLOUD_RUN_TASK_COUNT: '4',
      DD_SERVICE: 'exporter',
      DD_LOGS_ENABLED: 'true',
      GCE_METADATA_HOST: metadata.host,
      JOB_EXIT_CODE: '3',
    });
    expect((await run.exit).code).toBe(3);

    // Everything was sent by the final flush, before datadog-init exited.
    const [task] = intake.spans('gcp.run.job.task');
    expect(task).toBeDefined();
    expect(task!.service).toBe('exporter');
    expect(task!.resource).toBe('nightly-export');
    expect(task!.error).toBe(1);
    expect(task!.meta).toMatchObject({
      exit_code: '3',
      '_dd.origin': 'cloudrunjobs',
      job_name: 'nightly-export',
      'gcrj.execution_name': 'nightly-export-abc12',
      'gcrj.project_id': 'proj',
      location: 'europe-west1',
    });
    expect(task!.parentID).toBe(0n);
    const steps = intake.spans('job.step');
    expect(steps.map((s) => s.resource).sort()).toEqual(['load', 'store']);
    for (const s of steps) {
      expect(s.parentID).toBe(task!.spanID);
      expect(s.traceID).toBe(task!.traceID);
    }
    const [sub] = intake.spans('job.substep');
    expect(sub!.parentID).toBe(steps.find((s) => s.resource === 'load')!.spanID);

    const [ended] = intake.distributions('gcp.run.job.enhanced.task.ended');
    expect(ended!.tags).toEqual(
      expect.arrayContaining(['succeeded:false', 'job_name:nightly-export', 'origin:cloudrunjobs']),
    );
    expect(intake.distributions('gcp.run.job.enhanced.task.started')).toHaveLength(1);
    const [duration] = intake.distributions('gcp.run.job.enhanced.task.duration');
    expect(duration!.max).toBeGreaterThan(0);
    // Metric tags drop the task's high-cardinality keys.
    expect(ended!.tags.some((t) => t.startsWith('gcrj.execution_name:'))).toBe(false);

    const [log] = intake.logs('task done');
    expect((log as unknown as Record<string, string>).ddtags).toContain('origin:cloudrunjobs');
  }, 60_000);
});

describe('sidecar mode', () => {
  it('tails DD_SERVERLESS_LOG_PATH and ships what is there at SIGTERM', async () => {
    const intake = await startIntake();
    cleanups.push(() => intake.stop());
    const dir = mkdtempSync(join(tmpdir(), 'datadog-init-logs-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'app.log'), 'first line\nsecond line\n');
    const run = start([], {
      ...intake.agentEnv(),
      K_SERVICE: 'web',
      DD_SERVICE: 'web',
      DD_SERVERLESS_LOG_PATH: join(dir, '*.log'),
      GCE_METADATA_HOST: '127.0.0.1:1',
      DD_LOG_LEVEL: 'debug',
    });
    await intake.waitForLogs(2, /line$/, { timeoutMs: 20_000 });
    writeFileSync(join(dir, 'app.log'), 'first line\nsecond line\nlast words', { flag: 'w' });
    run.proc.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
    const messages = intake.logs().map((l) => (l as unknown as Record<string, string>).message);
    expect(messages).toEqual(['first line', 'second line', 'last words']);
    const tags = (intake.logs()[0] as unknown as Record<string, string>).ddtags!;
    expect(tags).toContain('_dd.datadog_sidecar_version:');
    expect(tags).toContain('service_name:web');
  }, 60_000);
});

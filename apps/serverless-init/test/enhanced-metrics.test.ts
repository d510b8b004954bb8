import { describe, expect, it } from 'vitest';
import { EnhancedMetrics, type EnhancedSample } from '../src/enhanced-metrics.js';
import { detectPlatform, mergedTags, metricTags, platformTags } from '../src/platform.js';

function setup(env: Record<string, string>) {
  const platform = detectPlatform(env);
  const metadata = { containerId: 'c0ffee', location: 'us-central1', projectId: 'proj' };
  const all = { ...mergedTags(env, platformTags(platform, env, metadata)), datadog_init_version: '0.1.0' };
  const common = { ...mergedTags(env, {}), datadog_init_version: '0.1.0' };
  const samples: EnhancedSample[] = [];
  const m = new EnhancedMetrics(platform, { all, common, metric: metricTags(all) }, (s) => samples.push(s));
  return { m, samples };
}

const named = (samples: EnhancedSample[], name: string) => samples.filter((s) => s.name === name);

describe('EnhancedMetrics', () => {
  it('Cloud Run service: cold start and shutdown, new names with the enhanced tag set, legacy with the metric set', () => {
    const { m, samples } = setup({ K_SERVICE: 'web', K_REVISION: 'web-001', DD_ENV: 'prod' });
    m.started();
    m.stopped(0, 1234);
    const [cold] = named(samples, 'gcp.run.container.enhanced.cold_start');
    expect(cold!.type).toBe('distribution');
    expect(cold!.tags.sort()).toEqual(
      [
        'env:prod',
        'datadog_init_version:0.1.0',
        'location:us-central1',
        'origin:cloudrun',
        'project_id:proj',
        'revision_name:web-001',
        'service_name:web',
      ].sort(),
    );
    const [legacy] = named(samples, 'gcp.run.enhanced.cold_start');
    expect(legacy!.tags).toContain('gcr.service_name:web');
    expect(legacy!.tags.some((t) => t.startsWith('container_id:'))).toBe(false);
    expect(named(samples, 'gcp.run.container.enhanced.shutdown')).toHaveLength(1);
    expect(named(samples, 'gcp.run.enhanced.shutdown')).toHaveLength(1);
  });

  it('Cloud Run job: task started, ended with succeeded, duration in ms', () => {
    const { m, samples } = setup({ CLOUD_RUN_JOB: 'nightly', CLOUD_RUN_TASK_INDEX: '0' });
    m.started();
    m.stopped(3, 4200);
    expect(named(samples, 'gcp.run.job.enhanced.task.started')).toHaveLength(1);
    const [ended] = named(samples, 'gcp.run.job.enhanced.task.ended');
    expect(ended!.tags).toContain('succeeded:false');
    expect(ended!.tags).toContain('job_name:nightly');
    const [duration] = named(samples, 'gcp.run.job.enhanced.task.duration');
    expect(duration!.value).toBe(4200);
    expect(samples.some((s) => s.name.includes('cold_start'))).toBe(false);
  });

  it('usage and CPU: instance gauge each tick, limit, and a rate from the second tick on', () => {
    const { m, samples } = setup({ K_SERVICE: 'web' });
    m.collect(1_000, { usageNanos: 0, limitNanocores: 2e9 });
    expect(named(samples, 'gcp.run.container.enhanced.cpu.usage')).toHaveLength(0);
    m.collect(3_000, { usageNanos: 1e9, limitNanocores: 2e9 });
    const [usage] = named(samples, 'gcp.run.container.enhanced.cpu.usage');
    expect(usage!.value).toBe(5e8); // 1 CPU-second over 2 s: half a core
    expect(usage!.tags).toContain('instance:c0ffee');
    expect(named(samples, 'gcp.run.container.enhanced.cpu.limit')[0]!.value).toBe(2e9);
    expect(named(samples, 'gcp.run.container.enhanced.instance')).toHaveLength(2);
  });

  it('Azure Container Apps: its names and tag keys', () => {
    const { m, samples } = setup({
      CONTAINER_APP_NAME: 'shop',
      CONTAINER_APP_REVISION: 'shop--r1',
      CONTAINER_APP_REPLICA_NAME: 'shop--r1-abc',
      CONTAINER_APP_ENV_DNS_SUFFIX: 'x.eastus.azurecontainerapps.io',
      DD_AZURE_SUBSCRIPTION_ID: 'sub',
      DD_AZURE_RESOURCE_GROUP: 'rg',
    });
    m.started();
    m.collect(0, undefined);
    const [cold] = named(samples, 'azure.app_containerapp.enhanced.cold_start');
    expect(cold!.tags).toEqual(
      expect.arrayContaining([
        'name:shop',
        'region:eastus',
        'revisionname:shop--r1',
        'subscription_id:sub',
        'resource_group:rg',
      ]),
    );
    expect(named(samples, 'azure.containerapp.enhanced.cold_start')).toHaveLength(1);
    expect(named(samples, 'azure.app_containerapp.enhanced.replica')[0]!.tags).toContain(
      'replica:shop--r1-abc',
    );
  });
});

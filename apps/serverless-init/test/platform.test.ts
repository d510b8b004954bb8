import { describe, expect, it } from 'vitest';
import { detectPlatform, mergedTags, metricTags, platformTags } from '../src/platform.js';

const md = { containerId: 'abc123', location: 'us-central1', projectId: 'my-project' };

describe('detectPlatform', () => {
  it('follows Datadog’s detection order', () => {
    expect(detectPlatform({ K_SERVICE: 's', CLOUD_RUN_JOB: 'j' }).kind).toBe('cloudrun');
    expect(detectPlatform({ K_SERVICE: 's', FUNCTION_TARGET: 'f' }).kind).toBe('cloudrun-function');
    expect(detectPlatform({ CLOUD_RUN_JOB: 'j', CONTAINER_APP_NAME: 'a' }).kind).toBe('cloudrun-job');
    expect(detectPlatform({ CONTAINER_APP_NAME: 'a', WEBSITE_STACK: 'x' }).kind).toBe('containerapp');
    expect(detectPlatform({ WEBSITE_STACK: 'x' }).kind).toBe('appservice');
    expect(detectPlatform({}).kind).toBe('local');
  });
});

describe('platformTags', () => {
  it('tags a Cloud Run service', () => {
    const env = { K_SERVICE: 'Checkout', K_REVISION: 'checkout-00042-abc', K_CONFIGURATION: 'checkout' };
    const tags = platformTags(detectPlatform(env), env, md);
    expect(tags).toMatchObject({
      origin: 'cloudrun',
      '_dd.origin': 'cloudrun',
      service_name: 'checkout',
      'gcr.service_name': 'checkout',
      revision_name: 'checkout-00042-abc',
      'gcr.revision_name': 'checkout-00042-abc',
      configuration_name: 'checkout',
      container_id: 'abc123',
      'gcr.container_id': 'abc123',
      location: 'us-central1',
      'gcr.location': 'us-central1',
      project_id: 'my-project',
      'gcr.project_id': 'my-project',
      'gcr.resource_name': 'projects/my-project/locations/us-central1/services/checkout',
    });
  });

  it('tags a Cloud Run function with the gcrfx namespace', () => {
    const env = { K_SERVICE: 'fn', FUNCTION_TARGET: 'helloHttp', FUNCTION_SIGNATURE_TYPE: 'http' };
    const tags = platformTags(detectPlatform(env), env, md);
    expect(tags['gcrfx.service_name']).toBe('fn');
    expect(tags['gcrfx.build_function_target']).toBe('hellohttp');
    expect(tags['gcrfx.function_signature_type']).toBe('http');
    expect(tags['gcrfx.resource_name']).toBe(
      'projects/my-project/locations/us-central1/services/fn/functions/hellohttp',
    );
    expect(tags['gcr.service_name']).toBeUndefined();
  });

  it('tags a Cloud Run job', () => {
    const env = {
      CLOUD_RUN_JOB: 'nightly',
      CLOUD_RUN_EXECUTION: 'nightly-x7',
      CLOUD_RUN_TASK_INDEX: '2',
      CLOUD_RUN_TASK_ATTEMPT: '0',
      CLOUD_RUN_TASK_COUNT: '5',
    };
    const tags = platformTags(detectPlatform(env), env, md);
    expect(tags).toMatchObject({
      origin: 'cloudrunjobs',
      job_name: 'nightly',
      'gcrj.job_name': 'nightly',
      'gcrj.execution_name': 'nightly-x7',
      'gcrj.task_index': '2',
      'gcrj.task_attempt': '0',
      'gcrj.task_count': '5',
      'gcrj.location': 'us-central1',
      'gcrj.resource_name': 'projects/my-project/locations/us-central1/jobs/nightly',
    });
  });

  it('tags an Azure Container App, region from the DNS suffix', () => {
    const env = {
      CONTAINER_APP_NAME: 'Orders',
      CONTAINER_APP_ENV_DNS_SUFFIX: 'happyhill-70162bb9.eastus.azurecontainerapps.io',
      CONTAINER_APP_REVISION: 'orders--rev1',
      CONTAINER_APP_REPLICA_NAME: 'orders--rev1-abc',
      DD_AZURE_SUBSCRIPTION_ID: 'SUB',
      DD_AZURE_RESOURCE_GROUP: 'RG',
    };
    const tags = platformTags(detectPlatform(env), env);
    expect(tags).toMatchObject({
      origin: 'containerapp',
      app_name: 'orders',
      region: 'eastus',
      'aca.app.region': 'eastus',
      revision: 'orders--rev1',
      replica_name: 'orders--rev1-abc',
      subscription_id: 'sub',
      resource_group: 'rg',
      resource_id: '/subscriptions/sub/resourcegroups/rg/providers/microsoft.app/containerapps/orders',
    });
  });

  it('marks a local run', () => {
    expect(platformTags(detectPlatform({}), {})).toEqual({
      origin: 'local',
      '_dd.origin': 'local',
      local: 'true',
    });
  });
});

describe('tag merge', () => {
  it('lets DD_TAGS override base tags and platform tags override both', () => {
    const tags = mergedTags(
      {
        DD_ENV: 'Prod',
        DD_SERVICE: 'Checkout',
        DD_TAGS: 'team:pay,env:staging origin:mine',
        DD_EXTRA_TAGS: 'a:b',
      },
      { origin: 'cloudrun' },
    );
    expect(tags).toEqual({ env: 'staging', service: 'checkout', team: 'pay', origin: 'cloudrun', a: 'b' });
  });

  it('drops items without a key or a value', () => {
    expect(mergedTags({ DD_TAGS: 'novalue, :x,y:, ok:1' }, {})).toEqual({ ok: '1' });
  });

  it('keeps high-cardinality keys off metrics', () => {
    expect(metricTags({ container_id: 'x', 'gcrj.task_index': '1', service_name: 's' })).toEqual({
      service_name: 's',
    });
  });
});

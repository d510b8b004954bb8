/**
 * Which serverless container platform we run on, and the tags Datadog's serverless-init gives each
 * (detection order: Cloud Run service or function, Cloud Run job, Azure Container Apps, Azure App
 * Service, else local).
 */
export type PlatformKind =
  | 'cloudrun'
  | 'cloudrun-function'
  | 'cloudrun-job'
  | 'containerapp'
  | 'appservice'
  | 'local';

export interface Platform {
  kind: PlatformKind;
  /** `origin` and `_dd.origin`. */
  origin: string;
  /** Default log source when DD_SOURCE is unset. */
  logSource: string;
  /** Prefix of the new-style enhanced metrics, e.g. `gcp.run.container`. */
  metricPrefix: string;
  /** Whether the GCP metadata server is asked for the instance id, region and project. */
  usesGcpMetadata: boolean;
}

type Env = Readonly<Record<string, string | undefined>>;

const set = (v: string | undefined): v is string => v !== undefined && v !== '';

export function detectPlatform(env: Env): Platform {
  if (set(env.K_SERVICE)) {
    const fn = set(env.FUNCTION_TARGET);
    return {
      kind: fn ? 'cloudrun-function' : 'cloudrun',
      origin: 'cloudrun',
      logSource: 'cloudrun',
      metricPrefix: 'gcp.run.container',
      usesGcpMetadata: true,
    };
  }
  if (set(env.CLOUD_RUN_JOB)) {
    return {
      kind: 'cloudrun-job',
      origin: 'cloudrunjobs',
      logSource: 'cloudrun',
      metricPrefix: 'gcp.run.job',
      usesGcpMetadata: true,
    };
  }
  if (set(env.CONTAINER_APP_NAME)) {
    return {
      kind: 'containerapp',
      origin: 'containerapp',
      logSource: 'containerapp',
      metricPrefix: 'azure.app_containerapp',
      usesGcpMetadata: false,
    };
  }
  if (set(env.WEBSITE_STACK)) {
    return {
      kind: 'appservice',
      origin: 'appservice',
      logSource: 'appservice',
      metricPrefix: 'azure.app_services',
      usesGcpMetadata: false,
    };
  }
  return {
    kind: 'local',
    origin: 'local',
    logSource: 'unknown',
    metricPrefix: 'datadog.serverless_agent',
    usesGcpMetadata: false,
  };
}

/** What the GCP metadata server told us; every field is `unknown` when it could not be read. */
export interface GcpMetadata {
  containerId: string;
  location: string;
  projectId: string;
}

export type Tags = Record<string, string>;

const lower = (v: string | undefined) => (v ?? '').toLowerCase();

/** The platform's own tags (the cloud part of Datadog's merged tag map). */
export function platformTags(platform: Platform, env: Env, metadata?: GcpMetadata): Tags {
  const tags: Tags = { origin: platform.origin, '_dd.origin': platform.origin };
  const withPrefix = (prefix: string, entries: Record<string, string>) => {
    for (const [k, v] of Object.entries(entries)) {
      tags[k] = v;
      tags[`${prefix}.${k}`] = v;
    }
  };
  const md = metadata ?? { containerId: 'unknown', location: 'unknown', projectId: 'unknown' };
  const gcp = { container_id: md.containerId, location: md.location, project_id: md.projectId };

  switch (platform.kind) {
    case 'cloudrun':
    case 'cloudrun-function': {
      const prefix = platform.kind === 'cloudrun' ? 'gcr' : 'gcrfx';
      const service = lower(env.K_SERVICE);
      withPrefix(prefix, {
        revision_name: lower(env.K_REVISION),
        service_name: service,
        configuration_name: lower(env.K_CONFIGURATION),
        ...gcp,
      });
      let resource = `projects/${md.projectId}/locations/${md.location}/services/${service}`;
      if (platform.kind === 'cloudrun-function') {
        tags['gcrfx.build_function_target'] = lower(env.FUNCTION_TARGET);
        tags['gcrfx.function_signature_type'] = lower(env.FUNCTION_SIGNATURE_TYPE);
        resource += `/functions/${lower(env.FUNCTION_TARGET)}`;
      }
      tags[`${prefix}.resource_name`] = resource;
      break;
    }
    case 'cloudrun-job': {
      const job = lower(env.CLOUD_RUN_JOB);
      tags.job_name = job;
      withPrefix('gcrj', { ...gcp });
      tags['gcrj.job_name'] = job;
      tags['gcrj.execution_name'] = lower(env.CLOUD_RUN_EXECUTION);
      tags['gcrj.task_index'] = lower(env.CLOUD_RUN_TASK_INDEX);
      tags['gcrj.task_attempt'] = lower(env.CLOUD_RUN_TASK_ATTEMPT);
      tags['gcrj.task_count'] = lower(env.CLOUD_RUN_TASK_COUNT);
      tags['gcrj.resource_name'] = `projects/${md.projectId}/locations/${md.location}/jobs/${job}`;
      break;
    }
    case 'containerapp': {
      const app = lower(env.CONTAINER_APP_NAME);
      const dns = (env.CONTAINER_APP_ENV_DNS_SUFFIX ?? '').split('.');
      const region = dns.length >= 3 ? lower(dns[dns.length - 3]) : 'unknown';
      const subscription = lower(env.DD_AZURE_SUBSCRIPTION_ID);
      const group = lower(env.DD_AZURE_RESOURCE_GROUP);
      const resourceId = `/subscriptions/${subscription}/resourcegroups/${group}/providers/microsoft.app/containerapps/${app}`;
      Object.assign(tags, {
        app_name: app,
        region,
        revision: lower(env.CONTAINER_APP_REVISION),
        replica_name: lower(env.CONTAINER_APP_REPLICA_NAME),
        'aca.app.name': app,
        'aca.app.region': region,
        'aca.app.revision': lower(env.CONTAINER_APP_REVISION),
        'aca.replica.name': lower(env.CONTAINER_APP_REPLICA_NAME),
        subscription_id: subscription,
        'aca.subscription.id': subscription,
        resource_group: group,
        'aca.resource.group': group,
        resource_id: resourceId,
        'aca.resource.id': resourceId,
      });
      break;
    }
    case 'appservice':
      tags.app_name = lower(env.WEBSITE_SITE_NAME);
      tags.region = lower(env.REGION_NAME);
      break;
    case 'local':
      tags.local = 'true';
      break;
  }
  return tags;
}

/** Keys too fine-grained for metric contexts; logs and traces keep them. */
export const HIGH_CARDINALITY_KEYS: ReadonlySet<string> = new Set([
  'container_id',
  'gcr.container_id',
  'gcrfx.container_id',
  'replica_name',
  'aca.replica.name',
  'gcrj.execution_name',
  'gcrj.container_id',
  'gcrj.task_index',
  'gcrj.task_attempt',
  'gcrj.task_count',
]);

export function metricTags(tags: Tags): Tags {
  return Object.fromEntries(Object.entries(tags).filter(([k]) => !HIGH_CARDINALITY_KEYS.has(k)));
}

/**
 * Base tags (DD_ENV, DD_SERVICE, DD_VERSION, lower-cased), then DD_TAGS / DD_EXTRA_TAGS, then the
 * platform's tags, each later source overwriting the earlier.
 */
export function mergedTags(env: Env, platform: Tags): Tags {
  const tags: Tags = {};
  for (const [key, name] of [
    ['env', 'DD_ENV'],
    ['service', 'DD_SERVICE'],
    ['version', 'DD_VERSION'],
  ] as const) {
    if (set(env[name])) tags[key] = env[name]!.toLowerCase();
  }
  for (const name of ['DD_TAGS', 'DD_EXTRA_TAGS'] as const) {
    for (const item of (env[name] ?? '').split(/[\s,]+/)) {
      const i = item.indexOf(':');
      if (i <= 0 || i === item.length - 1) continue;
      tags[item.slice(0, i)] = item.slice(i + 1);
    }
  }
  return { ...tags, ...platform };
}

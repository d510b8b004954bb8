import { type CgroupCpu, cpuUsageNanocores } from './cgroup.js';
import type { Platform, Tags } from './platform.js';

/** A sample for the metrics aggregator (the shape its `submit` takes). */
export interface EnhancedSample {
  name: string;
  value: number;
  type: 'distribution' | 'gauge';
  tags: string[];
  timestamp?: number;
}

const toList = (tags: Tags) => Object.entries(tags).map(([k, v]) => `${k}:${v}`);

function pick(tags: Tags, keys: readonly string[]): Tags {
  const out: Tags = {};
  for (const k of keys) if (tags[k] !== undefined) out[k] = tags[k]!;
  return out;
}

/** The tag keys of each platform's enhanced metrics (Datadog's `GetEnhancedMetricTags`). */
function enhancedTags(platform: Platform, tags: Tags, usage: boolean): Tags {
  switch (platform.kind) {
    case 'cloudrun':
    case 'cloudrun-function':
      return usage
        ? {
            ...pick(tags, ['location', 'origin', 'project_id', 'service_name']),
            instance: tags.container_id ?? 'unknown',
          }
        : pick(tags, ['location', 'origin', 'project_id', 'revision_name', 'service_name']);
    case 'cloudrun-job':
      return pick(tags, ['location', 'project_id', 'job_name', 'origin']);
    case 'containerapp': {
      const named = {
        name: tags.app_name ?? '',
        revisionname: tags.revision ?? '',
        replica: tags.replica_name ?? '',
      };
      const all = { ...tags, ...named };
      return usage
        ? pick(all, ['name', 'origin', 'resource_group', 'subscription_id', 'replica'])
        : pick(all, ['name', 'origin', 'region', 'resource_group', 'revisionname', 'subscription_id']);
    }
    case 'appservice': {
      const all = { ...tags, name: tags.app_name ?? '' };
      const base = pick(all, ['name', 'origin', 'region', 'resource_group', 'subscription_id']);
      return usage ? { ...base, instance: tags['aas.environment.instance_id'] ?? 'unknown' } : base;
    }
    case 'local':
      return pick(tags, ['origin', 'local']);
  }
}

/** The DD_ENV/SERVICE/VERSION, DD_TAGS and version-mode tags every enhanced set also gets. */
export interface EnhancedTagSources {
  /** All merged tags (base, configured, platform). */
  all: Tags;
  /** Base and configured tags plus the version-mode key: merged into each enhanced set. */
  common: Tags;
  /** The metric tag set (high-cardinality keys removed): the legacy metrics' tags. */
  metric: Tags;
}

const LEGACY_PREFIX: Partial<Record<Platform['kind'], string>> = {
  cloudrun: 'gcp.run',
  'cloudrun-function': 'gcp.run',
  containerapp: 'azure.containerapp',
  appservice: 'azure.appservice',
  local: 'datadog.serverless_agent',
};

const USAGE_NAME: Partial<Record<Platform['kind'], string>> = {
  cloudrun: 'instance',
  'cloudrun-function': 'instance',
  containerapp: 'replica',
  appservice: 'instance',
};

/**
 * The container's enhanced metrics: cold start and shutdown (new and legacy names), the Cloud Run
 * job task's started/ended/duration, and the usage and CPU metrics sampled from the cgroup.
 */
export class EnhancedMetrics {
  private readonly base: string[];
  private readonly usage: string[];
  private readonly legacy: string[];
  private previousCpu: { at: number; cpu: CgroupCpu } | undefined;

  constructor(
    private readonly platform: Platform,
    tags: EnhancedTagSources,
    private readonly submit: (sample: EnhancedSample) => void,
  ) {
    this.base = toList({ ...tags.common, ...enhancedTags(platform, tags.all, false) });
    this.usage = toList({ ...tags.common, ...enhancedTags(platform, tags.all, true) });
    this.legacy = toList(tags.metric);
  }

  private emit(
    name: string,
    value: number,
    tags: string[],
    type: EnhancedSample['type'] = 'distribution',
  ): void {
    this.submit({ name, value, type, tags });
  }

  /** At start: cold start (services, apps) or task started (jobs). */
  started(): void {
    const p = this.platform;
    if (p.kind === 'cloudrun-job') {
      this.emit('gcp.run.job.enhanced.task.started', 1, this.base);
      return;
    }
    this.emit(`${p.metricPrefix}.enhanced.cold_start`, 1, this.base);
    const legacy = LEGACY_PREFIX[p.kind];
    if (legacy && `${legacy}.enhanced.cold_start` !== `${p.metricPrefix}.enhanced.cold_start`) {
      this.emit(`${legacy}.enhanced.cold_start`, 1, this.legacy);
    }
  }

  /** At shutdown: shutdown (services, apps) or task ended with `succeeded` and its duration (jobs). */
  stopped(exitCode: number, durationMs: number): void {
    const p = this.platform;
    if (p.kind === 'cloudrun-job') {
      this.emit('gcp.run.job.enhanced.task.ended', 1, [...this.base, `succeeded:${exitCode === 0}`]);
      this.emit('gcp.run.job.enhanced.task.duration', durationMs, this.base);
      return;
    }
    this.emit(`${p.metricPrefix}.enhanced.shutdown`, 1, this.base);
    const legacy = LEGACY_PREFIX[p.kind];
    if (legacy && `${legacy}.enhanced.shutdown` !== `${p.metricPrefix}.enhanced.shutdown`) {
      this.emit(`${legacy}.enhanced.shutdown`, 1, this.legacy);
    }
  }

  /**
   * One collection tick (every 3 s, and once at stop): the usage gauge, the CPU limit, and the CPU
   * used since the previous tick (none on the first).
   */
  collect(now: number, cpu: CgroupCpu | undefined): void {
    const p = this.platform;
    if (p.kind === 'local') return;
    const usageName = USAGE_NAME[p.kind];
    if (usageName) this.emit(`${p.metricPrefix}.enhanced.${usageName}`, 1, this.usage, 'gauge');
    if (!cpu) return;
    this.emit(`${p.metricPrefix}.enhanced.cpu.limit`, cpu.limitNanocores, this.usage, 'gauge');
    if (this.previousCpu) {
      const rate = cpuUsageNanocores(this.previousCpu.cpu, cpu, now - this.previousCpu.at);
      if (rate !== undefined) this.emit(`${p.metricPrefix}.enhanced.cpu.usage`, rate, this.usage, 'gauge');
    }
    this.previousCpu = { at: now, cpu };
  }
}

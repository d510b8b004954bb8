// The configuration sources upstream reads, merged into one `DD_*` environment: `datadog.yaml` in
// LAMBDA_TASK_ROOT, then `DATADOG_*` variables, then `DD_*` variables (later wins). Each package's
// `fromEnv` then reads the result with Datadog's names.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from './logger.js';

export type Env = Record<string, string | undefined>;

// Keys whose values are maps keyed by data (URLs), never nested settings.
const JSON_VALUED = new Set([
  'additional_endpoints',
  'apm_config_additional_endpoints',
  'apm_additional_endpoints',
]);
// Values the upstream env form separates by spaces rather than commas.
const SPACE_SEPARATED = /^(APM_FILTER_TAGS|APM_CONFIG_FILTER_TAGS|TAGS$|DD_TAGS$)/;

const isScalar = (v: unknown) => v === null || ['string', 'number', 'boolean', 'bigint'].includes(typeof v);

function flatten(prefix: string, value: unknown, out: Record<string, string>): void {
  if (isScalar(value)) {
    if (value !== null) out[prefix.toUpperCase()] = String(value);
    return;
  }
  if (Array.isArray(value)) {
    if (value.every(isScalar)) {
      const sep = SPACE_SEPARATED.test(prefix.toUpperCase()) ? ' ' : ',';
      out[prefix.toUpperCase()] = value.filter((v) => v !== null).join(sep);
    } else out[prefix.toUpperCase()] = JSON.stringify(value);
    return;
  }
  if (typeof value === 'object') {
    if (JSON_VALUED.has(prefix)) {
      out[prefix.toUpperCase()] = JSON.stringify(value);
      return;
    }
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      flatten(prefix === '' ? k.toLowerCase() : `${prefix}_${k.toLowerCase()}`, v, out);
    }
  }
}

/** `datadog.yaml` as `DD_*` variables (`apm_config.x` also as `DD_APM_X`, the env spelling). */
export function yamlToEnv(doc: unknown): Record<string, string> {
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error('the document is not a map');
  const flat: Record<string, string> = {};
  flatten('', doc, flat);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(flat)) {
    env[`DD_${k}`] = v;
    if (k.startsWith('APM_CONFIG_')) env[`DD_APM_${k.slice('APM_CONFIG_'.length)}`] ??= v;
  }
  return env;
}

/** The `datadog.yaml` upstream reads, when it exists. */
export function yamlPathOf(processEnv: Env): string | undefined {
  const path = join(processEnv.LAMBDA_TASK_ROOT || '/var/task', 'datadog.yaml');
  return existsSync(path) ? path : undefined;
}

export type YamlParser = (text: string) => unknown;

/**
 * The merged environment. `parseYaml` is passed only when `datadog.yaml` exists, so the YAML parser
 * is loaded only then.
 */
export function mergeEnv(processEnv: Env, logger: Logger, parseYaml?: YamlParser): Env {
  const merged: Env = {};
  const path = parseYaml ? yamlPathOf(processEnv) : undefined;
  if (path && parseYaml) {
    try {
      Object.assign(merged, yamlToEnv(parseYaml(readFileSync(path, 'utf8'))));
      logger.debug(`read ${path}`);
    } catch (err) {
      logger.warn(`${path} is not valid, ignored: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  for (const [k, v] of Object.entries(processEnv)) {
    if (k.startsWith('DATADOG_') && v !== undefined) merged[`DD_${k.slice('DATADOG_'.length)}`] = v;
  }
  for (const [k, v] of Object.entries(processEnv)) {
    if (!k.startsWith('DATADOG_') && v !== undefined) merged[k] = v;
  }
  return merged;
}

// `fromEnv`: the DD_* variables this package honours, with Datadog's names, defaults and formats.
// A malformed value logs a warning and falls back to the default; it never throws.
import { defaultObfuscationOptions, type ObfuscationOptions } from './obfuscate.js';
import type { ReplaceRule, TagFilter } from './processor.js';
import type { PropagationStyle } from './propagation.js';
import { type Logger, noopLogger } from './types.js';

export interface TraceIntakeOptions {
  host: string;
  port: number;
  service?: string;
  env?: string;
  version?: string;
  /** DD_TAGS (and, from the app, the function's or container's tags). */
  tags: Record<string, string>;
  origin?: string;
  computeStats: boolean;
  /** serverless-init's DD_SERVERLESS_INIT_DISABLE_TRACE_STATS: no stats at all. */
  statsDisabled: boolean;
  serviceMapping: Record<string, string>;
  awsServiceRepresentation: boolean;
  propagationExtract: PropagationStyle[];
  propagationExtractFirst: boolean;
  capturePayload: boolean;
  capturePayloadMaxDepth: number;
  replaceTags: ReplaceRule[];
  filterTagsRequire: TagFilter[];
  filterTagsReject: TagFilter[];
  ignoreResources: RegExp[];
  obfuscation: ObfuscationOptions;
  /** Request body limits (BC: 50 MiB for traces, 2 MiB for stats and proxies). */
  maxTraceBodyBytes: number;
  maxOtherBodyBytes: number;
  /** Bound of spans held between flushes; beyond it new traces are dropped and counted. */
  maxBufferedSpans: number;
}

export type Platform = 'lambda' | 'serverless-init';

type Env = Record<string, string | undefined>;

function bool(env: Env, name: string, def: boolean, log: Logger): boolean {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return def;
  const v = raw.trim().toLowerCase();
  if (v === 'true' || v === '1' || v === 'yes' || v === 'on') return true;
  if (v === 'false' || v === '0' || v === 'no' || v === 'off') return false;
  log.warn(`${name}: not a boolean (${JSON.stringify(raw)}), using ${def}`);
  return def;
}

function int(
  env: Env,
  name: string,
  def: number,
  log: Logger,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return def;
  const n = Number(raw.trim());
  if (!Number.isInteger(n) || n < min || n > max) {
    log.warn(`${name}: not an integer in [${min}, ${max}] (${JSON.stringify(raw)}), using ${def}`);
    return def;
  }
  return n;
}

/** `k:v` pairs separated by commas or spaces; items without `:` or with an empty side are dropped. */
export function parseKeyValues(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw) return out;
  for (const item of raw.split(/[\s,]+/)) {
    const i = item.indexOf(':');
    if (i <= 0 || i === item.length - 1) continue;
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

function list(raw: string | undefined, log: Logger, name: string): string[] {
  if (!raw || raw.trim() === '') return [];
  const t = raw.trim();
  if (t.startsWith('[')) {
    try {
      const v = JSON.parse(t);
      if (Array.isArray(v)) return v.map(String);
    } catch {
      log.warn(`${name}: invalid JSON list, ignored`);
      return [];
    }
  }
  return t.split(/[\s,]+/).filter((s) => s !== '');
}

function regex(src: string, name: string, log: Logger): RegExp | undefined {
  try {
    return new RegExp(src);
  } catch {
    log.warn(`${name}: invalid regular expression ${JSON.stringify(src)}, ignored`);
    return undefined;
  }
}

/** DD_APM_REPLACE_TAGS: JSON `[{"name":…,"pattern":…,"repl":…}]`. */
export function parseReplaceTags(raw: string | undefined, log: Logger = noopLogger): ReplaceRule[] {
  if (!raw || raw.trim() === '') return [];
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    log.warn('DD_APM_REPLACE_TAGS: invalid JSON, ignored');
    return [];
  }
  if (!Array.isArray(v)) {
    log.warn('DD_APM_REPLACE_TAGS: expected a JSON array, ignored');
    return [];
  }
  const rules: ReplaceRule[] = [];
  for (const r of v) {
    if (typeof r !== 'object' || r === null || typeof r.name !== 'string' || typeof r.pattern !== 'string') {
      log.warn('DD_APM_REPLACE_TAGS: rule without name or pattern, skipped');
      continue;
    }
    const re = regex(r.pattern, 'DD_APM_REPLACE_TAGS', log);
    if (!re) continue;
    rules.push({
      name: r.name,
      pattern: new RegExp(re.source, 'g'),
      repl: typeof r.repl === 'string' ? r.repl : '',
    });
  }
  return rules;
}

/** DD_APM_FILTER_TAGS_*: space-separated `key:value` or bare `key` (a JSON array is accepted too). */
export function parseTagFilters(
  raw: string | undefined,
  isRegex: boolean,
  name: string,
  log: Logger = noopLogger,
): TagFilter[] {
  const out: TagFilter[] = [];
  for (const item of list(raw, log, name)) {
    const i = item.indexOf(':');
    const key = (i < 0 ? item : item.slice(0, i)).trim();
    if (key === '') continue;
    if (i < 0) {
      out.push({ key });
      continue;
    }
    const value = item.slice(i + 1).trim();
    if (isRegex) {
      const re = regex(value, name, log);
      if (re) out.push({ key, regex: re });
    } else out.push({ key, value });
  }
  return out;
}

function styles(raw: string | undefined, log: Logger): PropagationStyle[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const known: Record<string, PropagationStyle> = {
    datadog: 'datadog',
    tracecontext: 'tracecontext',
    b3: 'b3',
    'b3 single header': 'b3',
    b3multi: 'b3multi',
    none: 'none',
  };
  const out: PropagationStyle[] = [];
  for (const s of raw.split(',').map((x) => x.trim().toLowerCase())) {
    if (s === '') continue;
    const st = known[s];
    if (st) out.push(st);
    else log.warn(`DD_TRACE_PROPAGATION_STYLE: unknown style ${JSON.stringify(s)}, ignored`);
  }
  return out.length > 0 ? out : undefined;
}

function jsonOrList(raw: string | undefined, log: Logger, name: string): string[] {
  return list(raw, log, name);
}

export function obfuscationFromEnv(env: Env, log: Logger = noopLogger): ObfuscationOptions {
  const o = defaultObfuscationOptions();
  const b = (name: string, def: boolean) => bool(env, name, def, log);
  o.sql.keepAlias = b('DD_APM_OBFUSCATION_SQL_KEEP_SQL_ALIAS', o.sql.keepAlias);
  o.redis.enabled = b('DD_APM_OBFUSCATION_REDIS_ENABLED', o.redis.enabled);
  o.redis.removeAllArgs = b('DD_APM_OBFUSCATION_REDIS_REMOVE_ALL_ARGS', o.redis.removeAllArgs);
  o.memcached.enabled = b('DD_APM_OBFUSCATION_MEMCACHED_ENABLED', o.memcached.enabled);
  o.memcached.keepCommand = b('DD_APM_OBFUSCATION_MEMCACHED_KEEP_COMMAND', o.memcached.keepCommand);
  for (const [key, name] of [
    ['elasticsearch', 'ELASTICSEARCH'],
    ['opensearch', 'OPENSEARCH'],
    ['mongodb', 'MONGODB'],
  ] as const) {
    o[key].enabled = b(`DD_APM_OBFUSCATION_${name}_ENABLED`, o[key].enabled);
    o[key].keepValues = jsonOrList(
      env[`DD_APM_OBFUSCATION_${name}_KEEP_VALUES`],
      log,
      `DD_APM_OBFUSCATION_${name}_KEEP_VALUES`,
    );
    o[key].obfuscateSqlValues = jsonOrList(
      env[`DD_APM_OBFUSCATION_${name}_OBFUSCATE_SQL_VALUES`],
      log,
      `DD_APM_OBFUSCATION_${name}_OBFUSCATE_SQL_VALUES`,
    );
  }
  // the Agent's names, and the `_CONFIG_` spelling the Lambda extension documents
  o.http.removeQueryString = b(
    'DD_APM_OBFUSCATION_HTTP_REMOVE_QUERY_STRING',
    b('DD_APM_CONFIG_OBFUSCATION_HTTP_REMOVE_QUERY_STRING', o.http.removeQueryString),
  );
  o.http.removePathDigits = b(
    'DD_APM_OBFUSCATION_HTTP_REMOVE_PATHS_WITH_DIGITS',
    b('DD_APM_CONFIG_OBFUSCATION_HTTP_REMOVE_PATHS_WITH_DIGITS', o.http.removePathDigits),
  );
  o.creditCards.enabled = b('DD_APM_OBFUSCATION_CREDIT_CARDS_ENABLED', o.creditCards.enabled);
  o.creditCards.luhn = b('DD_APM_OBFUSCATION_CREDIT_CARDS_LUHN', o.creditCards.luhn);
  o.creditCards.keepValues = jsonOrList(
    env['DD_APM_OBFUSCATION_CREDIT_CARDS_KEEP_VALUES'],
    log,
    'DD_APM_OBFUSCATION_CREDIT_CARDS_KEEP_VALUES',
  );
  o.removeStackTraces = b('DD_APM_OBFUSCATION_REMOVE_STACK_TRACES', o.removeStackTraces);
  return o;
}

/** Options from the environment. `platform` picks the stats default (Lambda: backend computes). */
export function fromEnv(
  env: Env = process.env,
  logger: Logger = noopLogger,
  platform: Platform = 'lambda',
): TraceIntakeOptions {
  const log = logger;
  const service = env['DD_SERVICE']?.trim();
  const serviceMapping = parseKeyValues(env['DD_SERVICE_MAPPING']?.replace(/\s+/g, ''));
  const ignore: RegExp[] = [];
  for (const src of (env['DD_APM_IGNORE_RESOURCES'] ?? '').startsWith('[')
    ? list(env['DD_APM_IGNORE_RESOURCES'], log, 'DD_APM_IGNORE_RESOURCES')
    : (env['DD_APM_IGNORE_RESOURCES'] ?? '').split(',').filter((s) => s.trim() !== '')) {
    const re = regex(src.trim(), 'DD_APM_IGNORE_RESOURCES', log);
    if (re) ignore.push(re);
  }
  const extract = styles(env['DD_TRACE_PROPAGATION_STYLE_EXTRACT'], log) ??
    styles(env['DD_TRACE_PROPAGATION_STYLE'], log) ?? ['datadog', 'tracecontext'];
  const computeStats =
    platform === 'lambda'
      ? bool(env, 'DD_LAMBDA_EXTENSION_COMPUTE_STATS', false, log)
      : !bool(env, 'DD_SERVERLESS_INIT_ENABLE_BACKEND_TRACE_STATS', false, log);
  const opts: TraceIntakeOptions = {
    host: bool(env, 'DD_APM_NON_LOCAL_TRAFFIC', false, log) ? '0.0.0.0' : '127.0.0.1',
    port: int(env, 'DD_APM_RECEIVER_PORT', 8126, log, 0, 65535),
    tags: parseKeyValues(env['DD_TAGS']),
    computeStats,
    statsDisabled:
      platform === 'serverless-init' && bool(env, 'DD_SERVERLESS_INIT_DISABLE_TRACE_STATS', false, log),
    serviceMapping,
    awsServiceRepresentation: bool(env, 'DD_TRACE_AWS_SERVICE_REPRESENTATION_ENABLED', true, log),
    propagationExtract: extract,
    propagationExtractFirst: bool(env, 'DD_TRACE_PROPAGATION_EXTRACT_FIRST', false, log),
    capturePayload: bool(env, 'DD_CAPTURE_LAMBDA_PAYLOAD', false, log),
    capturePayloadMaxDepth: int(env, 'DD_CAPTURE_LAMBDA_PAYLOAD_MAX_DEPTH', 10, log, 0, 1000),
    replaceTags: parseReplaceTags(env['DD_APM_REPLACE_TAGS'], log),
    filterTagsRequire: parseTagFilters(
      env['DD_APM_FILTER_TAGS_REQUIRE'],
      false,
      'DD_APM_FILTER_TAGS_REQUIRE',
      log,
    ).concat(
      parseTagFilters(env['DD_APM_FILTER_TAGS_REGEX_REQUIRE'], true, 'DD_APM_FILTER_TAGS_REGEX_REQUIRE', log),
    ),
    filterTagsReject: parseTagFilters(
      env['DD_APM_FILTER_TAGS_REJECT'],
      false,
      'DD_APM_FILTER_TAGS_REJECT',
      log,
    ).concat(
      parseTagFilters(env['DD_APM_FILTER_TAGS_REGEX_REJECT'], true, 'DD_APM_FILTER_TAGS_REGEX_REJECT', log),
    ),
    ignoreResources: ignore,
    obfuscation: obfuscationFromEnv(env, log),
    maxTraceBodyBytes: 50 * 1024 * 1024,
    maxOtherBodyBytes: 2 * 1024 * 1024,
    maxBufferedSpans: 100_000,
  };
  if (platform === 'lambda') opts.origin = 'lambda';
  if (service) opts.service = service.toLowerCase();
  const e = env['DD_ENV']?.trim();
  if (e) opts.env = e;
  const v = env['DD_VERSION']?.trim();
  if (v) opts.version = v;
  return opts;
}

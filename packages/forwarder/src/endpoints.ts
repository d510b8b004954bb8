import type { EndpointKind } from './types.js';

export const DEFAULT_SITE = 'datadoghq.com';
const SITE_PATTERN = /^[a-zA-Z0-9._:-]+$/;
const METRICS_URL_PATTERN = /^https?:\/\/[a-zA-Z0-9._:-]+$/;

/** Where each kind of data goes, before dual shipping. All URLs are prefixes (scheme + host[:port]). */
export interface EndpointConfig {
  site: string;
  /** `DD_DD_URL` / `DD_URL`: replaces `https://api.<site>` for series, sketches, check runs and events. */
  metricsUrl?: string;
  /** `DD_APM_DD_URL`: replaces `https://trace.agent.<site>` for traces and stats (a trailing `/api/v0.2/traces` is the trace route). */
  apmUrl?: string;
  /** `DD_LOGS_CONFIG_LOGS_DD_URL`, normalised to a URL: replaces `https://http-intake.logs.<site>`. */
  logsUrl?: string;
  /**
   * `DD_OBSERVABILITY_PIPELINES_WORKER_LOGS_URL` (with `..._ENABLED`): the full URL logs go to instead of
   * the logs intake, no route appended; they go there plain (lambda-extension-reference.md §1d).
   */
  opwLogsUrl?: string;
}

/** One extra destination (dual shipping): its own URL prefix and its own API key. */
export interface AdditionalEndpoint {
  url: string;
  apiKey: string;
  /** Unreliable endpoints (logs only) are best effort: no retry buffer. */
  reliable: boolean;
}

export interface AdditionalEndpoints {
  metrics: AdditionalEndpoint[];
  apm: AdditionalEndpoint[];
  logs: AdditionalEndpoint[];
}

export const NO_ADDITIONAL_ENDPOINTS: AdditionalEndpoints = { metrics: [], apm: [], logs: [] };

type Family = 'metrics' | 'apm' | 'logs' | 'proxy';

interface Route {
  family: Family;
  /** Subdomain of the site for the default host (proxy routes have their own). */
  subdomain: string;
  path: string;
}

// Paths and hosts as the Lambda extension uses them (wire-protocols.md §B, §C, §E, §F). Events follow the
// Agent (`/intake/`, the batched v1 format) since the Lambda extension does not ship events at all.
const ROUTES: Record<EndpointKind, Route> = {
  series: { family: 'metrics', subdomain: 'api', path: '/api/v2/series' },
  sketches: { family: 'metrics', subdomain: 'api', path: '/api/beta/sketches' },
  check_run: { family: 'metrics', subdomain: 'api', path: '/api/v1/check_run' },
  events: { family: 'metrics', subdomain: 'api', path: '/intake/' },
  logs: { family: 'logs', subdomain: 'http-intake.logs', path: '/api/v2/logs' },
  traces: { family: 'apm', subdomain: 'trace.agent', path: '/api/v0.2/traces' },
  stats: { family: 'apm', subdomain: 'trace.agent', path: '/api/v0.2/stats' },
  pipeline_stats: { family: 'proxy', subdomain: 'trace.agent', path: '/api/v0.1/pipeline_stats' },
  profiling: { family: 'proxy', subdomain: 'intake.profile', path: '/api/v2/profile' },
  llmobs: { family: 'proxy', subdomain: 'llmobs-intake', path: '/api/v2/llmobs' },
  llmobs_eval_v1: { family: 'proxy', subdomain: 'api', path: '/api/intake/llm-obs/v1/eval-metric' },
  llmobs_eval_v2: { family: 'proxy', subdomain: 'api', path: '/api/intake/llm-obs/v2/eval-metric' },
  debugger: { family: 'proxy', subdomain: 'debugger-intake', path: '/api/v2/debugger' },
  debugger_logs: { family: 'proxy', subdomain: 'http-intake.logs', path: '/api/v2/logs' },
  apm_telemetry: {
    family: 'proxy',
    subdomain: 'instrumentation-telemetry-intake',
    path: '/api/v2/apmtelemetry',
  },
};

export function isEndpointKind(kind: unknown): kind is EndpointKind {
  return typeof kind === 'string' && Object.hasOwn(ROUTES, kind);
}

export function routeOf(kind: EndpointKind): { family: Family; path: string } {
  const r = ROUTES[kind];
  return { family: r.family, path: r.path };
}

export function isValidSite(site: string): boolean {
  return SITE_PATTERN.test(site);
}

export function isValidMetricsUrl(url: string): boolean {
  return METRICS_URL_PATTERN.test(url);
}

/** `DD_LOGS_CONFIG_LOGS_DD_URL` takes a URL or `host[:port]`; the scheme added follows `..._NO_SSL`. */
export function normaliseLogsUrl(value: string, noSsl: boolean): string {
  const trimmed = value.trim().replace(/\/+$/, '');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) return trimmed;
  return `${noSsl ? 'http' : 'https'}://${trimmed}`;
}

const TRACES_PATH = ROUTES.traces.path;

/**
 * `DD_APM_DD_URL` is a prefix to which `/api/v0.2/traces` is appended (lambda-extension-reference.md §1e,
 * wire-protocols.md §F); a value that already ends with that route is taken as the full trace URL, so the
 * route is removed first: traces and stats both hang off what remains (as Datadog derives the stats URL).
 */
export function apmPrefix(url: string): string {
  const base = url.replace(/\/+$/, '');
  return base.endsWith(TRACES_PATH) ? base.slice(0, -TRACES_PATH.length) : base;
}

function joinPath(prefix: string, kind: EndpointKind): string {
  const route = ROUTES[kind];
  if (route.family === 'apm') return apmPrefix(prefix) + route.path;
  const base = prefix.replace(/\/+$/, '');
  // A prefix that already ends with the route's path (a full URL given by the user) is kept whole.
  if (base.endsWith(route.path.replace(/\/+$/, ''))) return base;
  return base + route.path;
}

/** The prefix (scheme + host[:port]) the main destination of `kind` uses. */
export function prefixFor(kind: EndpointKind, config: EndpointConfig): string {
  const route = ROUTES[kind];
  if (route.family === 'metrics' && config.metricsUrl) return config.metricsUrl;
  if (route.family === 'apm' && config.apmUrl) return config.apmUrl;
  if (route.family === 'logs' && config.logsUrl) return config.logsUrl;
  return `https://${route.subdomain}.${config.site}`;
}

/** The full URL of the main destination of `kind`. */
export function intakeUrl(kind: EndpointKind, config: EndpointConfig): string {
  if (isOpwDestination(kind, config)) return config.opwLogsUrl as string;
  return joinPath(prefixFor(kind, config), kind);
}

/**
 * Whether the main destination of `kind` is an Observability Pipelines Worker: it takes plain JSON, without
 * compression nor `DD-PROTOCOL`.
 */
export function isOpwDestination(kind: EndpointKind, config: EndpointConfig): boolean {
  return kind === 'logs' && config.opwLogsUrl !== undefined;
}

/** The full URL of an additional endpoint for `kind`. */
export function additionalUrl(kind: EndpointKind, endpoint: AdditionalEndpoint): string {
  return joinPath(endpoint.url, kind);
}

/** The additional endpoints that receive a copy of `kind`. Proxied routes are not dual-shipped. */
export function additionalFor(kind: EndpointKind, all: AdditionalEndpoints): AdditionalEndpoint[] {
  const family = ROUTES[kind].family;
  if (family === 'proxy') return [];
  return all[family];
}

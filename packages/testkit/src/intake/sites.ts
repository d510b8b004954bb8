// Datadog sites and which intake host serves which data (wire-protocol reference §F), so the
// intake can tell which destination a proxied request was meant for and refuse misrouted data.
import type { IntakeKind } from './types.js';

export const DATADOG_SITES: readonly string[] = [
  'datadoghq.com',
  'us3.datadoghq.com',
  'us5.datadoghq.com',
  'datadoghq.eu',
  'ap1.datadoghq.com',
  'ap2.datadoghq.com',
  'ddog-gov.com',
  'us2.ddog-gov.com',
  'uk1.datadoghq.com',
];

export type IntakeHostRole = 'api' | 'app' | 'agent-app' | 'trace' | 'logs' | 'agent-logs';

export interface Destination {
  site: string;
  role: IntakeHostRole;
}

const ROLE_PATTERNS: readonly [RegExp, IntakeHostRole][] = [
  [/^api\.(.+)$/, 'api'],
  [/^app(?:\.mrf)?\.(.+)$/, 'app'],
  [/^\d+-\d+-\d+-app\.agent\.(.+)$/, 'agent-app'],
  [/^trace\.agent\.(.+)$/, 'trace'],
  [/^http-intake\.logs\.(.+)$/, 'logs'],
  [/^agent-http-intake\.logs\.(.+)$/, 'agent-logs'],
];

/** Which site and intake a host name belongs to; undefined for anything else (e.g. 127.0.0.1). */
export function parseDestination(host: string): Destination | undefined {
  const h = host.toLowerCase().replace(/\.$/, '');
  for (const [re, role] of ROLE_PATTERNS) {
    const m = re.exec(h);
    if (m && DATADOG_SITES.includes(m[1]!)) return { site: m[1]!, role };
  }
  return undefined;
}

const ROLES_FOR_KIND: Record<IntakeKind, readonly IntakeHostRole[]> = {
  series: ['api', 'app', 'agent-app'],
  series_v1: ['api', 'app', 'agent-app'],
  sketches: ['api', 'app', 'agent-app'],
  check_run: ['api', 'app', 'agent-app'],
  events: ['api', 'app', 'agent-app'],
  validate: ['api', 'app', 'agent-app'],
  traces: ['trace'],
  stats: ['trace'],
  logs: ['logs', 'agent-logs'],
};

/** True when a known Datadog host would serve this kind of payload. */
export function hostServes(dest: Destination, kind: IntakeKind): boolean {
  return ROLES_FOR_KIND[kind].includes(dest.role);
}

/** Host names a server certificate needs to stand in for every site's intakes. */
export function siteCertificateHostnames(sites: readonly string[] = DATADOG_SITES): string[] {
  return sites.flatMap((s) => [`*.${s}`, `*.agent.${s}`, `*.logs.${s}`]);
}

/** The base URLs a client of `site` would use, per data kind. */
export function siteUrls(site = 'datadoghq.com'): { metrics: string; traces: string; logs: string } {
  return {
    metrics: `https://api.${site}`,
    traces: `https://trace.agent.${site}`,
    logs: `https://http-intake.logs.${site}`,
  };
}

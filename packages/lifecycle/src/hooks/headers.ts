import type { IncomingHttpHeaders } from 'node:http';
import type { SpanContext } from '../invocation/events.js';

const LOW64 = (1n << 64n) - 1n;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Base64 when the value decodes to clean UTF-8, the raw value otherwise (as the real extension). */
export function decodeHeaderValue(value: string): string {
  if (value.length % 4 !== 0 || !BASE64.test(value)) return value;
  try {
    return utf8.decode(Buffer.from(value, 'base64'));
  } catch {
    return value;
  }
}

function one(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

export function parsePropagationTags(value: string | undefined): Record<string, string> {
  const tags: Record<string, string> = {};
  if (!value) return tags;
  for (const pair of value.split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const k = pair.slice(0, eq).trim();
    if (k.startsWith('_dd.p.')) tags[k] = pair.slice(eq + 1).trim();
  }
  return tags;
}

/** The Datadog headers a tracer sends on end-invocation, as a span context (128-bit via `_dd.p.tid`). */
export function spanContextFromHeaders(h: IncomingHttpHeaders): SpanContext | undefined {
  const traceId = one(h, 'x-datadog-trace-id');
  if (!traceId || !/^\d+$/.test(traceId)) return undefined;
  const tags = parsePropagationTags(one(h, 'x-datadog-tags'));
  let id = BigInt(traceId) & LOW64;
  const tid = tags['_dd.p.tid'];
  if (tid && /^[0-9a-fA-F]{1,16}$/.test(tid)) id |= BigInt(`0x${tid}`) << 64n;
  const ctx: SpanContext = { traceId: id };
  const parent = one(h, 'x-datadog-parent-id');
  if (parent && /^\d+$/.test(parent)) ctx.parentId = BigInt(parent);
  const priority = one(h, 'x-datadog-sampling-priority');
  if (priority !== undefined && /^-?\d+$/.test(priority)) ctx.samplingPriority = Number(priority);
  if (Object.keys(tags).length > 0) ctx.tags = tags;
  return ctx;
}

/** start-invocation's answer: the lower 64 bits in decimal, the high 64 as `_dd.p.tid`. */
export function startResponseHeaders(ctx: SpanContext): Record<string, string> {
  const headers: Record<string, string> = { 'x-datadog-trace-id': (ctx.traceId & LOW64).toString() };
  if (ctx.samplingPriority !== undefined)
    headers['x-datadog-sampling-priority'] = String(ctx.samplingPriority);
  const high = ctx.traceId >> 64n;
  if (high > 0n) headers['x-datadog-tags'] = `_dd.p.tid=${high.toString(16).padStart(16, '0')}`;
  return headers;
}

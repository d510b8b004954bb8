// Trace-context extraction from carriers (HTTP headers, message attributes) in the styles the
// tracers propagate: datadog, tracecontext (W3C), b3 single header and b3multi.
import { hex16, parseU64 } from './ids.js';

export type PropagationStyle = 'datadog' | 'tracecontext' | 'b3' | 'b3multi' | 'none';

export interface SpanContext {
  /** Low 64 bits of the trace id. */
  traceId: bigint;
  /** High 64 bits, when the trace id is 128-bit (`_dd.p.tid`). */
  traceIdHigh?: bigint;
  /** The span that should parent ours (0n when there is none, e.g. a generated context). */
  spanId: bigint;
  samplingPriority?: number;
  origin?: string;
  /** Propagation tags (`_dd.p.*`). */
  tags: Record<string, string>;
  /** Where it came from (`_dd.parent_source`-like): event, xray, headers... */
  source: string;
}

export interface PropagationOptions {
  extract: PropagationStyle[];
  extractFirst: boolean;
}

export const defaultPropagation = (): PropagationOptions => ({
  extract: ['datadog', 'tracecontext'],
  extractFirst: false,
});

export type Carrier = Record<string, unknown>;

function get(c: Carrier, name: string): string | undefined {
  const direct = c[name];
  if (typeof direct === 'string') return direct;
  if (Array.isArray(direct) && typeof direct[0] === 'string') return direct[0];
  // carriers from events keep their original header case
  for (const k of Object.keys(c)) {
    if (k.length === name.length && k.toLowerCase() === name) {
      const v = c[k];
      if (typeof v === 'string') return v;
      if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
    }
  }
  return undefined;
}

function parseDdTags(raw: string | undefined): Record<string, string> {
  const tags: Record<string, string> = {};
  if (!raw || raw.length > 512) return tags;
  for (const part of raw.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const k = part.slice(0, eq).trim();
    if (k.startsWith('_dd.p.')) tags[k] = part.slice(eq + 1).trim();
  }
  return tags;
}

function fromDatadog(c: Carrier): SpanContext | undefined {
  const traceId = parseU64(get(c, 'x-datadog-trace-id'));
  if (traceId === undefined || traceId === 0n) return undefined;
  const spanId = parseU64(get(c, 'x-datadog-parent-id')) ?? 0n;
  const prio = get(c, 'x-datadog-sampling-priority');
  const tags = parseDdTags(get(c, 'x-datadog-tags'));
  const ctx: SpanContext = { traceId, spanId, tags, source: 'datadog' };
  if (prio !== undefined && /^-?\d+$/.test(prio.trim())) ctx.samplingPriority = Number(prio);
  const origin = get(c, 'x-datadog-origin');
  if (origin) ctx.origin = origin;
  const tid = tags['_dd.p.tid'];
  if (tid !== undefined) {
    const high = parseU64(tid, 16);
    if (high !== undefined && tid.length === 16) ctx.traceIdHigh = high;
    else delete tags['_dd.p.tid'];
  }
  return ctx;
}

function fromTraceContext(c: Carrier): SpanContext | undefined {
  const tp = get(c, 'traceparent')?.trim().toLowerCase();
  if (!tp) return undefined;
  const m = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/.exec(tp);
  if (!m || m[1] === 'ff' || (m[1] === '00' && m[5])) return undefined;
  const high = BigInt(`0x${m[2]!.slice(0, 16)}`);
  const low = BigInt(`0x${m[2]!.slice(16)}`);
  const spanId = BigInt(`0x${m[3]}`);
  if ((high === 0n && low === 0n) || spanId === 0n) return undefined;
  const sampled = (Number.parseInt(m[4]!, 16) & 1) === 1;
  const ctx: SpanContext = {
    traceId: low,
    spanId,
    tags: {},
    source: 'tracecontext',
    samplingPriority: sampled ? 1 : 0,
  };
  if (high !== 0n) {
    ctx.traceIdHigh = high;
    ctx.tags['_dd.p.tid'] = hex16(high);
  }
  const ts = get(c, 'tracestate');
  const dd = ts
    ?.split(',')
    .map((s) => s.trim())
    .find((s) => s.startsWith('dd='));
  if (dd) {
    for (const kv of dd.slice(3).split(';')) {
      const i = kv.indexOf(':');
      if (i <= 0) continue;
      const k = kv.slice(0, i);
      const v = kv.slice(i + 1);
      if (k === 's' && /^-?\d+$/.test(v)) {
        const p = Number(v);
        // the W3C sampled flag wins when it contradicts the Datadog priority
        if (p > 0 === sampled) ctx.samplingPriority = p;
      } else if (k === 'o') ctx.origin = v.replace(/~/g, '=');
      else if (k.startsWith('t.') && k !== 't.tid') ctx.tags[`_dd.p.${k.slice(2)}`] = v.replace(/~/g, '=');
    }
  }
  return ctx;
}

function fromB3Single(c: Carrier): SpanContext | undefined {
  const b3 = get(c, 'b3')?.trim();
  if (!b3) return undefined;
  const parts = b3.split('-');
  if (parts.length < 2) return undefined;
  return b3Context(parts[0]!, parts[1]!, parts[2], 'b3');
}

function fromB3Multi(c: Carrier): SpanContext | undefined {
  const t = get(c, 'x-b3-traceid');
  const s = get(c, 'x-b3-spanid');
  if (!t || !s) return undefined;
  return b3Context(t, s, get(c, 'x-b3-flags') === '1' ? 'd' : get(c, 'x-b3-sampled'), 'b3multi');
}

function b3Context(
  t: string,
  s: string,
  sampled: string | undefined,
  source: string,
): SpanContext | undefined {
  if (!/^[0-9a-fA-F]{16}$|^[0-9a-fA-F]{32}$/.test(t) || !/^[0-9a-fA-F]{16}$/.test(s)) return undefined;
  const low = BigInt(`0x${t.slice(-16)}`);
  if (low === 0n) return undefined;
  const ctx: SpanContext = { traceId: low, spanId: BigInt(`0x${s}`), tags: {}, source };
  if (t.length === 32) {
    const high = BigInt(`0x${t.slice(0, 16)}`);
    if (high !== 0n) {
      ctx.traceIdHigh = high;
      ctx.tags['_dd.p.tid'] = hex16(high);
    }
  }
  if (sampled === '1' || sampled === 'true') ctx.samplingPriority = 1;
  else if (sampled === 'd') ctx.samplingPriority = 2;
  else if (sampled === '0' || sampled === 'false') ctx.samplingPriority = 0;
  return ctx;
}

const EXTRACTORS: Record<Exclude<PropagationStyle, 'none'>, (c: Carrier) => SpanContext | undefined> = {
  datadog: fromDatadog,
  tracecontext: fromTraceContext,
  b3: fromB3Single,
  b3multi: fromB3Multi,
};

/** The first context found in style order; later styles only refine a context of the same trace. */
export function extractContext(
  carrier: Carrier | undefined | null,
  opts: PropagationOptions,
): SpanContext | undefined {
  if (!carrier || typeof carrier !== 'object') return undefined;
  let found: SpanContext | undefined;
  for (const style of opts.extract) {
    if (style === 'none') return undefined;
    const ctx = EXTRACTORS[style](carrier);
    if (!ctx) continue;
    if (!found) {
      found = ctx;
      if (opts.extractFirst) break;
    } else if (
      ctx.source === 'tracecontext' &&
      ctx.traceId === found.traceId &&
      ctx.spanId !== found.spanId
    ) {
      // W3C carries the closer parent when both styles describe the same trace
      found.tags['_dd.parent_id'] = hex16(found.spanId);
      found.spanId = ctx.spanId;
    }
  }
  return found;
}

/** X-Ray `Root=1-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy;Parent=zzzzzzzzzzzzzzzz;Sampled=1` as a Datadog context. */
export function contextFromXrayHeader(header: string | undefined): SpanContext | undefined {
  if (!header) return undefined;
  const parts: Record<string, string> = {};
  for (const kv of header.split(';')) {
    const i = kv.indexOf('=');
    if (i > 0) parts[kv.slice(0, i).trim()] = kv.slice(i + 1).trim();
  }
  const root = /^1-[0-9a-fA-F]{8}-([0-9a-fA-F]{24})$/.exec(parts['Root'] ?? '');
  const parent = /^[0-9a-fA-F]{16}$/.exec(parts['Parent'] ?? '');
  if (!root || !parent) return undefined;
  // Datadog ids carried through X-Ray: the last 16 hex digits of the root hold the 63-bit trace id
  const traceId = BigInt(`0x${root[1]!.slice(8)}`) & ((1n << 63n) - 1n);
  if (traceId === 0n) return undefined;
  const ctx: SpanContext = { traceId, spanId: BigInt(`0x${parent[0]}`), tags: {}, source: 'xray' };
  if (parts['Sampled'] === '1') ctx.samplingPriority = 1;
  else if (parts['Sampled'] === '0') ctx.samplingPriority = 0;
  return ctx;
}

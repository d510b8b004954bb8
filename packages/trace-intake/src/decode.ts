import { Unpackr } from 'msgpackr';
import { FastV04Decoder } from './decode-v04.js';
import type { AttributeAnyValue, Id, Span, SpanEvent, SpanLink } from './types.js';

/** A body that is not a valid trace payload: answered 400 and counted. */
export class DecodeError extends Error {
  override name = 'DecodeError';
}

// 0xcf/0xd3 come back as BigInt (exact), smaller widths as Number: ids stay exact without paying for
// BigInt on every compact int a non-JS tracer sends.
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'bigint' });

export function unpackMsgpack(body: Uint8Array): unknown {
  try {
    return unpackr.unpack(body);
  } catch (err) {
    throw new DecodeError(`invalid msgpack: ${(err as Error).message}`);
  }
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function str(v: unknown, field: string): string {
  if (typeof v === 'string') return v;
  if (v === undefined || v === null) return '';
  throw new DecodeError(`span field ${field}: expected a string`);
}

function id(v: unknown, field: string): Id {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return v;
    if (Number.isFinite(v)) return Math.trunc(v);
    throw new DecodeError(`span field ${field}: not a finite number`);
  }
  if (v === undefined || v === null) return 0;
  // JSON bodies carry large ids as strings after our id-preserving pre-pass.
  if (typeof v === 'string' && /^-?\d+$/.test(v)) {
    const b = BigInt(v);
    return b <= BigInt(Number.MAX_SAFE_INTEGER) && b >= 0n ? Number(b) : b;
  }
  throw new DecodeError(`span field ${field}: expected an integer`);
}

function num(v: unknown, field: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v === undefined || v === null) return 0;
  if (typeof v === 'boolean') return v ? 1 : 0;
  throw new DecodeError(`span field ${field}: expected a number`);
}

function strMap(v: unknown, field: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw new DecodeError(`span field ${field}: expected a map`);
  // the decoded map is used as is when every value is already a string (the common case)
  for (const k in v) if (typeof v[k] !== 'string') return coerceStrMap(v, field);
  return v as Record<string, string>;
}

function coerceStrMap(v: Record<string, unknown>, field: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in v) {
    const x = v[k];
    if (typeof x === 'string') out[k] = x;
    else if (x === null || x === undefined) out[k] = '';
    else if (typeof x === 'number' || typeof x === 'bigint' || typeof x === 'boolean') out[k] = String(x);
    else throw new DecodeError(`span field ${field}.${k}: expected a string`);
  }
  return out;
}

function numMap(v: unknown, field: string): Record<string, number> {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw new DecodeError(`span field ${field}: expected a map`);
  let plain = true;
  for (const k in v) {
    if (typeof v[k] !== 'number') {
      plain = false;
      break;
    }
  }
  if (plain) return v as Record<string, number>;
  const out: Record<string, number> = {};
  for (const k in v) out[k] = num(v[k], `${field}.${k}`);
  return out;
}

function binMap(v: unknown): Record<string, Uint8Array> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw new DecodeError('span field meta_struct: expected a map');
  const out: Record<string, Uint8Array> = {};
  for (const k in v) {
    const x = v[k];
    if (x instanceof Uint8Array) out[k] = x;
    else if (typeof x === 'string') out[k] = Buffer.from(x);
    else if (x !== null && x !== undefined)
      throw new DecodeError(`span field meta_struct.${k}: expected bin`);
  }
  return out;
}

function links(v: unknown): SpanLink[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw new DecodeError('span field span_links: expected an array');
  return v.map((l) => {
    if (!isObj(l)) throw new DecodeError('span link: expected a map');
    const link: SpanLink = {
      trace_id: id(l['trace_id'], 'span_links.trace_id'),
      trace_id_high: id(l['trace_id_high'], 'span_links.trace_id_high'),
      span_id: id(l['span_id'], 'span_links.span_id'),
    };
    if (l['attributes'] !== undefined) link.attributes = strMap(l['attributes'], 'span_links.attributes');
    if (typeof l['tracestate'] === 'string') link.tracestate = l['tracestate'];
    if (l['flags'] !== undefined && l['flags'] !== null)
      link.flags = num(l['flags'], 'span_links.flags') >>> 0;
    return link;
  });
}

function anyValue(v: unknown): AttributeAnyValue {
  if (!isObj(v)) throw new DecodeError('span event attribute: expected a map');
  const type = num(v['type'], 'type');
  switch (type) {
    case 0:
      return { type: 0, string_value: str(v['string_value'], 'string_value') };
    case 1:
      return { type: 1, bool_value: v['bool_value'] === true };
    case 2:
      return { type: 2, int_value: id(v['int_value'], 'int_value') };
    case 3:
      return { type: 3, double_value: num(v['double_value'], 'double_value') };
    case 4: {
      const arr = isObj(v['array_value'])
        ? (v['array_value'] as Record<string, unknown>)['values']
        : undefined;
      return { type: 4, array_value: { values: Array.isArray(arr) ? arr.map(anyValue) : [] } };
    }
    default:
      throw new DecodeError(`span event attribute: unknown type ${type}`);
  }
}

function events(v: unknown): SpanEvent[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw new DecodeError('span field span_events: expected an array');
  return v.map((e) => {
    if (!isObj(e)) throw new DecodeError('span event: expected a map');
    const ev: SpanEvent = {
      time_unix_nano: id(e['time_unix_nano'], 'time_unix_nano'),
      name: str(e['name'], 'name'),
    };
    const attrs = e['attributes'];
    if (isObj(attrs)) {
      ev.attributes = {};
      for (const k in attrs) ev.attributes[k] = anyValue(attrs[k]);
    }
    return ev;
  });
}

/** One v0.4 span map (also the shape of JSON v0.3/v0.4 bodies). */
export function spanFromMap(m: unknown): Span {
  if (!isObj(m)) throw new DecodeError('span: expected a map');
  const span: Span = {
    service: str(m['service'], 'service'),
    name: str(m['name'], 'name'),
    resource: str(m['resource'], 'resource'),
    trace_id: id(m['trace_id'], 'trace_id'),
    span_id: id(m['span_id'], 'span_id'),
    parent_id: id(m['parent_id'], 'parent_id'),
    start: id(m['start'], 'start'),
    duration: id(m['duration'], 'duration'),
    error: num(m['error'], 'error') | 0,
    meta: strMap(m['meta'], 'meta'),
    metrics: numMap(m['metrics'], 'metrics'),
    type: str(m['type'], 'type'),
  };
  const ms = binMap(m['meta_struct']);
  if (ms) span.meta_struct = ms;
  const sl = links(m['span_links']);
  if (sl) span.span_links = sl;
  const se = events(m['span_events']);
  if (se) span.span_events = se;
  return span;
}

function tracesFromArray(decoded: unknown): Span[][] {
  if (decoded === null || decoded === undefined) return [];
  if (!Array.isArray(decoded)) throw new DecodeError('payload: expected an array of traces');
  return decoded.map((trace) => {
    if (trace === null) return [];
    if (!Array.isArray(trace)) throw new DecodeError('trace: expected an array of spans');
    return trace.map(spanFromMap);
  });
}

const fastV04 = new FastV04Decoder();

/** v0.3/v0.4 msgpack: array<trace>, trace = array<span map>. */
export function decodeV04(body: Uint8Array): Span[][] {
  if (body.length === 0) return [];
  return fastV04.decode(body) ?? decodeV04General(body);
}

/** v0.4 through the general msgpack decoder and the checks above (what the fast reader must match). */
export function decodeV04General(body: Uint8Array): Span[][] {
  if (body.length === 0) return [];
  return tracesFromArray(unpackMsgpack(body));
}

// Quotes integer literals of id fields so that JSON.parse cannot round them to doubles.
const JSON_ID_FIELDS =
  /(?<!\\)"(trace_id|span_id|parent_id|trace_id_high|start|duration|time_unix_nano)"(\s*):(\s*)(-?\d+)/g;

/** v0.3/v0.4 JSON (the Agent accepts `application/json` on these endpoints). */
export function decodeJsonTraces(body: Uint8Array): Span[][] {
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  if (text.trim() === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.replace(JSON_ID_FIELDS, '"$1"$2:$3"$4"'));
  } catch (err) {
    throw new DecodeError(`invalid JSON: ${(err as Error).message}`);
  }
  return tracesFromArray(parsed);
}

/** v0.5: [strings, traces] with each span a 12-element array of string-table indices and values. */
export function decodeV05(body: Uint8Array): Span[][] {
  const decoded = unpackMsgpack(body);
  if (!Array.isArray(decoded) || decoded.length !== 2) throw new DecodeError('v0.5: expected an array of 2');
  const [strings, traces] = decoded as [unknown, unknown];
  if (!Array.isArray(strings)) throw new DecodeError('v0.5: string table is not an array');
  for (const s of strings)
    if (typeof s !== 'string') throw new DecodeError('v0.5: string table holds a non-string');
  if (!Array.isArray(traces)) throw new DecodeError('v0.5: traces is not an array');
  const table = strings as string[];
  const at = (v: unknown, field: string): string => {
    const i = typeof v === 'bigint' ? Number(v) : v;
    if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= table.length) {
      throw new DecodeError(`v0.5: ${field} index out of range`);
    }
    return table[i]!;
  };
  return traces.map((trace) => {
    if (!Array.isArray(trace)) throw new DecodeError('v0.5: trace is not an array');
    return trace.map((s): Span => {
      if (!Array.isArray(s) || s.length !== 12) throw new DecodeError('v0.5: span is not an array of 12');
      const meta: Record<string, string> = {};
      if (s[9] !== null) {
        if (!isObj(s[9])) throw new DecodeError('v0.5: meta is not a map');
        for (const k in s[9]) meta[at(Number(k), 'meta key')] = at(s[9][k], 'meta value');
      }
      const metrics: Record<string, number> = {};
      if (s[10] !== null) {
        if (!isObj(s[10])) throw new DecodeError('v0.5: metrics is not a map');
        for (const k in s[10]) metrics[at(Number(k), 'metrics key')] = num(s[10][k], 'metrics');
      }
      return {
        service: at(s[0], 'service'),
        name: at(s[1], 'name'),
        resource: at(s[2], 'resource'),
        trace_id: id(s[3], 'trace_id'),
        span_id: id(s[4], 'span_id'),
        parent_id: id(s[5], 'parent_id'),
        start: id(s[6], 'start'),
        duration: id(s[7], 'duration'),
        error: num(s[8], 'error') | 0,
        meta,
        metrics,
        type: at(s[11], 'type'),
      };
    });
  });
}

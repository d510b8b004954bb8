// Request bodies for traces.bench.mjs, made from the v0.4 bodies captured from the real dd-trace
// (test/fixtures): the captured bytes are kept as dd-trace encoded them (array32 containers, 12-key
// span maps, uint64 ids) and only the ids are rewritten, so that every trace is new to the
// de-duplicator and parentage is kept.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

const fixture = (name) => readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url));

/** Position just past the msgpack value at `p`. Handles what tracers send (no extension types). */
function skip(b, p) {
  const t = b[p];
  if (t < 0x80 || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) return p + 1;
  if (t >= 0xa0 && t <= 0xbf) return p + 1 + (t & 0x1f);
  if (t >= 0x90 && t <= 0x9f) return skipN(b, p + 1, t & 0x0f);
  if (t >= 0x80 && t <= 0x8f) return skipN(b, p + 1, (t & 0x0f) * 2);
  switch (t) {
    case 0xcc:
    case 0xd0:
      return p + 2;
    case 0xcd:
    case 0xd1:
      return p + 3;
    case 0xce:
    case 0xd2:
    case 0xca:
      return p + 5;
    case 0xcf:
    case 0xd3:
    case 0xcb:
      return p + 9;
    case 0xd9:
    case 0xc4:
      return p + 2 + b[p + 1];
    case 0xda:
    case 0xc5:
      return p + 3 + b.readUInt16BE(p + 1);
    case 0xdb:
    case 0xc6:
      return p + 5 + b.readUInt32BE(p + 1);
    case 0xdc:
      return skipN(b, p + 3, b.readUInt16BE(p + 1));
    case 0xdd:
      return skipN(b, p + 5, b.readUInt32BE(p + 1));
    case 0xde:
      return skipN(b, p + 3, b.readUInt16BE(p + 1) * 2);
    case 0xdf:
      return skipN(b, p + 5, b.readUInt32BE(p + 1) * 2);
    default:
      throw new Error(`unexpected msgpack byte 0x${t.toString(16)} at ${p}`);
  }
}

function skipN(b, p, n) {
  for (let i = 0; i < n; i++) p = skip(b, p);
  return p;
}

/** Array header at `p`: [count, position of the first element]. */
function arrayHeader(b, p) {
  const t = b[p];
  if (t >= 0x90 && t <= 0x9f) return [t & 0x0f, p + 1];
  if (t === 0xdc) return [b.readUInt16BE(p + 1), p + 3];
  if (t === 0xdd) return [b.readUInt32BE(p + 1), p + 5];
  throw new Error('not an array');
}

const ID_KEYS = new Map([
  ['trace_id', 'trace'],
  ['span_id', 'span'],
  ['parent_id', 'parent'],
]);

/**
 * The spans of the first trace of a captured body: each span's bytes and where its uint64 ids sit,
 * with the ids as captured.
 */
function templateSpans(body) {
  const [, tracesAt] = arrayHeader(body, 0);
  const [n, first] = arrayHeader(body, tracesAt);
  const spans = [];
  let p = first;
  for (let i = 0; i < n; i++) {
    const end = skip(body, p);
    const bytes = Buffer.from(body.subarray(p, end));
    const t = bytes[0];
    let q;
    let entries;
    if (t >= 0x80 && t <= 0x8f) [entries, q] = [t & 0x0f, 1];
    else if (t === 0xde) [entries, q] = [bytes.readUInt16BE(1), 3];
    else if (t === 0xdf) [entries, q] = [bytes.readUInt32BE(1), 5];
    else throw new Error('span is not a map');
    const ids = {};
    for (let e = 0; e < entries; e++) {
      const keyEnd = skip(bytes, q);
      const kt = bytes[q];
      const key = kt >= 0xa0 && kt <= 0xbf ? bytes.toString('latin1', q + 1, keyEnd) : undefined;
      const role = key === undefined ? undefined : ID_KEYS.get(key);
      if (role && bytes[keyEnd] === 0xcf)
        ids[role] = { at: keyEnd + 1, was: bytes.readBigUInt64BE(keyEnd + 1) };
      q = skip(bytes, keyEnd);
    }
    if (!ids.trace || !ids.span) throw new Error('span without uint64 ids');
    spans.push({ bytes, ids });
    p = end;
  }
  return spans;
}

const rnd64 = () => randomBytes(8).readBigUInt64BE() | 1n;

function array32(n) {
  const h = Buffer.allocUnsafe(5);
  h[0] = 0xdd;
  h.writeUInt32BE(n, 1);
  return h;
}

/**
 * One trace from template spans, every id new: `copies[i]` repeats span i (each copy its own span
 * id, the same parent), as a function making several calls of the same kind would.
 */
function traceFrom(spans, copies = spans.map(() => 1)) {
  const traceId = rnd64();
  const newIds = new Map(); // captured span id → new span id of its first copy
  const parentFor = (was) => {
    if (was === 0n) return 0n;
    if (!newIds.has(was)) newIds.set(was, rnd64()); // a parent outside the trace (from the event)
    return newIds.get(was);
  };
  const out = [];
  spans.forEach((s, i) => {
    for (let c = 0; c < copies[i]; c++) {
      const b = Buffer.from(s.bytes);
      const id = rnd64();
      if (c === 0) newIds.set(s.ids.span.was, id);
      b.writeBigUInt64BE(traceId, s.ids.trace.at);
      b.writeBigUInt64BE(id, s.ids.span.at);
      out.push(b);
    }
  });
  // parents once every span id is known (a child may come before its parent in the capture)
  let k = 0;
  spans.forEach((s, i) => {
    for (let c = 0; c < copies[i]; c++, k++) {
      if (s.ids.parent) out[k].writeBigUInt64BE(parentFor(s.ids.parent.was), s.ids.parent.at);
    }
  });
  return { bytes: Buffer.concat([array32(out.length), ...out]), spans: out.length };
}

function body(traces) {
  return {
    body: Buffer.concat([array32(traces.length), ...traces.map((t) => t.bytes)]),
    spans: traces.reduce((n, t) => n + t.spans, 0),
    traces: traces.length,
  };
}

const warmLambda = templateSpans(fixture('dd-lambda-v12/trace-2.msgpack')); // apigateway → lambda → child
const plain = templateSpans(fixture('dd-trace-plain/trace-1.msgpack')); // parent.op → child.op

/**
 * The request shapes dd-trace sends. In Lambda it flushes each trace as soon as it finishes (flush
 * interval 0): one trace per PUT. Elsewhere (serverless-init) it flushes every 2 s whatever finished.
 */
export const WORKLOADS = {
  'lambda-3': {
    what: 'Lambda: 1 trace per PUT, the captured warm invocation (aws.apigateway → aws.lambda → child)',
    make: () => body([traceFrom(warmLambda)]),
  },
  'lambda-20': {
    what: 'Lambda: 1 trace per PUT, the same with 18 child spans (a handler making 18 calls)',
    make: () => body([traceFrom(warmLambda, [1, 1, 18])]),
  },
  'batch-2s': {
    what: 'serverless-init: a 2 s flush of 200 traces (100 captured plain-mode traces, 100 warm Lambda-shaped ones)',
    make: () =>
      body(Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? traceFrom(plain) : traceFrom(warmLambda)))),
  },
};

/** `count` distinct bodies of a workload. */
export function bodiesOf(name, count) {
  return Array.from({ length: count }, () => WORKLOADS[name].make());
}

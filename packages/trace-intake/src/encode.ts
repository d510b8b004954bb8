// AgentPayload protobuf (wire-protocols E.1) for `/api/v0.2/traces`: the chunks with SpanWriter, the
// envelope (AgentPayload, TracerPayload) straight into one buffer of its exact size, since every
// part's length is known before it is written; 64-bit ids go out exact.
import type { ChunkArena } from './chunk-arena.js';
import { SpanWriter } from './span-writer.js';
import type { OutgoingPayload, TraceChunk, TracerPayload } from './types.js';

/** The Agent's cap for one traces request (the limit its trace writer states for the API). */
export const MAX_TRACE_PAYLOAD_BYTES = 3_200_000;

// wire types: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32
const tag = (field: number, wire: number) => (field << 3) | wire;

const chunkWriter = new SpanWriter();

/** One TraceChunk message. */
export function encodeChunk(c: TraceChunk): Uint8Array {
  return chunkWriter.chunk(c);
}

/**
 * A tracer request ready to send: its chunks already encoded (protobuf bytes hold far less memory
 * than span objects), so batching and splitting only concatenate.
 */
export interface EncodedTracerPayload {
  payload: Omit<TracerPayload, 'chunks'>;
  chunks: Uint8Array[];
  spansPerChunk: number[];
  /** Encoded size of the TracerPayload message. */
  size: number;
}

function varintLen(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

const fieldLen = (len: number) => 1 + varintLen(len) + len;
const strLen = (s: string | undefined) => (s ? fieldLen(Buffer.byteLength(s)) : 0);

function mapLen(m: Record<string, string> | undefined): number {
  let n = 0;
  for (const k in m) n += fieldLen(strLen(k) + strLen(m[k]));
  return n;
}

function headerSize(p: Omit<TracerPayload, 'chunks'>): number {
  let n = strLen(p.header.containerId) + strLen(p.header.lang) + strLen(p.header.langVersion);
  n +=
    strLen(p.header.tracerVersion) +
    strLen(p.runtimeId) +
    strLen(p.env) +
    strLen(p.hostname) +
    strLen(p.appVersion);
  return n + mapLen(p.tags);
}

/** Protobuf fields (field numbers under 16) into a buffer allocated at the message's exact size. */
class ExactWriter {
  readonly buf: Buffer;
  pos = 0;
  constructor(size: number) {
    // not zero-filled: finish() checks that every byte was written
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Lengths only: 0 <= v < 2^31. */
  varint(v: number): void {
    const b = this.buf;
    while (v > 0x7f) {
      b[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[this.pos++] = v;
  }

  str(field: number, s: string | undefined): void {
    if (!s) return;
    const n = Buffer.byteLength(s);
    this.buf[this.pos++] = tag(field, 2);
    this.varint(n);
    this.pos += this.buf.write(s, this.pos, n, 'utf8');
  }

  bytes(field: number, v: Uint8Array): void {
    this.buf[this.pos++] = tag(field, 2);
    this.varint(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
  }

  strMap(field: number, m: Record<string, string> | undefined): void {
    for (const k in m) {
      this.buf[this.pos++] = tag(field, 2);
      this.varint(strLen(k) + strLen(m[k]));
      this.str(1, k);
      this.str(2, m[k]);
    }
  }

  double(field: number, v: number): void {
    this.buf[this.pos++] = tag(field, 1);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  finish(): Uint8Array {
    if (this.pos !== this.buf.length)
      throw new Error(`protobuf size mismatch: wrote ${this.pos} of ${this.buf.length} bytes`);
    return this.buf;
  }
}

/**
 * `staged`: the stage of a transcoded request, whose spans' unwatched meta it holds (StagedSpan).
 * `arena`: where the chunks are kept (see ChunkArena: they are valid until its next reset).
 */
export function encodeTracerPayloadChunks(
  p: TracerPayload,
  staged?: Uint8Array,
  arena?: ChunkArena,
): EncodedTracerPayload {
  const { chunks, header, tags, ...fields } = p;
  // A snapshot: the envelope is written later at exactly the size computed now, so nothing may change
  // the header or tags in between.
  const rest: Omit<TracerPayload, 'chunks'> = { ...fields, header: { ...header } };
  if (tags) rest.tags = { ...tags };
  const enc = chunkWriter.chunks(chunks, staged, arena);
  let size = headerSize(rest);
  for (const c of enc) size += fieldLen(c.length);
  return { payload: rest, chunks: enc, spansPerChunk: chunks.map((c) => c.spans.length), size };
}

/** `starts`: where each chunk's bytes are written, when given. */
function writeTracerPayload(w: ExactWriter, e: EncodedTracerPayload, starts?: Uint32Array): void {
  const p = e.payload;
  w.str(1, p.header.containerId);
  w.str(2, p.header.lang);
  w.str(3, p.header.langVersion);
  w.str(4, p.header.tracerVersion);
  w.str(5, p.runtimeId);
  for (let i = 0; i < e.chunks.length; i++) {
    const c = e.chunks[i]!;
    w.buf[w.pos++] = tag(6, 2);
    w.varint(c.length);
    if (starts) starts[i] = w.pos;
    w.buf.set(c, w.pos);
    w.pos += c.length;
  }
  w.strMap(7, p.tags);
  w.str(8, p.env);
  w.str(9, p.hostname);
  w.str(10, p.appVersion);
}

/** One TracerPayload message (the body of AgentPayload field 5). */
export function encodeTracerPayload(p: TracerPayload): Uint8Array {
  const e = encodeTracerPayloadChunks(p);
  const w = new ExactWriter(e.size);
  writeTracerPayload(w, e);
  return w.finish();
}

export interface AgentPayloadOptions {
  hostName?: string;
  env?: string;
  agentVersion: string;
  targetTPS: number;
  errorTPS: number;
  tags?: Record<string, string>;
  maxBytes?: number;
}

/** `starts[i]`: filled with where the chunks of `parts[i]` are in the body. */
function agentPayloadBody(
  parts: EncodedTracerPayload[],
  o: AgentPayloadOptions,
  starts?: Uint32Array[],
): Uint8Array {
  let size = strLen(o.hostName) + strLen(o.env) + mapLen(o.tags) + strLen(o.agentVersion);
  for (const p of parts) size += fieldLen(p.size);
  if (o.targetTPS) size += 9;
  if (o.errorTPS) size += 9;
  const w = new ExactWriter(size);
  w.str(1, o.hostName);
  w.str(2, o.env);
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    w.buf[w.pos++] = tag(5, 2);
    w.varint(p.size);
    writeTracerPayload(w, p, starts?.[i]);
  }
  w.strMap(6, o.tags);
  w.str(7, o.agentVersion);
  if (o.targetTPS) w.double(8, o.targetTPS);
  if (o.errorTPS) w.double(9, o.errorTPS);
  return w.finish();
}

function headersFor(parts: EncodedTracerPayload[]): Record<string, string> {
  const first = parts[0]!.payload.header;
  const langs = [...new Set(parts.map((p) => p.payload.header.lang).filter((l) => l !== ''))];
  const h: Record<string, string> = { 'Datadog-Send-Real-Http-Status': '1' };
  if (langs.length > 0) h['X-Datadog-Reported-Languages'] = langs.join('|');
  if (first.lang) h['Datadog-Meta-Lang'] = first.lang;
  if (first.langVersion) h['Datadog-Meta-Lang-Version'] = first.langVersion;
  if (first.langInterpreter) h['Datadog-Meta-Lang-Interpreter'] = first.langInterpreter;
  if (first.langInterpreterVendor) h['Datadog-Meta-Lang-Interpreter-Vendor'] = first.langInterpreterVendor;
  if (first.tracerVersion) h['Datadog-Meta-Tracer-Version'] = first.tracerVersion;
  if (first.containerId) h['Datadog-Container-ID'] = first.containerId;
  if (parts.every((p) => p.payload.header.clientComputedStats)) h['Datadog-Client-Computed-Stats'] = 'true';
  if (parts.every((p) => p.payload.header.clientComputedTopLevel))
    h['Datadog-Client-Computed-Top-Level'] = 'true';
  return h;
}

const spansOf = (e: EncodedTracerPayload) => e.spansPerChunk.reduce((a, b) => a + b, 0);

function toOutgoing(parts: EncodedTracerPayload[], o: AgentPayloadOptions): OutgoingPayload {
  const starts = parts.map((p) => new Uint32Array(p.chunks.length));
  const body = agentPayloadBody(parts, o, starts);
  // Split finds the chunks in the body, which the payload holds anyway: the chunks given here may
  // be overwritten once this returns (ChunkArena), and a payload waiting for a retry keeps no
  // second copy of its bytes.
  const shapes = parts.map((p, i) => ({
    payload: p.payload,
    spansPerChunk: p.spansPerChunk,
    size: p.size,
    starts: starts[i]!,
    lengths: Uint32Array.from(p.chunks, (c) => c.length),
  }));
  return {
    kind: 'traces',
    body,
    contentType: 'application/x-protobuf',
    headers: headersFor(parts),
    items: parts.reduce((n, p) => n + spansOf(p), 0),
    split: () =>
      splitParts(
        shapes.map((s) => ({
          payload: s.payload,
          chunks: Array.from(s.starts, (at, k) => body.subarray(at, at + s.lengths[k]!)),
          spansPerChunk: s.spansPerChunk,
          size: s.size,
        })),
        o,
      ),
  };
}

function subset(e: EncodedTracerPayload, from: number, to: number): EncodedTracerPayload {
  const chunks = e.chunks.slice(from, to);
  let size = headerSize(e.payload);
  for (const c of chunks) size += fieldLen(c.length);
  return { payload: e.payload, chunks, spansPerChunk: e.spansPerChunk.slice(from, to), size };
}

function splitParts(parts: EncodedTracerPayload[], o: AgentPayloadOptions): OutgoingPayload[] | undefined {
  if (parts.length > 1) {
    const mid = parts.length >> 1;
    return [toOutgoing(parts.slice(0, mid), o), toOutgoing(parts.slice(mid), o)];
  }
  const only = parts[0]!;
  if (only.chunks.length < 2) return undefined;
  const mid = only.chunks.length >> 1;
  return [toOutgoing([subset(only, 0, mid)], o), toOutgoing([subset(only, mid, only.chunks.length)], o)];
}

/**
 * Batches encoded tracer payloads into AgentPayload requests of at most `maxBytes` each. A tracer
 * request over the cap is cut between chunks; a single chunk over it still goes alone (never cut).
 */
export function encodeAgentPayloads(
  payloads: (TracerPayload | EncodedTracerPayload)[],
  o: AgentPayloadOptions,
): OutgoingPayload[] {
  const max = o.maxBytes ?? MAX_TRACE_PAYLOAD_BYTES;
  const overhead = 64 + (o.agentVersion?.length ?? 0) + (o.env?.length ?? 0) + (o.hostName?.length ?? 0);
  const out: OutgoingPayload[] = [];
  let batch: EncodedTracerPayload[] = [];
  let size = overhead;
  const add = (e: EncodedTracerPayload) => {
    const len = fieldLen(e.size);
    if (batch.length > 0 && size + len > max) {
      out.push(toOutgoing(batch, o));
      batch = [];
      size = overhead;
    }
    batch.push(e);
    size += len;
  };
  for (const p of payloads) {
    const e = 'spansPerChunk' in p ? p : encodeTracerPayloadChunks(p);
    if (fieldLen(e.size) + overhead <= max || e.chunks.length < 2) {
      add(e);
      continue;
    }
    const base = headerSize(e.payload);
    let from = 0;
    let acc = base;
    for (let i = 0; i < e.chunks.length; i++) {
      const len = fieldLen(e.chunks[i]!.length);
      if (i > from && fieldLen(acc + len) + overhead > max) {
        add(subset(e, from, i));
        from = i;
        acc = base;
      }
      acc += len;
    }
    add(subset(e, from, e.chunks.length));
  }
  if (batch.length > 0) out.push(toOutgoing(batch, o));
  return out;
}

// AgentPayload protobuf (wire-protocols E.1) for `/api/v0.2/traces`: the envelope (AgentPayload,
// TracerPayload) with protobufjs's Writer, the chunks with SpanWriter; 64-bit ids go out exact.
import protobuf from 'protobufjs/minimal.js';
import { SpanWriter } from './span-writer.js';
import type { OutgoingPayload, TraceChunk, TracerPayload } from './types.js';

const { Writer } = protobuf;
type W = protobuf.Writer;

/** The Agent's cap for one traces request (the limit its trace writer states for the API). */
export const MAX_TRACE_PAYLOAD_BYTES = 3_200_000;

// wire types: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32
const tag = (field: number, wire: number) => (field << 3) | wire;

function str(w: W, field: number, v: string | undefined): void {
  if (v) w.uint32(tag(field, 2)).string(v);
}

function strMap(w: W, field: number, m: Record<string, string> | undefined): void {
  if (!m) return;
  for (const k in m) {
    w.uint32(tag(field, 2)).fork();
    str(w, 1, k);
    str(w, 2, m[k]);
    w.ldelim();
  }
}

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

function headerSize(p: Omit<TracerPayload, 'chunks'>): number {
  let n = strLen(p.header.containerId) + strLen(p.header.lang) + strLen(p.header.langVersion);
  n +=
    strLen(p.header.tracerVersion) +
    strLen(p.runtimeId) +
    strLen(p.env) +
    strLen(p.hostname) +
    strLen(p.appVersion);
  for (const k in p.tags ?? {}) n += fieldLen(strLen(k) + strLen(p.tags![k]));
  return n;
}

export function encodeTracerPayloadChunks(p: TracerPayload): EncodedTracerPayload {
  const { chunks, ...rest } = p;
  const enc = chunkWriter.chunks(chunks);
  let size = headerSize(rest);
  for (const c of enc) size += fieldLen(c.length);
  return { payload: rest, chunks: enc, spansPerChunk: chunks.map((c) => c.spans.length), size };
}

function writeTracerPayload(w: W, e: EncodedTracerPayload): void {
  const p = e.payload;
  str(w, 1, p.header.containerId);
  str(w, 2, p.header.lang);
  str(w, 3, p.header.langVersion);
  str(w, 4, p.header.tracerVersion);
  str(w, 5, p.runtimeId);
  for (const c of e.chunks) w.uint32(tag(6, 2)).bytes(c);
  strMap(w, 7, p.tags);
  str(w, 8, p.env);
  str(w, 9, p.hostname);
  str(w, 10, p.appVersion);
}

/** One TracerPayload message (the body of AgentPayload field 5). */
export function encodeTracerPayload(p: TracerPayload): Uint8Array {
  const w = Writer.create();
  writeTracerPayload(w, encodeTracerPayloadChunks(p));
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

function agentPayloadBody(parts: EncodedTracerPayload[], o: AgentPayloadOptions): Uint8Array {
  const w = Writer.create();
  str(w, 1, o.hostName);
  str(w, 2, o.env);
  for (const p of parts) {
    // the size is known, so the message is written in place instead of forked and moved after
    w.uint32(tag(5, 2));
    const start = w.pos;
    w.uint32(p.size);
    const body = w.pos;
    writeTracerPayload(w, p);
    if (w.pos - body !== p.size) {
      // a size computed wrong must not corrupt the payload: write it again the general way
      w.pos = start;
      w.fork();
      writeTracerPayload(w, p);
      w.ldelim();
    }
  }
  strMap(w, 6, o.tags);
  str(w, 7, o.agentVersion);
  if (o.targetTPS) w.uint32(tag(8, 1)).double(o.targetTPS);
  if (o.errorTPS) w.uint32(tag(9, 1)).double(o.errorTPS);
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
  return {
    kind: 'traces',
    body: agentPayloadBody(parts, o),
    contentType: 'application/x-protobuf',
    headers: headersFor(parts),
    items: parts.reduce((n, p) => n + spansOf(p), 0),
    split: () => splitParts(parts, o),
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

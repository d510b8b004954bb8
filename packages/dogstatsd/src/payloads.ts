import protobuf from 'protobufjs';
import type { Serie, SketchEntry } from './aggregator.js';
import type { DogStatsDEvent, OutgoingPayload, ServiceCheck } from './types.js';

/** Per-payload limits: item count and uncompressed body size. */
export interface PayloadLimits {
  maxItems: number;
  maxBytes: number;
}

/**
 * /api/v2/series: ≤ 1000 series (the extension's batch) and a decompressed body smaller than
 * 5 242 880 B (the intake's), so at most 5 242 879.
 */
export const SERIES_LIMITS: PayloadLimits = { maxItems: 1000, maxBytes: 5_242_879 };
/** /api/beta/sketches: ≤ 1000 sketches, and the agent's generic 4 MiB uncompressed payload limit. */
export const SKETCH_LIMITS: PayloadLimits = { maxItems: 1000, maxBytes: 4_194_304 };
/** /api/v1/check_run and events: the agent's generic 4 MiB uncompressed limit. */
export const CHECK_RUN_LIMITS: PayloadLimits = { maxItems: 10_000, maxBytes: 4_194_304 };
export const EVENT_LIMITS: PayloadLimits = { maxItems: 10_000, maxBytes: 4_194_304 };

const JSON_TYPE = 'application/json';
const PROTOBUF_TYPE = 'application/x-protobuf';

/**
 * One `datadog.agentpayload.Sketch` (agent_payload.proto; only what we send: the legacy
 * `distributions` field stays empty), written field by field with protobufjs's Writer, in field
 * order and with proto3's implicit presence (an empty string or a zero is left out), byte for byte
 * as protobufjs's generated encoder wrote it: building that encoder from a schema (reflection and
 * `new Function` code generation) cost about 10 ms of CPU at the first sketch flush, on the first
 * invocation's critical path, and no code cache holds generated code.
 *
 *   Sketch    { string metric = 1; string host = 2; repeated string tags = 4;
 *               repeated Dogsketch dogsketches = 7; Metadata metadata = 8; }
 *   Dogsketch { int64 ts = 1; int64 cnt = 2; double min = 3; double max = 4; double avg = 5;
 *               double sum = 6; repeated sint32 k = 7 [packed]; repeated uint32 n = 8 [packed]; }
 *   Metadata  { Origin origin = 1; }
 *   Origin    { uint32 origin_product = 4; uint32 origin_category = 5; uint32 origin_service = 6; }
 */
export function encodeSketch(entry: SketchEntry): Uint8Array {
  const s = entry.sketch;
  const { k, n } = s.bins();
  const w = protobuf.Writer.create();
  // A field's tag is (number << 3 | wire type): 0 varint, 1 64-bit, 2 length-delimited.
  if (entry.metric) w.uint32(10).string(entry.metric);
  if (entry.host) w.uint32(18).string(entry.host);
  for (const tag of entry.tags ?? []) w.uint32(34).string(tag);
  w.uint32(58).fork();
  if (entry.ts !== 0) w.uint32(8).int64(entry.ts);
  if (s.count !== 0) w.uint32(16).int64(s.count);
  double(w, 25, s.min);
  double(w, 33, s.max);
  double(w, 41, s.avg);
  double(w, 49, s.sum);
  if (k.length > 0) {
    w.uint32(58).fork();
    for (const key of k) w.sint32(key);
    w.ldelim();
  }
  if (n.length > 0) {
    w.uint32(66).fork();
    for (const count of n) w.uint32(count);
    w.ldelim();
  }
  w.ldelim();
  if (entry.origin !== undefined) {
    const o = entry.origin;
    w.uint32(66).fork().uint32(10).fork();
    if (o.product !== 0) w.uint32(32).uint32(o.product);
    if (o.category !== 0) w.uint32(40).uint32(o.category);
    if (o.service !== 0) w.uint32(48).uint32(o.service);
    w.ldelim().ldelim();
  }
  return w.finish();
}

/** A double field unless it is +0 (proto3 leaves the default out; -0 is not the default). */
function double(w: protobuf.Writer, tag: number, v: number): void {
  if (!Object.is(v, 0)) w.uint32(tag).double(v);
}

/**
 * Accumulates already-serialised items into payloads that respect `limits`. An item larger than
 * the byte limit travels alone (the intake decides), like the extension does.
 */
class Batcher<T> {
  private parts: T[] = [];
  private bytes = 0;
  readonly payloads: OutgoingPayload[] = [];

  constructor(
    private readonly limits: PayloadLimits,
    /** Framing bytes of the payload itself. */
    private readonly fixed: number,
    /** Size of one item, its separator or framing included. */
    private readonly sizeOf: (part: T) => number,
    private readonly build: (parts: T[]) => OutgoingPayload,
  ) {}

  add(part: T): void {
    const size = this.sizeOf(part);
    if (
      this.parts.length > 0 &&
      (this.parts.length >= this.limits.maxItems || this.fixed + this.bytes + size > this.limits.maxBytes)
    ) {
      this.close();
    }
    this.parts.push(part);
    this.bytes += size;
  }

  close(): void {
    if (this.parts.length === 0) return;
    this.payloads.push(this.build(this.parts));
    this.parts = [];
    this.bytes = 0;
  }

  finish(): OutgoingPayload[] {
    this.close();
    return this.payloads;
  }
}

function splitter(
  parts: unknown[],
  build: (p: never[]) => OutgoingPayload,
): () => OutgoingPayload[] | undefined {
  return () => {
    if (parts.length < 2) return undefined;
    const mid = parts.length >> 1;
    return [build(parts.slice(0, mid) as never[]), build(parts.slice(mid) as never[])];
  };
}

const COMMA = Buffer.from(',');

/** How a payload frames its items: what comes before and after them, and what separates them. */
interface Framing {
  kind: 'series' | 'sketches';
  contentType: string;
  head: Buffer;
  foot: Buffer;
  /** Bytes between two items (a JSON comma), 0 for none. */
  sepLength: number;
}

const SERIES_FRAMING: Framing = {
  kind: 'series',
  contentType: JSON_TYPE,
  head: Buffer.from('{"series":['),
  foot: Buffer.from(']}'),
  sepLength: 1,
};
// SketchPayload.sketches is field 1: each Sketch is framed as a length-delimited field.
const SKETCH_FRAMING: Framing = {
  kind: 'sketches',
  contentType: PROTOBUF_TYPE,
  head: Buffer.alloc(0),
  foot: Buffer.alloc(0),
  sepLength: 0,
};

/**
 * A payload of `items` (the framed items, separators included) that starts at `starts[i]` in
 * it. `split()` halves it by slicing those bytes: a payload keeps no per-item objects.
 */
function framedPayload(f: Framing, items: Uint8Array, starts: readonly number[]): OutgoingPayload {
  const body = Buffer.allocUnsafe(f.head.length + items.length + f.foot.length);
  f.head.copy(body, 0);
  body.set(items, f.head.length);
  f.foot.copy(body, f.head.length + items.length);
  const own = body.subarray(f.head.length, f.head.length + items.length);
  return {
    kind: f.kind,
    body,
    contentType: f.contentType,
    items: starts.length,
    split: () => {
      if (starts.length < 2) return undefined;
      const mid = starts.length >> 1;
      const cut = starts[mid]!;
      return [
        framedPayload(f, own.subarray(0, cut - f.sepLength), starts.slice(0, mid)),
        framedPayload(
          f,
          own.subarray(cut),
          starts.slice(mid).map((x) => x - cut),
        ),
      ];
    },
  };
}

/**
 * Writes serialised items straight into one reusable byte buffer and cuts it into payloads that
 * respect `limits`. A flush of 100k contexts then holds no string or buffer per item until its
 * payload closes: those would outlive young-generation collections and make them, and the old
 * generation's marking, long pauses of the event loop. An item larger than the byte limit
 * travels alone (the intake decides), as the extension does.
 */
class ByteBatcher {
  private buf = Buffer.allocUnsafe(64 * 1024);
  /** Bytes of the open payload's items, separators included. */
  private length = 0;
  private starts: number[] = [];
  private readonly payloads: OutgoingPayload[] = [];

  constructor(
    private readonly limits: PayloadLimits,
    private readonly framing: Framing,
  ) {}

  /** A JSON item: encoded in place, after its separator. */
  addString(s: string): void {
    const sep = this.starts.length > 0 ? this.framing.sepLength : 0;
    this.reserve(sep + s.length * 3);
    let at = this.length;
    if (sep > 0) this.buf[at++] = 44; /* , */
    const n = this.buf.write(s, at);
    this.commit(at, at + n);
  }

  /** A protobuf item, framed as field 1 (length-delimited) of the payload message. */
  addFramed(bytes: Uint8Array): void {
    const frame = protobuf.Writer.create().uint32(10).uint32(bytes.length).finish();
    this.reserve(frame.length + bytes.length);
    const start = this.length;
    this.buf.set(frame, start);
    this.buf.set(bytes, start + frame.length);
    this.commit(start, start + frame.length + bytes.length);
  }

  finish(): OutgoingPayload[] {
    this.close(this.length);
    return this.payloads;
  }

  /** The item now at `[start, end)` (its separator just before `start`) joins or opens a payload. */
  private commit(start: number, end: number): void {
    const count = this.starts.length;
    const fixed = this.framing.head.length + this.framing.foot.length;
    if (count > 0 && (count >= this.limits.maxItems || fixed + end > this.limits.maxBytes)) {
      // Close what came before this item and its separator, and move the item to the front.
      this.close(start - this.framing.sepLength);
      this.buf.copyWithin(0, start, end);
      this.starts.push(0);
      this.length = end - start;
      return;
    }
    this.starts.push(start);
    this.length = end;
  }

  private close(end: number): void {
    if (this.starts.length === 0) return;
    this.payloads.push(framedPayload(this.framing, this.buf.subarray(0, end), this.starts));
    this.starts = [];
    this.length = 0;
  }

  private reserve(extra: number): void {
    if (this.length + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + extra) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buf.copy(grown, 0, 0, this.length);
    this.buf = grown;
  }
}

/** Incremental /api/v2/series builder (JSON, the public API's numbering). */
export class SeriesPayloadBuilder {
  private readonly batcher: ByteBatcher;
  constructor(limits: PayloadLimits = SERIES_LIMITS) {
    this.batcher = new ByteBatcher(limits, SERIES_FRAMING);
  }
  add(serie: Serie): void {
    this.batcher.addString(JSON.stringify(serie));
  }
  /** A series already serialised as one JSON object. */
  addJson(json: string): void {
    this.batcher.addString(json);
  }
  finish(): OutgoingPayload[] {
    return this.batcher.finish();
  }
}

/** Incremental /api/beta/sketches builder (protobuf SketchPayload). */
export class SketchPayloadBuilder {
  private readonly batcher: ByteBatcher;
  constructor(limits: PayloadLimits = SKETCH_LIMITS) {
    this.batcher = new ByteBatcher(limits, SKETCH_FRAMING);
  }
  add(entry: SketchEntry): void {
    this.batcher.addFramed(encodeSketch(entry));
  }
  /** A Sketch message already encoded by `encodeSketch`. */
  addEncoded(bytes: Uint8Array): void {
    this.batcher.addFramed(bytes);
  }
  finish(): OutgoingPayload[] {
    return this.batcher.finish();
  }
}

export function buildSeriesPayloads(series: Iterable<Serie>, limits?: PayloadLimits): OutgoingPayload[] {
  const b = new SeriesPayloadBuilder(limits);
  for (const s of series) b.add(s);
  return b.finish();
}

export function buildSketchPayloads(
  sketches: Iterable<SketchEntry>,
  limits?: PayloadLimits,
): OutgoingPayload[] {
  const b = new SketchPayloadBuilder(limits);
  for (const s of sketches) b.add(s);
  return b.finish();
}

function jsonArrayPayload(kind: 'check_run', parts: Buffer[]): OutgoingPayload {
  const chunks: Buffer[] = [Buffer.from('[')];
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) chunks.push(COMMA);
    chunks.push(parts[i]!);
  }
  chunks.push(Buffer.from(']'));
  return {
    kind,
    body: Buffer.concat(chunks),
    contentType: JSON_TYPE,
    items: parts.length,
    split: splitter(parts, (p: Buffer[]) => jsonArrayPayload(kind, p)),
  };
}

/** /api/v1/check_run: a JSON array of the agent's v1 service checks. */
export function buildServiceCheckPayloads(
  checks: Iterable<ServiceCheck>,
  limits: PayloadLimits = CHECK_RUN_LIMITS,
): OutgoingPayload[] {
  // `[` + items joined by `,` + `]`: each item counts its separator, and the first item's
  // missing comma pays for the `]`.
  const b = new Batcher<Buffer>(
    limits,
    1,
    (p) => p.length + 1,
    (p) => jsonArrayPayload('check_run', p),
  );
  for (const c of checks) {
    const o: Record<string, unknown> = {
      check: c.name,
      host_name: c.host,
      timestamp: c.timestamp,
      status: c.status,
      // Always present, empty or not, as in the agent's v1 payload.
      message: c.message,
      tags: c.tags,
    };
    b.add(Buffer.from(JSON.stringify(o)));
  }
  return b.finish();
}

interface EncodedEvent {
  source: string;
  json: Buffer;
}

function eventsPayload(parts: EncodedEvent[], hostname: string): OutgoingPayload {
  // The agent's intake format: events grouped by source type name ('api' when none).
  const groups = new Map<string, Buffer[]>();
  for (const p of parts) {
    let g = groups.get(p.source);
    if (g === undefined) {
      g = [];
      groups.set(p.source, g);
    }
    g.push(p.json);
  }
  const chunks: Buffer[] = [Buffer.from('{"apiKey":"","events":{')];
  let first = true;
  for (const [source, list] of groups) {
    if (!first) chunks.push(COMMA);
    first = false;
    chunks.push(Buffer.from(`${JSON.stringify(source)}:[`));
    for (let i = 0; i < list.length; i++) {
      if (i > 0) chunks.push(COMMA);
      chunks.push(list[i]!);
    }
    chunks.push(Buffer.from(']'));
  }
  chunks.push(Buffer.from(`},"internalHostname":${JSON.stringify(hostname)}}`));
  return {
    kind: 'events',
    body: Buffer.concat(chunks),
    contentType: JSON_TYPE,
    items: parts.length,
    split: splitter(parts, (p: EncodedEvent[]) => eventsPayload(p, hostname)),
  };
}

/** Events in the agent's intake JSON (`{"apiKey","events":{source:[…]},"internalHostname"}`). */
export function buildEventPayloads(
  events: Iterable<DogStatsDEvent>,
  options: { hostname?: string; limits?: PayloadLimits } = {},
): OutgoingPayload[] {
  const hostname = options.hostname ?? '';
  const b = new Batcher<EncodedEvent>(
    options.limits ?? EVENT_LIMITS,
    48 + Buffer.byteLength(JSON.stringify(hostname)),
    // Worst case: each event opens its own source group.
    (p) => p.json.length + Buffer.byteLength(JSON.stringify(p.source)) + 4,
    (p) => eventsPayload(p, hostname),
  );
  for (const e of events) {
    const o: Record<string, unknown> = {
      msg_title: e.title,
      msg_text: e.text,
      timestamp: e.timestamp,
      priority: e.priority,
      alert_type: e.alertType,
    };
    if (e.host !== '') o['host'] = e.host;
    if (e.tags.length > 0) o['tags'] = e.tags;
    if (e.aggregationKey !== '') o['aggregation_key'] = e.aggregationKey;
    if (e.sourceTypeName !== '') o['source_type_name'] = e.sourceTypeName;
    b.add({
      source: e.sourceTypeName === '' ? 'api' : e.sourceTypeName,
      json: Buffer.from(JSON.stringify(o)),
    });
  }
  return b.finish();
}

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
 * `datadog.agentpayload` messages used on /api/beta/sketches (field numbers from
 * agent_payload.proto). Only what we send is declared; the legacy `distributions` field stays empty.
 */
const root = protobuf.Root.fromJSON({
  nested: {
    datadog: {
      nested: {
        agentpayload: {
          nested: {
            Origin: {
              fields: {
                originProduct: { type: 'uint32', id: 4 },
                originCategory: { type: 'uint32', id: 5 },
                originService: { type: 'uint32', id: 6 },
              },
            },
            Metadata: { fields: { origin: { type: 'Origin', id: 1 } } },
            Dogsketch: {
              fields: {
                ts: { type: 'int64', id: 1 },
                cnt: { type: 'int64', id: 2 },
                min: { type: 'double', id: 3 },
                max: { type: 'double', id: 4 },
                avg: { type: 'double', id: 5 },
                sum: { type: 'double', id: 6 },
                k: { rule: 'repeated', type: 'sint32', id: 7, options: { packed: true } },
                n: { rule: 'repeated', type: 'uint32', id: 8, options: { packed: true } },
              },
            },
            Sketch: {
              fields: {
                metric: { type: 'string', id: 1 },
                host: { type: 'string', id: 2 },
                tags: { rule: 'repeated', type: 'string', id: 4 },
                dogsketches: { rule: 'repeated', type: 'Dogsketch', id: 7 },
                metadata: { type: 'Metadata', id: 8 },
              },
            },
          },
        },
      },
    },
  },
});
const SketchType = root.lookupType('datadog.agentpayload.Sketch');

/** Encodes one `Sketch` message (one Dogsketch, as the extension sends it). */
export function encodeSketch(entry: SketchEntry): Uint8Array {
  const s = entry.sketch;
  const { k, n } = s.bins();
  const msg: Record<string, unknown> = {
    metric: entry.metric,
    host: entry.host,
    tags: entry.tags,
    dogsketches: [{ ts: entry.ts, cnt: s.count, min: s.min, max: s.max, avg: s.avg, sum: s.sum, k, n }],
  };
  if (entry.origin !== undefined) {
    msg['metadata'] = {
      origin: {
        originProduct: entry.origin.product,
        originCategory: entry.origin.category,
        originService: entry.origin.service,
      },
    };
  }
  return SketchType.encode(msg).finish();
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

function seriesPayload(parts: string[]): OutgoingPayload {
  return {
    kind: 'series',
    body: Buffer.from(`{"series":[${parts.join(',')}]}`),
    contentType: JSON_TYPE,
    items: parts.length,
    split: splitter(parts, seriesPayload),
  };
}
const COMMA = Buffer.from(',');

function sketchesPayload(parts: Uint8Array[]): OutgoingPayload {
  // SketchPayload.sketches is field 1: each Sketch framed as a length-delimited field.
  const w = protobuf.Writer.create();
  for (const p of parts) w.uint32(10).bytes(p);
  return {
    kind: 'sketches',
    body: w.finish(),
    contentType: PROTOBUF_TYPE,
    items: parts.length,
    split: splitter(parts, sketchesPayload),
  };
}

/** Incremental /api/v2/series builder (JSON, the public API's numbering). */
export class SeriesPayloadBuilder {
  private readonly batcher: Batcher<string>;
  constructor(limits: PayloadLimits = SERIES_LIMITS) {
    // Strings until the payload closes: one buffer per payload, not one per series.
    // `{"series":[` + `]}`, less the comma the first series does not have.
    this.batcher = new Batcher(limits, 12, (p) => Buffer.byteLength(p) + 1, seriesPayload);
  }
  add(serie: Serie): void {
    this.batcher.add(JSON.stringify(serie));
  }
  /** A series already serialised as one JSON object. */
  addJson(json: string): void {
    this.batcher.add(json);
  }
  finish(): OutgoingPayload[] {
    return this.batcher.finish();
  }
}

/** Incremental /api/beta/sketches builder (protobuf SketchPayload). */
export class SketchPayloadBuilder {
  private readonly batcher: Batcher<Uint8Array>;
  constructor(limits: PayloadLimits = SKETCH_LIMITS) {
    // 1 tag byte + up to 5 length bytes per framed sketch.
    this.batcher = new Batcher(limits, 0, (p) => p.length + 6, sketchesPayload);
  }
  add(entry: SketchEntry): void {
    this.batcher.add(encodeSketch(entry));
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

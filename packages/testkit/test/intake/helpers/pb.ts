// An independent protobuf writer for tests: bytes laid out by hand from the wire-format rules and
// the field numbers in the wire-protocol reference, sharing no code with the intake's decoder.

export function varint(value: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return out;
}

const key = (field: number, wire: number): number[] => varint((field << 3) | wire);

export const zz32 = (n: number): number => ((n << 1) ^ (n >> 31)) >>> 0;

export type Bytes = number[];

export const f = {
  varint: (field: number, v: number | bigint): Bytes => [...key(field, 0), ...varint(v)],
  sint32: (field: number, v: number): Bytes => [...key(field, 0), ...varint(zz32(v))],
  bool: (field: number, v: boolean): Bytes => [...key(field, 0), v ? 1 : 0],
  double: (field: number, v: number): Bytes => {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    return [...key(field, 1), ...b];
  },
  fixed64: (field: number, v: bigint): Bytes => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(v);
    return [...key(field, 1), ...b];
  },
  bytes: (field: number, v: Bytes | Uint8Array): Bytes => [...key(field, 2), ...varint(v.length), ...v],
  string: (field: number, s: string): Bytes => f.bytes(field, [...Buffer.from(s, 'utf8')]),
  message: (field: number, ...parts: Bytes[]): Bytes => f.bytes(field, parts.flat()),
  packedVarint: (field: number, values: readonly (number | bigint)[]): Bytes =>
    f.bytes(
      field,
      values.flatMap((v) => varint(v)),
    ),
  packedSint32: (field: number, values: readonly number[]): Bytes =>
    f.bytes(
      field,
      values.flatMap((v) => varint(zz32(v))),
    ),
  packedDouble: (field: number, values: readonly number[]): Bytes =>
    f.bytes(
      field,
      values.flatMap((v) => {
        const b = Buffer.alloc(8);
        b.writeDoubleLE(v);
        return [...b];
      }),
    ),
  mapEntry: (field: number, k: Bytes, v: Bytes): Bytes => f.message(field, k, v),
};

export const bytes = (...parts: Bytes[]): Uint8Array => Uint8Array.from(parts.flat());

// ---- the Datadog messages, by field number ----------------------------------------------------

export interface SeriesIn {
  metric: string;
  type?: number;
  points: { timestamp: number; value: number }[];
  tags?: string[];
  resources?: { type: string; name: string }[];
  interval?: number;
  unit?: string;
}

export function metricPayload(series: SeriesIn[]): Uint8Array {
  return bytes(
    ...series.map((s) =>
      f.message(
        1,
        ...(s.resources ?? []).map((r) => f.message(1, f.string(1, r.type), f.string(2, r.name))),
        f.string(2, s.metric),
        ...(s.tags ?? []).map((t) => f.string(3, t)),
        // The Agent writes timestamp (2) before value (1); decoders must not care about order.
        ...s.points.map((p) => f.message(4, f.varint(2, p.timestamp), f.double(1, p.value))),
        s.type ? f.varint(5, s.type) : [],
        s.unit ? f.string(6, s.unit) : [],
        s.interval ? f.varint(8, s.interval) : [],
        f.message(9, f.message(1, f.varint(4, 10), f.varint(5, 10), f.varint(6, 0))),
      ),
    ),
  );
}

export interface DogsketchIn {
  ts: number;
  cnt: number;
  min: number;
  max: number;
  sum: number;
  avg: number;
  k: number[];
  n: number[];
}

export function sketchPayload(
  sketches: { metric: string; host?: string; tags?: string[]; dogsketches: DogsketchIn[] }[],
) {
  return bytes(
    ...sketches.map((s) =>
      f.message(
        1,
        f.string(1, s.metric),
        s.host ? f.string(2, s.host) : [],
        ...(s.tags ?? []).map((t) => f.string(4, t)),
        ...s.dogsketches.map((d) =>
          f.message(
            7,
            f.varint(1, d.ts),
            f.varint(2, d.cnt),
            f.double(3, d.min),
            f.double(4, d.max),
            f.double(5, d.avg),
            f.double(6, d.sum),
            f.packedSint32(7, d.k),
            f.packedVarint(8, d.n),
          ),
        ),
      ),
    ),
    f.message(2, f.string(1, '7.50.0')),
  );
}

export interface SpanIn {
  service: string;
  name: string;
  resource: string;
  traceID: bigint;
  spanID: bigint;
  parentID: bigint;
  start: bigint;
  duration: bigint;
  error?: number;
  meta?: Record<string, string>;
  metrics?: Record<string, number>;
  type?: string;
}

export function span(s: SpanIn): Bytes {
  return [
    ...f.string(1, s.service),
    ...f.string(2, s.name),
    ...f.string(3, s.resource),
    ...f.varint(4, s.traceID),
    ...f.varint(5, s.spanID),
    ...f.varint(6, s.parentID),
    ...f.varint(7, s.start),
    ...f.varint(8, s.duration),
    ...(s.error ? f.varint(9, s.error) : []),
    ...Object.entries(s.meta ?? {}).flatMap(([k, v]) => f.mapEntry(10, f.string(1, k), f.string(2, v))),
    ...Object.entries(s.metrics ?? {}).flatMap(([k, v]) => f.mapEntry(11, f.string(1, k), f.double(2, v))),
    ...(s.type ? f.string(12, s.type) : []),
  ];
}

export function agentPayload(opts: {
  env?: string;
  tracerPayloads: {
    languageName?: string;
    tracerVersion?: string;
    chunks: { priority: number; spans: SpanIn[] }[];
  }[];
}): Uint8Array {
  return bytes(
    opts.env ? f.string(2, opts.env) : [],
    ...opts.tracerPayloads.map((tp) =>
      f.message(
        5,
        tp.languageName ? f.string(2, tp.languageName) : [],
        tp.tracerVersion ? f.string(4, tp.tracerVersion) : [],
        ...tp.chunks.map((c) =>
          f.message(
            6,
            f.varint(1, BigInt.asUintN(64, BigInt(c.priority))),
            ...c.spans.map((s) => f.message(3, span(s))),
          ),
        ),
      ),
    ),
    f.string(7, '0.1.0'),
    f.double(8, 60),
    f.double(9, 60),
  );
}

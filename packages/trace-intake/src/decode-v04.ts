// A reader specialised for the v0.4 layout (array<trace>, trace = array<span map>) that builds Span
// objects straight from the bytes: no intermediate generic maps, no second checking pass, span field
// names matched on bytes, meta/metrics keys and the repeated span strings taken from small caches.
// It accepts only the canonical shapes tracers send; anything else (extension types, odd value types,
// span links/events, meta_struct, unknown keys, non-ASCII text it cannot vouch for, trailing bytes)
// makes it give up, and the caller decodes the body with the general msgpack path instead, so both
// paths give the same spans and the same errors.
import { type KeySet, type MetaStage, TEXT_ASCII, TEXT_INVALID } from './meta-stage.js';
import type { Id, Span } from './types.js';

/**
 * A span read for transcoding: `meta` holds only the entries processing reads or writes (the
 * watched keys); the others are already protobuf bytes at [metaFrom, metaTo) of the request's stage.
 */
export interface StagedSpan extends Span {
  metaFrom: number;
  metaTo: number;
  /** Bit i set when the span has the i-th of the keys only noted (Staging.noted), copied as they are. */
  noted: number;
}

/**
 * What transcoding needs: the keys processing reads (decoded), where the other entries go, and what
 * processing rewrites. `keys` codes: under `noted`, a key that is copied and whose presence is noted
 * (bit `code`); `noted` to `dropped`, a key left out (the encoder writes its own value); from
 * `dropped` on, a key decoded into `meta`.
 */
export interface Staging {
  keys: KeySet;
  noted: number;
  dropped: number;
  out: MetaStage;
  /** Whether processing would rewrite an entry it does not watch (a credit-card number). */
  rewrites(key: string, value: string): boolean;
}

// processing truncates longer keys and values (SpanProcessor.normalize): such entries are not copied
const MAX_COPIED_KEY = 200;
const MAX_COPIED_VALUE = 25000;

/** Thrown (one shared instance) when the body is not in the shape this reader handles. */
const GIVE_UP = { reason: 'not the canonical v0.4 layout' };

const CACHE_SIZE = 1024; // slots per cache; a power of two
const CACHE_MAX_LEN = 48;

/** Strings by their bytes: repeated keys and names decode once and stay the same (internalised) string. */
class StringCache {
  private readonly slots: (string | undefined)[] = new Array(CACHE_SIZE).fill(undefined);

  get(src: Uint8Array, start: number, len: number): string | undefined {
    // the length, the first two and the last four bytes pick the slot; a hit is checked byte for byte
    let h = len;
    if (len > 0) {
      const last = start + len - 1;
      h = (Math.imul(h, 31) + src[start]!) | 0;
      h = (Math.imul(h, 31) + src[start + (len > 1 ? 1 : 0)]!) | 0;
      h = (Math.imul(h, 31) + src[last]!) | 0;
      if (len > 3) {
        h = (Math.imul(h, 31) + src[last - 1]!) | 0;
        h = (Math.imul(h, 31) + src[last - 2]!) | 0;
        h = (Math.imul(h, 31) + src[last - 3]!) | 0;
      }
    }
    const slot = (h ^ (h >>> 11) ^ (h >>> 17)) & (CACHE_SIZE - 1);
    const hit = this.slots[slot];
    if (hit !== undefined && hit.length === len) {
      let same = true;
      for (let i = 0; i < len; i++) {
        if (hit.charCodeAt(i) !== src[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return hit;
    }
    const s = asciiOrUndefined(src, start, len);
    if (s !== undefined) this.slots[slot] = s;
    return s;
  }
}

const fromCharCode = String.fromCharCode;

/** The ASCII text of the bytes, or undefined when one of them is not ASCII. */
function asciiOrUndefined(src: Uint8Array, start: number, len: number): string | undefined {
  let any = 0;
  for (let i = start, end = start + len; i < end; i++) any |= src[i]!;
  if (any >= 0x80) return undefined;
  return len <= 16 ? shortAscii(src, start, len) : (src as Buffer).toString('latin1', start, start + len);
}

/** Up to 16 ASCII bytes as one flat string, in a single call (no concatenation). */
function shortAscii(b: Uint8Array, p: number, n: number): string {
  if (n < 4) {
    if (n === 0) return '';
    if (n === 1) return fromCharCode(b[p]!);
    if (n === 2) return fromCharCode(b[p]!, b[p + 1]!);
    return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!);
  }
  const a0 = b[p]!;
  const a1 = b[p + 1]!;
  const a2 = b[p + 2]!;
  const a3 = b[p + 3]!;
  if (n < 8) {
    if (n === 4) return fromCharCode(a0, a1, a2, a3);
    if (n === 5) return fromCharCode(a0, a1, a2, a3, b[p + 4]!);
    if (n === 6) return fromCharCode(a0, a1, a2, a3, b[p + 4]!, b[p + 5]!);
    return fromCharCode(a0, a1, a2, a3, b[p + 4]!, b[p + 5]!, b[p + 6]!);
  }
  const a4 = b[p + 4]!;
  const a5 = b[p + 5]!;
  const a6 = b[p + 6]!;
  const a7 = b[p + 7]!;
  if (n < 12) {
    if (n === 8) return fromCharCode(a0, a1, a2, a3, a4, a5, a6, a7);
    if (n === 9) return fromCharCode(a0, a1, a2, a3, a4, a5, a6, a7, b[p + 8]!);
    if (n === 10) return fromCharCode(a0, a1, a2, a3, a4, a5, a6, a7, b[p + 8]!, b[p + 9]!);
    return fromCharCode(a0, a1, a2, a3, a4, a5, a6, a7, b[p + 8]!, b[p + 9]!, b[p + 10]!);
  }
  const a8 = b[p + 8]!;
  const a9 = b[p + 9]!;
  const a10 = b[p + 10]!;
  const a11 = b[p + 11]!;
  if (n === 12) return fromCharCode(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11);
  if (n === 13) return fromCharCode(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, b[p + 12]!);
  if (n === 14) return fromCharCode(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, b[p + 12]!, b[p + 13]!);
  if (n === 15)
    return fromCharCode(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, b[p + 12]!, b[p + 13]!, b[p + 14]!);
  return fromCharCode(
    a0,
    a1,
    a2,
    a3,
    a4,
    a5,
    a6,
    a7,
    a8,
    a9,
    a10,
    a11,
    b[p + 12]!,
    b[p + 13]!,
    b[p + 14]!,
    b[p + 15]!,
  );
}

// field names as numbers: length and first two bytes tell them apart, the rest is compared on bytes
const Field = {
  Unknown: 0,
  Service: 1,
  Name: 2,
  Resource: 3,
  TraceId: 4,
  SpanId: 5,
  ParentId: 6,
  Start: 7,
  Duration: 8,
  Error: 9,
  Meta: 10,
  Metrics: 11,
  Type: 12,
} as const;
type Field = (typeof Field)[keyof typeof Field];

// indexed by Field - 1
const FIELD_BYTES = [
  'service',
  'name',
  'resource',
  'trace_id',
  'span_id',
  'parent_id',
  'start',
  'duration',
  'error',
  'meta',
  'metrics',
  'type',
].map((n) => Buffer.from(n, 'latin1'));

/** A span with the same fields, in the same order, as decode.ts's spanFromMap builds. */
function spanOf(
  service: string,
  name: string,
  resource: string,
  traceId: Id,
  spanId: Id,
  parentId: Id,
  start: Id,
  duration: Id,
  error: number,
  meta: Record<string, string>,
  metrics: Record<string, number>,
  type: string,
): Span {
  return {
    service,
    name,
    resource,
    trace_id: traceId,
    span_id: spanId,
    parent_id: parentId,
    start,
    duration,
    error,
    meta,
    metrics,
    type,
  };
}

class Reader {
  pos = 0;
  readonly end: number;
  readonly view: DataView;
  /** StagedSpan.noted of the span being read. */
  private noted = 0;

  constructor(
    readonly src: Buffer,
    readonly keys: StringCache,
    readonly values: StringCache,
    readonly staging?: Staging,
  ) {
    this.end = src.length;
    this.view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  }

  need(n: number): void {
    if (this.pos + n > this.end) throw GIVE_UP;
  }

  /** Length of an array header, or -1 for nil. */
  arrayLen(): number {
    return this.containerLen(0x90, 0xdc);
  }

  /** Length of a map header, or -1 for nil. */
  mapLen(): number {
    return this.containerLen(0x80, 0xde);
  }

  /**
   * Arrays and maps share one header layout: a fix form (`fix` in the high nibble, the length in the
   * low one), then 16- and 32-bit lengths under two consecutive tags starting at `tag16`.
   */
  private containerLen(fix: number, tag16: number): number {
    const b = this.src[this.take(1)]!;
    if ((b & 0xf0) === fix) return b & 0x0f;
    if (b === tag16) return this.view.getUint16(this.take(2));
    if (b === tag16 + 1) return this.view.getUint32(this.take(4));
    if (b === 0xc0) return -1;
    throw GIVE_UP;
  }

  /** Length of a str header at pos (consumed), or -1 for nil; gives up on anything else. */
  strLen(): number {
    const b = this.src[this.take(1)]!;
    let n: number;
    if ((b & 0xe0) === 0xa0) n = b & 0x1f;
    else if (b === 0xd9) n = this.src[this.take(1)]!;
    else if (b === 0xda) n = this.view.getUint16(this.take(2));
    else if (b === 0xdb) n = this.view.getUint32(this.take(4));
    else if (b === 0xc0) return -1;
    else throw GIVE_UP;
    this.need(n);
    return n;
  }

  text(n: number): string {
    const start = this.pos;
    this.pos += n;
    const s = asciiOrUndefined(this.src, start, n);
    if (s !== undefined) return s;
    const u = this.src.toString('utf8', start, start + n);
    // invalid UTF-8 is left to the general path, which decides how to render it
    if (u.includes('\ufffd')) throw GIVE_UP;
    return u;
  }

  cached(cache: StringCache, n: number): string {
    if (n > CACHE_MAX_LEN) return this.text(n);
    const s = cache.get(this.src, this.pos, n);
    if (s === undefined) return this.text(n);
    this.pos += n;
    return s;
  }

  /** A str value (nil as ''), through the cache of repeated values. */
  spanString(): string {
    const n = this.strLen();
    return n < 0 ? '' : this.cached(this.values, n);
  }

  key(): string {
    const n = this.strLen();
    if (n < 0) throw GIVE_UP;
    const s = this.cached(this.keys, n);
    if (s === '__proto__') throw GIVE_UP;
    return s;
  }

  field(): Field {
    const n = this.strLen();
    if (n < 0) throw GIVE_UP;
    const p = this.pos;
    this.pos += n;
    // the length and one distinguishing byte pick the only candidate, then every byte is compared
    const src = this.src;
    let f: Field;
    switch (n) {
      case 4:
        f = src[p] === 0x6e ? Field.Name : src[p + 1] === 0x65 ? Field.Meta : Field.Type;
        break;
      case 5:
        f = src[p] === 0x73 ? Field.Start : Field.Error;
        break;
      case 7:
        f = src[p] === 0x6d ? Field.Metrics : src[p + 1] === 0x65 ? Field.Service : Field.SpanId;
        break;
      case 8:
        f = src[p] === 0x72 ? Field.Resource : src[p] === 0x74 ? Field.TraceId : Field.Duration;
        break;
      case 9:
        f = Field.ParentId;
        break;
      default:
        return Field.Unknown;
    }
    const bytes = FIELD_BYTES[f - 1]!;
    for (let i = 0; i < n; i++) if (bytes[i] !== src[p + i]) return Field.Unknown;
    return f;
  }

  /** Position of the next `n` bytes, consumed; gives up when the body ends before them. */
  take(n: number): number {
    const p = this.pos;
    if (p + n > this.end) throw GIVE_UP;
    this.pos = p + n;
    return p;
  }

  /** An integer or float as msgpackr with int64AsType 'bigint' gives it: BigInt for 0xcf/0xd3. */
  number(): number | bigint | null {
    const b = this.src[this.take(1)]!;
    if (b < 0x80) return b;
    if (b >= 0xe0) return b - 0x100;
    const v = this.view;
    switch (b) {
      case 0xc0:
        return null;
      case 0xcc:
        return v.getUint8(this.take(1));
      case 0xcd:
        return v.getUint16(this.take(2));
      case 0xce:
        return v.getUint32(this.take(4));
      case 0xcf:
        return v.getBigUint64(this.take(8));
      case 0xd0:
        return v.getInt8(this.take(1));
      case 0xd1:
        return v.getInt16(this.take(2));
      case 0xd2:
        return v.getInt32(this.take(4));
      case 0xd3:
        return v.getBigInt64(this.take(8));
      case 0xca:
        return v.getFloat32(this.take(4));
      case 0xcb:
        return v.getFloat64(this.take(8));
      default:
        throw GIVE_UP;
    }
  }

  /** As decode.ts's id(): integers kept, finite floats truncated, nil 0. */
  id(): Id {
    const v = this.number();
    if (typeof v === 'bigint') return v;
    if (v === null) return 0;
    if (Number.isInteger(v)) return v;
    if (Number.isFinite(v)) return Math.trunc(v);
    throw GIVE_UP;
  }

  meta(): Record<string, string> {
    const n = this.mapLen();
    const meta: Record<string, string> = {};
    if (n < 0) return meta;
    if (n > this.end - this.pos) throw GIVE_UP;
    for (let i = 0; i < n; i++) {
      const k = this.key();
      const vl = this.strLen();
      // a non-string value means the general path's coercion rules apply
      if (vl < 0) throw GIVE_UP;
      // most values repeat from span to span (service, runtime id, language, integration...)
      meta[k] = this.cached(this.values, vl);
    }
    return meta;
  }

  /**
   * The meta map for transcoding: watched entries decoded (as `meta()` does), every other entry
   * written to the stage as protobuf, after the checks that processing would leave it as it is.
   */
  stagedMeta(st: Staging): Record<string, string> {
    const n = this.mapLen();
    const meta: Record<string, string> = {};
    if (n < 0) return meta;
    if (n > this.end - this.pos) throw GIVE_UP;
    const src = this.src;
    for (let i = 0; i < n; i++) {
      const kl = this.strLen();
      if (kl < 0) throw GIVE_UP;
      const kp = this.pos;
      this.pos += kl;
      const code = st.keys.find(src, kp, kl);
      const vl = this.strLen();
      if (vl < 0) throw GIVE_UP;
      if (code >= st.noted) {
        if (code >= st.dropped) {
          const key = st.keys.key(code);
          if (key === '__proto__') throw GIVE_UP;
          meta[key] = this.cached(this.values, vl);
        } else {
          // processing would have counted a value this long as cut
          if (vl > MAX_COPIED_VALUE) throw GIVE_UP;
          this.pos += vl;
        }
        continue;
      }
      if (code >= 0) this.noted |= 1 << code;
      const vp = this.pos;
      this.pos += vl;
      if (kl > MAX_COPIED_KEY || vl > MAX_COPIED_VALUE) throw GIVE_UP;
      const text = st.out.entry(src, kp, kl, vp, vl);
      if (text === TEXT_INVALID) throw GIVE_UP;
      // a value that may be a card number (a digit 2-6 first, 12 to 23 characters) is looked at closely
      const c = src[vp]!;
      if (c >= 0x32 && c <= 0x36 && vl >= 12 && (text === TEXT_ASCII ? vl <= 23 : vl <= 92)) {
        if (st.rewrites(src.toString('utf8', kp, kp + kl), src.toString('utf8', vp, vp + vl))) throw GIVE_UP;
      }
    }
    return meta;
  }

  metrics(): Record<string, number> {
    const n = this.mapLen();
    const metrics: Record<string, number> = {};
    if (n < 0) return metrics;
    if (n > this.end - this.pos) throw GIVE_UP;
    for (let i = 0; i < n; i++) {
      const k = this.key();
      const v = this.number();
      if (typeof v !== 'number') throw GIVE_UP;
      metrics[k] = v;
    }
    return metrics;
  }

  span(): Span {
    const n = this.mapLen();
    if (n < 0 || n > this.end - this.pos) throw GIVE_UP;
    let service = '';
    let name = '';
    let resource = '';
    let type = '';
    let traceId: Id = 0;
    let spanId: Id = 0;
    let parentId: Id = 0;
    let start: Id = 0;
    let duration: Id = 0;
    let error = 0;
    let meta: Record<string, string> | undefined;
    let metrics: Record<string, number> | undefined;
    const staging = this.staging;
    let metaFrom = 0;
    let metaTo = 0;
    for (let i = 0; i < n; i++) {
      switch (this.field()) {
        case Field.Service:
          service = this.spanString();
          break;
        case Field.Name:
          name = this.spanString();
          break;
        case Field.Resource:
          resource = this.spanString();
          break;
        case Field.Type:
          type = this.spanString();
          break;
        case Field.TraceId:
          traceId = this.id();
          break;
        case Field.SpanId:
          spanId = this.id();
          break;
        case Field.ParentId:
          parentId = this.id();
          break;
        case Field.Start:
          start = this.id();
          break;
        case Field.Duration:
          duration = this.id();
          break;
        case Field.Error: {
          const e = this.number();
          error = e === null ? 0 : Number(e) | 0;
          break;
        }
        case Field.Meta:
          if (staging === undefined) meta = this.meta();
          else {
            this.noted = 0;
            metaFrom = staging.out.end;
            meta = this.stagedMeta(staging);
            metaTo = staging.out.end;
          }
          break;
        case Field.Metrics:
          metrics = this.metrics();
          break;
        default:
          throw GIVE_UP;
      }
    }
    const span = spanOf(
      service,
      name,
      resource,
      traceId,
      spanId,
      parentId,
      start,
      duration,
      error,
      meta ?? {},
      metrics ?? {},
      type,
    );
    if (staging !== undefined) {
      const staged = span as StagedSpan;
      staged.metaFrom = metaFrom;
      staged.metaTo = metaTo;
      staged.noted = metaTo > metaFrom ? this.noted : 0;
    }
    return span;
  }

  traces(): Span[][] {
    const n = this.arrayLen();
    if (n < 0) return this.done([]);
    if (n > this.end - this.pos) throw GIVE_UP;
    const traces: Span[][] = new Array(n);
    for (let t = 0; t < n; t++) {
      const m = this.arrayLen();
      if (m < 0) {
        traces[t] = [];
        continue;
      }
      if (m > this.end - this.pos) throw GIVE_UP;
      const spans: Span[] = new Array(m);
      for (let s = 0; s < m; s++) spans[s] = this.span();
      traces[t] = spans;
    }
    return this.done(traces);
  }

  private done(traces: Span[][]): Span[][] {
    if (this.pos !== this.end) throw GIVE_UP;
    return traces;
  }
}

/** Decodes v0.4 bodies of the canonical layout; see the header comment. */
export class FastV04Decoder {
  private readonly keys = new StringCache();
  private readonly values = new StringCache();

  /** The traces, or undefined when the body needs the general path. */
  decode(body: Uint8Array): Span[][] | undefined {
    return this.read(body, undefined);
  }

  /**
   * The traces for transcoding (see StagedSpan), their unwatched meta entries written to
   * `staging.out`; undefined when the body needs the decoding path.
   */
  transcode(body: Uint8Array, staging: Staging): StagedSpan[][] | undefined {
    return this.read(body, staging) as StagedSpan[][] | undefined;
  }

  private read(body: Uint8Array, staging: Staging | undefined): Span[][] | undefined {
    const src = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    try {
      return new Reader(src, this.keys, this.values, staging).traces();
    } catch {
      // GIVE_UP, or a shape this reader did not foresee: the general path decides either way
      return undefined;
    }
  }
}

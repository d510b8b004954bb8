// A protobuf writer specialised for the hot path (TraceChunk and Span messages): one growing buffer,
// ASCII strings copied without a UTF-8 encoder call, nested lengths patched in place. The envelope
// (AgentPayload, TracerPayload) is written by encode.ts; tests decode both with an independent schema.
import type { ChunkArena } from './chunk-arena.js';
import type { StagedSpan } from './decode-v04.js';
import { GrowBuffer } from './grow-buffer.js';
import { split64 } from './ids.js';
import type { AttributeAnyValue, Id, Span, SpanTagStamp, TraceChunk } from './types.js';

interface EncodedStamp {
  always: Set<string>;
  /** Bit n set when a key of `always` is n characters long (keys under 32). */
  alwaysLens: number;
  alwaysBytes: Uint8Array;
  ifAbsent: [string, Uint8Array][];
  ifAbsentKeys: Set<string>;
  ifAbsentLens: number;
  /** Every `ifAbsent` entry, for the usual span that has none of them. */
  ifAbsentBytes: Uint8Array;
}

/** Bit n set when one of the keys is n characters long; keys of 32 and more always pass the test. */
const lengthMask = (keys: string[]) => keys.reduce((m, k) => (k.length < 32 ? m | (1 << k.length) : m), 0);
const mayHave = (mask: number, k: string) => k.length >= 32 || (mask & (1 << k.length)) !== 0;

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * Copies the characters of an ASCII string to `b` from `p`; returns the position after them, or -1
 * at the first character that is not ASCII (the caller then writes the string the general way).
 */
function copyAscii(b: Buffer, p: number, s: string): number {
  for (let i = 0, n = s.length; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return -1;
    b[p++] = c;
  }
  return p;
}

function varintSize(n: number): number {
  let len = 1;
  while (n > 0x7f) {
    n >>>= 7;
    len++;
  }
  return len;
}

/**
 * The keys of a stamp in the order the writer handles them: `ifAbsent` without the keys `always`
 * overrides (a StagedSpan's `noted` bit i is the i-th of these).
 */
export function stampOrder(st: SpanTagStamp): { always: string[]; ifAbsent: string[] } {
  return {
    always: Object.keys(st.always),
    ifAbsent: Object.keys(st.ifAbsent).filter((k) => !(k in st.always)),
  };
}

/** A meta map entry (Span field 10) as bytes. */
function metaEntry(k: string, v: string): Uint8Array {
  const w = new SpanWriter();
  return w.entry(k, v);
}

export class SpanWriter extends GrowBuffer {
  private readonly stamps = new WeakMap<SpanTagStamp, EncodedStamp>();

  constructor() {
    super(1 << 12);
  }

  /** One meta entry on its own (for precomputed stamps). */
  entry(k: string, v: string): Uint8Array {
    this.pos = 0;
    this.strMap(10, { [k]: v });
    return Uint8Array.prototype.slice.call(this.buf, 0, this.pos);
  }

  private encodedStamp(st: SpanTagStamp): EncodedStamp {
    let e = this.stamps.get(st);
    if (!e) {
      const ifAbsent = stampOrder(st).ifAbsent.map((k): [string, Uint8Array] => [
        k,
        metaEntry(k, st.ifAbsent[k]!),
      ]);
      e = {
        always: new Set(Object.keys(st.always)),
        alwaysLens: lengthMask(Object.keys(st.always)),
        alwaysBytes: concat(Object.entries(st.always).map(([k, v]) => metaEntry(k, v))),
        ifAbsent,
        ifAbsentKeys: new Set(ifAbsent.map(([k]) => k)),
        ifAbsentLens: lengthMask(ifAbsent.map(([k]) => k)),
        ifAbsentBytes: concat(ifAbsent.map(([, b]) => b)),
      };
      this.stamps.set(st, e);
    }
    return e;
  }

  private raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  private byte(b: number): void {
    this.buf[this.pos++] = b;
  }

  private varint(v: number): void {
    // callers guarantee 0 <= v < 2^53
    this.ensure(10);
    const b = this.buf;
    while (v > 0x7fffffff) {
      b[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    while (v > 0x7f) {
      b[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[this.pos++] = v;
  }

  private varint64(lo: number, hi: number): void {
    this.ensure(10);
    const b = this.buf;
    while (hi) {
      b[this.pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    while (lo > 0x7f) {
      b[this.pos++] = (lo & 0x7f) | 0x80;
      lo >>>= 7;
    }
    b[this.pos++] = lo;
  }

  private u64(field: number, v: Id): void {
    if (v === 0 || v === 0n) return;
    this.ensure(11);
    this.byte(field << 3);
    if (typeof v === 'number' && v >= 0 && v <= 0x7fffffff) this.varint(v);
    else {
      const { lo, hi } = split64(v);
      this.varint64(lo, hi);
    }
  }

  private double(field: number, v: number): void {
    this.ensure(9);
    this.buf[this.pos++] = (field << 3) | 1;
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  /** Writes the raw bytes of `s` preceded by its length. */
  private strBody(s: string): void {
    const n = s.length;
    if (n < 128) {
      // ASCII fast path: one length byte, a plain copy
      this.ensure(n + 1);
      this.buf[this.pos] = n;
      const end = copyAscii(this.buf, this.pos + 1, s);
      if (end >= 0) {
        this.pos = end;
        return;
      }
    }
    this.strSlow(s);
  }

  private strSlow(s: string): void {
    const len = Buffer.byteLength(s);
    this.ensure(len + 5);
    this.varint(len);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  private str(field: number, s: string | undefined): void {
    if (!s) return;
    this.ensure(1);
    this.buf[this.pos++] = (field << 3) | 2;
    this.strBody(s);
  }

  /** Starts a length-delimited field; returns the mark to pass to `close`. */
  private open(field: number): number {
    this.ensure(2);
    this.buf[this.pos++] = (field << 3) | 2;
    return this.pos++; // one byte reserved for the length
  }

  private close(mark: number): void {
    const len = this.pos - mark - 1;
    if (len < 128) {
      this.buf[mark] = len;
      return;
    }
    let extra = 0;
    for (let v = len >>> 7; v > 0; v >>>= 7) extra++;
    this.ensure(extra);
    this.buf.copyWithin(mark + 1 + extra, mark + 1, this.pos);
    let p = mark;
    let v = len;
    while (v > 0x7f) {
      this.buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[p] = v;
    this.pos += extra;
  }

  /** As open, with two bytes reserved: a span is nearly always 128 bytes to 16 KiB long. */
  private openWide(field: number): number {
    this.ensure(3);
    this.buf[this.pos++] = (field << 3) | 2;
    const mark = this.pos;
    this.pos += 2;
    return mark;
  }

  private closeWide(mark: number): void {
    const len = this.pos - mark - 2;
    if (len >= 128 && len < 16384) {
      this.buf[mark] = (len & 0x7f) | 0x80;
      this.buf[mark + 1] = len >>> 7;
      return;
    }
    // lengths are written in their shortest form: move the body next to a one-byte length instead
    this.buf.copyWithin(mark + 1, mark + 2, this.pos);
    this.pos--;
    this.close(mark);
  }

  /** Bytes of a UTF-8 field: tag, length, text. Its length in bytes is known. */
  private strField(field: number, s: string, bytes: number): void {
    if (bytes === 0) return;
    this.ensure(bytes + 6);
    this.buf[this.pos++] = (field << 3) | 2;
    this.varint(bytes);
    this.pos += this.buf.write(s, this.pos, bytes, 'utf8');
  }

  /**
   * A map<string,string> field. With a stamp, its `always` keys are left out (the stamp writes them);
   * returns whether one of its `ifAbsent` keys was there.
   */
  private strMap(field: number, m: Record<string, string> | undefined, stamp?: EncodedStamp): boolean {
    if (!m) return false;
    const tagByte = (field << 3) | 2;
    let sawIfAbsent = false;
    for (const k in m) {
      const kl = k.length;
      if (stamp !== undefined) {
        // the length check spares a Set lookup for nearly every key
        if (mayHave(stamp.alwaysLens, k) && stamp.always.has(k)) continue;
        if (!sawIfAbsent && mayHave(stamp.ifAbsentLens, k) && stamp.ifAbsentKeys.has(k)) sawIfAbsent = true;
      }
      const v = m[k]!;
      const vl = v.length;
      // short ASCII entries (nearly all tags) in one pass, without nested length patching
      if (kl > 0 && vl > 0 && kl + vl < 120) {
        this.ensure(kl + vl + 6);
        const b = this.buf;
        let p = this.pos;
        b[p++] = tagByte;
        b[p++] = kl + vl + 4;
        b[p++] = 0x0a;
        b[p++] = kl;
        p = copyAscii(b, p, k);
        if (p >= 0) {
          b[p++] = 0x12;
          b[p++] = vl;
          p = copyAscii(b, p, v);
        }
        if (p >= 0) {
          this.pos = p;
          continue;
        }
      }
      // long or non-ASCII: lengths first, then the text written natively, nothing moved after
      const kb = kl === 0 ? 0 : Buffer.byteLength(k);
      const vb = vl === 0 ? 0 : Buffer.byteLength(v);
      const entry = (kb ? 1 + varintSize(kb) + kb : 0) + (vb ? 1 + varintSize(vb) + vb : 0);
      this.ensure(entry + 6);
      this.buf[this.pos++] = tagByte;
      this.varint(entry);
      this.strField(1, k, kb);
      this.strField(2, v, vb);
    }
    return sawIfAbsent;
  }

  private any(v: AttributeAnyValue, allowArray: boolean): void {
    if (v.type !== 0) {
      this.ensure(2);
      this.byte(1 << 3);
      this.varint(v.type);
    }
    switch (v.type) {
      case 0:
        this.str(2, v.string_value);
        break;
      case 1:
        if (v.bool_value) {
          this.ensure(2);
          this.byte(3 << 3);
          this.byte(1);
        }
        break;
      case 2:
        this.u64(4, v.int_value);
        break;
      case 3:
        if (v.double_value !== 0) this.double(5, v.double_value);
        break;
      case 4: {
        if (!allowArray) break;
        const mark = this.open(6);
        for (const x of v.array_value.values) {
          const m = this.open(1);
          this.any(x, false);
          this.close(m);
        }
        this.close(mark);
        break;
      }
    }
  }

  /**
   * One Span message. With `staged` (the stage of a transcoded request), the span's unwatched meta
   * entries are copied from it: `s.meta` holds only the watched ones (see StagedSpan).
   */
  span(s: Span, stamp?: EncodedStamp, staged?: Uint8Array): void {
    this.str(1, s.service);
    this.str(2, s.name);
    this.str(3, s.resource);
    this.u64(4, s.trace_id);
    this.u64(5, s.span_id);
    this.u64(6, s.parent_id);
    this.u64(7, s.start);
    this.u64(8, s.duration);
    if (s.error !== 0) {
      this.ensure(11);
      this.byte(9 << 3);
      // int32: negative values as ten-byte two's complement, as protobuf does
      if (s.error > 0) this.varint(s.error);
      else this.varint64(s.error >>> 0, 0xffffffff);
    }
    if (staged !== undefined) {
      // spans an observer added to the chunk are whole spans, with nothing staged
      const { metaFrom, metaTo } = s as StagedSpan;
      if (metaTo > metaFrom) {
        this.ensure(metaTo - metaFrom);
        this.pos += (staged as Buffer).copy(this.buf, this.pos, metaFrom, metaTo);
      }
    }
    if (stamp) {
      const sawIfAbsent = this.strMap(10, s.meta, stamp);
      this.raw(stamp.alwaysBytes);
      // the staged entries that are stamp keys were noted (spans an observer added have none)
      const noted = staged !== undefined ? (s as StagedSpan).noted | 0 : 0;
      if (!sawIfAbsent && noted === 0) this.raw(stamp.ifAbsentBytes);
      else {
        const ifAbsent = stamp.ifAbsent;
        for (let i = 0; i < ifAbsent.length; i++) {
          const [k, bytes] = ifAbsent[i]!;
          if (s.meta[k] === undefined && (i >= 31 || (noted & (1 << i)) === 0)) this.raw(bytes);
        }
      }
    } else this.strMap(10, s.meta);
    const metrics = s.metrics;
    for (const k in metrics) {
      const v = metrics[k]!;
      const kl = k.length;
      if (kl > 0 && kl < 100) {
        // one pass for a short ASCII key: tag, entry length, key, then the double (omitted when 0)
        this.ensure(kl + 14);
        const b = this.buf;
        let p = this.pos;
        b[p++] = (11 << 3) | 2;
        b[p++] = kl + 2 + (v !== 0 ? 9 : 0);
        b[p++] = 0x0a;
        b[p++] = kl;
        p = copyAscii(b, p, k);
        if (p >= 0) {
          if (v !== 0) {
            b[p++] = (2 << 3) | 1;
            b.writeDoubleLE(v, p);
            p += 8;
          }
          this.pos = p;
          continue;
        }
      }
      const mark = this.open(11);
      this.str(1, k);
      if (v !== 0) this.double(2, v);
      this.close(mark);
    }
    this.str(12, s.type);
    if (s.meta_struct) {
      for (const k in s.meta_struct) {
        const mark = this.open(13);
        this.str(1, k);
        const b = s.meta_struct[k]!;
        if (b.length > 0) {
          this.ensure(b.length + 6);
          this.byte((2 << 3) | 2);
          this.varint(b.length);
          this.buf.set(b, this.pos);
          this.pos += b.length;
        }
        this.close(mark);
      }
    }
    if (s.span_links) {
      for (const l of s.span_links) {
        const mark = this.open(14);
        this.u64(1, l.trace_id);
        this.u64(2, l.trace_id_high);
        this.u64(3, l.span_id);
        this.strMap(4, l.attributes);
        this.str(5, l.tracestate);
        if (l.flags) {
          this.ensure(6);
          this.byte(6 << 3);
          this.varint(l.flags >>> 0);
        }
        this.close(mark);
      }
    }
    if (s.span_events) {
      for (const e of s.span_events) {
        const mark = this.open(15);
        const { lo, hi } = split64(e.time_unix_nano);
        if (lo !== 0 || hi !== 0) {
          this.ensure(9);
          this.byte((1 << 3) | 1);
          this.buf.writeUInt32LE(lo, this.pos);
          this.buf.writeUInt32LE(hi, this.pos + 4);
          this.pos += 8;
        }
        this.str(2, e.name);
        if (e.attributes) {
          for (const k in e.attributes) {
            const entry = this.open(3);
            this.str(1, k);
            const val = this.open(2);
            this.any(e.attributes[k]!, true);
            this.close(val);
            this.close(entry);
          }
        }
        this.close(mark);
      }
    }
  }

  /** One TraceChunk message, as a copy the caller may keep. */
  chunk(c: TraceChunk): Uint8Array {
    this.pos = 0;
    this.writeChunk(c);
    return Uint8Array.prototype.slice.call(this.buf, 0, this.pos);
  }

  /**
   * Several TraceChunk messages: each carved from `arena` when given, else views of one copy (one
   * allocation per tracer request, not per chunk).
   */
  chunks(cs: TraceChunk[], staged?: Uint8Array, arena?: ChunkArena): Uint8Array[] {
    this.pos = 0;
    const ends = new Array<number>(cs.length);
    for (let i = 0; i < cs.length; i++) {
      this.writeChunk(cs[i]!, staged);
      ends[i] = this.pos;
    }
    const out = new Array<Uint8Array>(cs.length);
    let start = 0;
    if (arena) {
      for (let i = 0; i < cs.length; i++) {
        const into = arena.take(ends[i]! - start);
        this.buf.copy(into, 0, start, ends[i]);
        out[i] = into;
        start = ends[i]!;
      }
      return out;
    }
    // not zero-filled: every byte is overwritten by the copy
    const all = Buffer.allocUnsafe(this.pos);
    this.buf.copy(all, 0, 0, this.pos);
    for (let i = 0; i < cs.length; i++) {
      out[i] = all.subarray(start, ends[i]);
      start = ends[i]!;
    }
    return out;
  }

  private writeChunk(c: TraceChunk, staged?: Uint8Array): void {
    if (c.priority !== 0) {
      this.ensure(11);
      this.byte(1 << 3);
      if (c.priority > 0) this.varint(c.priority);
      else this.varint64(c.priority >>> 0, 0xffffffff);
    }
    this.str(2, c.origin);
    const stamp = c.spanTags ? this.encodedStamp(c.spanTags) : undefined;
    for (const s of c.spans) {
      const mark = this.openWide(3);
      this.span(s, stamp, staged);
      this.closeWide(mark);
    }
    this.strMap(4, c.tags);
    if (c.droppedTrace) {
      this.ensure(2);
      this.byte(5 << 3);
      this.byte(1);
    }
  }
}

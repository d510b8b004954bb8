// Meta entries that span processing never looks at go from the msgpack body to the protobuf Span
// without becoming JS strings: UTF-8 on both sides, only the framing differs. This file holds the two
// pieces of that: the set of keys processing does look at (matched on bytes), and the buffer the
// other entries are written to, already as protobuf map entries (Span field 10), for the chunk writer
// to copy in place.
import { isUtf8 } from 'node:buffer';
import { GrowBuffer } from './grow-buffer.js';

const SLOTS = 256;

/**
 * Keys matched on their UTF-8 bytes, each with a code: `find` gives the code of a key, or -1 for any
 * other key; `key(code)` its string.
 */
export class KeySet {
  private readonly slots: { bytes: Buffer; code: number }[][] = Array.from({ length: SLOTS }, () => []);
  private readonly keys: string[] = [];
  /** Bit n set when a key is n bytes long (n < 31); bit 31 for any longer key. */
  private lengths = 0;

  /** `codes`: each key's code (a key given twice keeps its first one). */
  constructor(codes: Iterable<[string, number]>) {
    for (const [key, code] of codes) {
      const bytes = Buffer.from(key, 'utf8');
      const slot = this.slots[slotOf(bytes, 0, bytes.length)]!;
      if (slot.some((c) => c.bytes.equals(bytes))) continue;
      slot.push({ bytes, code });
      this.keys[code] = key;
      this.lengths |= lengthBit(bytes.length);
    }
  }

  key(code: number): string {
    return this.keys[code]!;
  }

  find(src: Uint8Array, start: number, len: number): number {
    if ((this.lengths & lengthBit(len)) === 0) return -1;
    for (const c of this.slots[slotOf(src, start, len)]!) {
      const b = c.bytes;
      if (b.length !== len) continue;
      let i = 0;
      while (i < len && b[i] === src[start + i]) i++;
      if (i === len) return c.code;
    }
    return -1;
  }
}

const lengthBit = (n: number) => (n < 31 ? 1 << n : 1 << 31);

function slotOf(src: Uint8Array, start: number, len: number): number {
  if (len === 0) return 0;
  return (len * 7 + src[start]! * 31 + src[start + len - 1]! * 3 + src[start + (len >> 1)]!) & (SLOTS - 1);
}

const varintSize = (n: number) => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);

/** Protobuf meta entries (Span field 10) copied from a msgpack body, for one tracer request. */
export class MetaStage extends GrowBuffer {
  constructor() {
    super(1 << 16);
  }

  reset(): void {
    this.pos = 0;
    // one huge request does not keep its stage for good
    if (this.buf.length > 1 << 22) this.buf = Buffer.allocUnsafe(1 << 16);
  }

  /** Where the next entry goes. */
  get end(): number {
    return this.pos;
  }

  /** The entries written since the last reset (and more bytes after them). */
  get bytes(): Buffer {
    return this.buf;
  }

  /**
   * One map entry from the key's and the value's bytes in `src`, as the chunk writer writes a meta
   * entry (an empty key or value leaves its field out). Returns TEXT_ASCII when the value is ASCII,
   * TEXT_UTF8 when it is other valid UTF-8, TEXT_INVALID when the key or the value is not valid UTF-8:
   * such text is left to the decoding path, which decides how it reads.
   */
  entry(src: Buffer, kp: number, kl: number, vp: number, vl: number): number {
    if (kl > 0 && vl > 0 && kl + vl < 124) return this.shortEntry(src, kp, kl, vp, vl);
    const size = (kl > 0 ? 1 + varintSize(kl) + kl : 0) + (vl > 0 ? 1 + varintSize(vl) + vl : 0);
    this.ensure(size + 6);
    const b = this.buf;
    let p = this.pos;
    b[p++] = (10 << 3) | 2;
    p = varint(b, p, size);
    if (kl > 0) {
      b[p++] = 0x0a;
      p = varint(b, p, kl);
      if (copyText(src, kp, kl, b, p) === TEXT_INVALID) return TEXT_INVALID;
      p += kl;
    }
    let text = TEXT_ASCII;
    if (vl > 0) {
      b[p++] = 0x12;
      p = varint(b, p, vl);
      text = copyText(src, vp, vl, b, p);
      if (text === TEXT_INVALID) return TEXT_INVALID;
      p += vl;
    }
    this.pos = p;
    return text;
  }

  /** entry() for the usual entry: both texts there and short, every length one byte. */
  private shortEntry(src: Buffer, kp: number, kl: number, vp: number, vl: number): number {
    this.ensure(kl + vl + 6);
    const b = this.buf;
    let p = this.pos;
    b[p] = (10 << 3) | 2;
    b[p + 1] = kl + vl + 4;
    b[p + 2] = 0x0a;
    b[p + 3] = kl;
    p += 4;
    let any = 0;
    for (let i = kp, end = kp + kl; i < end; i++) {
      const c = src[i]!;
      any |= c;
      b[p++] = c;
    }
    b[p++] = 0x12;
    b[p++] = vl;
    for (let i = vp, end = vp + vl; i < end; i++) {
      const c = src[i]!;
      any |= c;
      b[p++] = c;
    }
    if (any >= 0x80) {
      // not ASCII: each text must be UTF-8 on its own
      if (!isUtf8(src.subarray(kp, kp + kl))) return TEXT_INVALID;
      if (!isUtf8(src.subarray(vp, vp + vl))) return TEXT_INVALID;
      this.pos = p;
      return TEXT_UTF8;
    }
    this.pos = p;
    return TEXT_ASCII;
  }
}

function varint(b: Buffer, p: number, v: number): number {
  while (v > 0x7f) {
    b[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  b[p++] = v;
  return p;
}

export const TEXT_INVALID = -1;
export const TEXT_ASCII = 0;
export const TEXT_UTF8 = 1;

/** Copies `n` bytes of text; says whether they are ASCII, other UTF-8, or not valid UTF-8. */
function copyText(src: Buffer, from: number, n: number, dst: Buffer, at: number): number {
  let any = 0;
  if (n < 64) {
    // short text (nearly all of it): one loop copies and checks for ASCII
    for (let i = 0; i < n; i++) {
      const c = src[from + i]!;
      any |= c;
      dst[at + i] = c;
    }
  } else {
    src.copy(dst, at, from, from + n);
    for (let i = from, end = from + n; i < end; i++) any |= src[i]!;
  }
  if (any < 0x80) return TEXT_ASCII;
  return isUtf8(src.subarray(from, from + n)) ? TEXT_UTF8 : TEXT_INVALID;
}

// A small msgpack writer for the stats payloads: unsigned integers go out as unsigned types
// (Go's msgp reads `uint64` fields only from those), BigInts exactly, binaries as bin.

export class MsgpackWriter {
  private buf: Buffer;
  private pos = 0;
  constructor(initial = 4096) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  nil(): this {
    this.ensure(1);
    this.buf[this.pos++] = 0xc0;
    return this;
  }

  bool(v: boolean): this {
    this.ensure(1);
    this.buf[this.pos++] = v ? 0xc3 : 0xc2;
    return this;
  }

  uint(v: number | bigint): this {
    if (typeof v === 'number' && (!Number.isInteger(v) || v < 0)) return v < 0 ? this.int(v) : this.float(v);
    if (typeof v === 'bigint' && v < 0n) return this.int(v);
    this.ensure(9);
    const b = this.buf;
    if (typeof v === 'bigint' || v > 0xffffffff) {
      const big = typeof v === 'bigint' ? v : BigInt(v);
      if (big <= 0xffffffffn) return this.uint(Number(big));
      b[this.pos++] = 0xcf;
      b.writeBigUInt64BE(big, this.pos);
      this.pos += 8;
    } else if (v < 0x80) b[this.pos++] = v;
    else if (v <= 0xff) {
      b[this.pos++] = 0xcc;
      b[this.pos++] = v;
    } else if (v <= 0xffff) {
      b[this.pos++] = 0xcd;
      b.writeUInt16BE(v, this.pos);
      this.pos += 2;
    } else {
      b[this.pos++] = 0xce;
      b.writeUInt32BE(v, this.pos);
      this.pos += 4;
    }
    return this;
  }

  int(v: number | bigint): this {
    if (typeof v === 'number' ? v >= 0 : v >= 0n) return this.uint(v);
    this.ensure(9);
    const big = typeof v === 'bigint' ? v : BigInt(Math.trunc(v));
    if (big >= -32n) this.buf[this.pos++] = Number(big) & 0xff;
    else {
      this.buf[this.pos++] = 0xd3;
      this.buf.writeBigInt64BE(big, this.pos);
      this.pos += 8;
    }
    return this;
  }

  float(v: number): this {
    this.ensure(9);
    this.buf[this.pos++] = 0xcb;
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
    return this;
  }

  str(s: string): this {
    const len = Buffer.byteLength(s);
    this.ensure(len + 5);
    const b = this.buf;
    if (len < 32) b[this.pos++] = 0xa0 | len;
    else if (len <= 0xff) {
      b[this.pos++] = 0xd9;
      b[this.pos++] = len;
    } else if (len <= 0xffff) {
      b[this.pos++] = 0xda;
      b.writeUInt16BE(len, this.pos);
      this.pos += 2;
    } else {
      b[this.pos++] = 0xdb;
      b.writeUInt32BE(len, this.pos);
      this.pos += 4;
    }
    this.pos += b.write(s, this.pos, 'utf8');
    return this;
  }

  bin(v: Uint8Array): this {
    const len = v.length;
    this.ensure(len + 5);
    const b = this.buf;
    if (len <= 0xff) {
      b[this.pos++] = 0xc4;
      b[this.pos++] = len;
    } else if (len <= 0xffff) {
      b[this.pos++] = 0xc5;
      b.writeUInt16BE(len, this.pos);
      this.pos += 2;
    } else {
      b[this.pos++] = 0xc6;
      b.writeUInt32BE(len, this.pos);
      this.pos += 4;
    }
    b.set(v, this.pos);
    this.pos += len;
    return this;
  }

  private header(n: number, fix: number, c16: number, c32: number): this {
    this.ensure(5);
    const b = this.buf;
    if (n < 16) b[this.pos++] = fix | n;
    else if (n <= 0xffff) {
      b[this.pos++] = c16;
      b.writeUInt16BE(n, this.pos);
      this.pos += 2;
    } else {
      b[this.pos++] = c32;
      b.writeUInt32BE(n, this.pos);
      this.pos += 4;
    }
    return this;
  }

  array(n: number): this {
    return this.header(n, 0x90, 0xdc, 0xdd);
  }

  map(n: number): this {
    return this.header(n, 0x80, 0xde, 0xdf);
  }

  /** Any decoded value: what a tracer sent, written back with the same meaning. */
  value(v: unknown): this {
    if (v === null || v === undefined) return this.nil();
    switch (typeof v) {
      case 'string':
        return this.str(v);
      case 'boolean':
        return this.bool(v);
      case 'bigint':
        return v < 0n ? this.int(v) : this.uint(v);
      case 'number':
        return Number.isInteger(v) ? (v < 0 ? this.int(v) : this.uint(v)) : this.float(v);
      default:
        break;
    }
    if (v instanceof Uint8Array) return this.bin(v);
    if (Array.isArray(v)) {
      this.array(v.length);
      for (const x of v) this.value(x);
      return this;
    }
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    this.map(entries.length);
    for (const [k, x] of entries) this.str(k).value(x);
    return this;
  }
}

// A hand-written msgpack byte builder for tests: every header width chosen explicitly, so that the
// decoder is checked against encodings a tracer might use, not against what one library happens to emit.
type Width = 'fix' | 8 | 16 | 32;

export class Bytes {
  private parts: number[] = [];
  private push(...b: number[]) {
    for (const x of b) this.parts.push(x);
    return this;
  }
  private be(n: number | bigint, bytes: number) {
    let v = BigInt.asUintN(bytes * 8, BigInt(n));
    const out: number[] = [];
    for (let i = 0; i < bytes; i++) {
      out.unshift(Number(v & 0xffn));
      v >>= 8n;
    }
    return this.push(...out);
  }
  arr(n: number, w: Width = 'fix') {
    if (w === 'fix') return this.push(0x90 | n);
    return w === 16 ? this.push(0xdc).be(n, 2) : this.push(0xdd).be(n, 4);
  }
  map(n: number, w: Width = 'fix') {
    if (w === 'fix') return this.push(0x80 | n);
    return w === 16 ? this.push(0xde).be(n, 2) : this.push(0xdf).be(n, 4);
  }
  str(s: string, w: Width = 'fix') {
    const b = [...Buffer.from(s)];
    if (w === 'fix') this.push(0xa0 | b.length);
    else if (w === 8) this.push(0xd9, b.length);
    else if (w === 16) this.push(0xda).be(b.length, 2);
    else this.push(0xdb).be(b.length, 4);
    for (const x of b) this.parts.push(x);
    return this;
  }
  bin(b: number[]) {
    return this.push(0xc4, b.length, ...b);
  }
  u(n: number | bigint, bytes: 0 | 1 | 2 | 4 | 8) {
    if (bytes === 0) return this.push(Number(n));
    const code = { 1: 0xcc, 2: 0xcd, 4: 0xce, 8: 0xcf }[bytes];
    return this.push(code).be(n, bytes);
  }
  i(n: number | bigint, bytes: 1 | 2 | 4 | 8) {
    const code = { 1: 0xd0, 2: 0xd1, 4: 0xd2, 8: 0xd3 }[bytes];
    return this.push(code).be(n, bytes);
  }
  f32(v: number) {
    const b = Buffer.alloc(4);
    b.writeFloatBE(v);
    return this.push(0xca, ...b);
  }
  f64(v: number) {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v);
    return this.push(0xcb, ...b);
  }
  nil() {
    return this.push(0xc0);
  }
  done(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

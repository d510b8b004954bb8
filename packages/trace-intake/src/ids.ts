import type { Id } from './types.js';

const U64 = (1n << 64n) - 1n;
const TWO32 = 4294967296;

/** Normalises an id to an unsigned 64-bit BigInt (negative int64 values wrap, as Go's uint64 cast does). */
export function toU64(id: Id | undefined | null): bigint {
  if (id === undefined || id === null) return 0n;
  if (typeof id === 'bigint') return id & U64;
  if (!Number.isFinite(id)) return 0n;
  return BigInt(Math.trunc(id)) & U64;
}

export function isZeroId(id: Id): boolean {
  return id === 0 || id === 0n;
}

export function idEquals(a: Id, b: Id): boolean {
  // biome-ignore lint/suspicious/noDoubleEquals: BigInt and Number compare by value with ==
  return a == b;
}

/** Key for maps: decimal string of the unsigned value. */
export function idKey(id: Id): string {
  return typeof id === 'number' && id >= 0 ? String(id) : toU64(id).toString();
}

const scratch = new DataView(new ArrayBuffer(8));
const halves = { lo: 0, hi: 0 };

/**
 * Low and high 32-bit halves of an unsigned 64-bit value, for varint/fixed64 writers. Returns a
 * shared object (read it before the next call): this runs for every id of every span.
 */
export function split64(id: Id): { lo: number; hi: number } {
  if (typeof id === 'number') {
    if (id >= 0 && id <= Number.MAX_SAFE_INTEGER) {
      halves.lo = (id % TWO32) >>> 0;
      halves.hi = Math.floor(id / TWO32) >>> 0;
      return halves;
    }
    id = toU64(id);
  }
  // setBigUint64 stores the value modulo 2^64: negative int64 ids wrap as Go's uint64 cast does
  scratch.setBigUint64(0, id, true);
  halves.lo = scratch.getUint32(0, true);
  halves.hi = scratch.getUint32(4, true);
  return halves;
}

export function parseU64(text: string | undefined, radix: 10 | 16 = 10): bigint | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (t === '') return undefined;
  if (radix === 10 ? !/^\d{1,20}$/.test(t) : !/^[0-9a-fA-F]{1,16}$/.test(t)) return undefined;
  const v = radix === 10 ? BigInt(t) : BigInt(`0x${t}`);
  return v > U64 ? undefined : v;
}

export function hex16(v: bigint): string {
  return v.toString(16).padStart(16, '0');
}

/** Random non-zero 63-bit id, as tracers generate span ids. */
export function randomId(rand: () => number = Math.random): bigint {
  const hi = Math.floor(rand() * 0x80000000);
  const lo = Math.floor(rand() * TWO32);
  const v = (BigInt(hi) << 32n) | BigInt(lo);
  return v === 0n ? 1n : v;
}

import { describe, expect, it } from 'vitest';
import { decodeMessage, type MessageSchema, ProtobufError, ProtoReader } from '../../src/index.js';
import { bytes, f, varint } from './helpers/pb.js';

const hex = (s: string) => Buffer.from(s.replace(/ /g, ''), 'hex');

const All: MessageSchema = {
  name: 'All',
  fields: {
    1: { name: 'i32', type: 'int32' },
    2: { name: 'u32', type: 'uint32' },
    3: { name: 's32', type: 'sint32' },
    4: { name: 'i64', type: 'int64' },
    5: { name: 'u64', type: 'uint64' },
    6: { name: 's64', type: 'sint64' },
    7: { name: 'f64', type: 'fixed64' },
    8: { name: 'f32', type: 'fixed32' },
    9: { name: 'd', type: 'double' },
    10: { name: 'fl', type: 'float' },
    11: { name: 'b', type: 'bool' },
    12: { name: 's', type: 'string' },
    13: { name: 'by', type: 'bytes' },
    14: { name: 'rep', type: 'sint32', repeated: true },
    15: { name: 'sub', message: () => All },
    16: { name: 'm', map: ['string', 'double'] },
    17: { name: 'n', type: 'int64:number' },
    18: { name: 'sf64', type: 'sfixed64' },
  },
};

describe('protobuf wire decoding', () => {
  it('reads varints: the spec example 150 = 96 01 and 300 = ac 02', () => {
    expect(new ProtoReader(hex('96 01')).varint()).toBe(150n);
    expect(new ProtoReader(hex('ac 02')).varint()).toBe(300n);
    expect(new ProtoReader(hex('ff ff ff ff ff ff ff ff ff 01')).varint()).toBe(2n ** 64n - 1n);
    expect(new ProtoReader(hex('80 80 80 80 10')).varint()).toBe(2n ** 32n);
  });

  it('refuses varints that are truncated or longer than 64 bits', () => {
    expect(() => new ProtoReader(hex('96')).varint()).toThrow(ProtobufError);
    expect(() => new ProtoReader(hex('ff ff ff ff ff ff ff ff ff 02')).varint()).toThrow(/overflows/);
    expect(() => new ProtoReader(hex('ff ff ff ff ff ff ff ff ff ff 01')).varint()).toThrow(/longer/);
  });

  it('decodes every scalar type', () => {
    const msg = bytes(
      f.varint(1, -5n), // int32 negative: sign-extended to 10 bytes
      f.varint(2, 0xffffffff),
      f.sint32(3, -3),
      f.varint(4, -1n),
      f.varint(5, 0xfedcba9876543210n),
      f.varint(6, 3n), // zigzag 3 → -2
      f.fixed64(7, 0x1122334455667788n),
      [0x45, 0x78, 0x56, 0x34, 0x12], // field 8 fixed32 0x12345678
      f.double(9, -0.125),
      [0x55, 0x00, 0x00, 0xc0, 0x3f], // field 10 float 1.5
      f.bool(11, true),
      f.string(12, 'héllo'),
      f.bytes(13, [1, 2, 3]),
      f.varint(17, 1_700_000_000_123),
      f.fixed64(18, 2n ** 64n - 2n), // sfixed64 -2
    );
    expect(decodeMessage(msg, All)).toMatchObject({
      i32: -5,
      u32: 0xffffffff,
      s32: -3,
      i64: -1n,
      u64: 0xfedcba9876543210n,
      s64: -2n,
      f64: 0x1122334455667788n,
      f32: 0x12345678,
      d: -0.125,
      fl: 1.5,
      b: true,
      s: 'héllo',
      by: Uint8Array.from([1, 2, 3]),
      n: 1_700_000_000_123,
      sf64: -2n,
    });
  });

  it('gives proto3 defaults for absent fields', () => {
    const empty = decodeMessage(new Uint8Array(0), All);
    expect('sub' in empty).toBe(false);
    expect(empty).toMatchObject({
      i32: 0,
      u64: 0n,
      s: '',
      b: false,
      rep: [],
      m: {},
    });
  });

  it('reads repeated scalars both packed and unpacked, in order', () => {
    const msg = bytes(f.packedSint32(14, [1, -1, 1338]), f.sint32(14, -1338), f.packedSint32(14, [7]));
    expect(decodeMessage(msg, All)['rep']).toEqual([1, -1, 1338, -1338, 7]);
  });

  it('reads maps and nested messages; the last scalar wins', () => {
    const msg = bytes(
      f.mapEntry(16, f.string(1, 'a'), f.double(2, 1)),
      f.mapEntry(16, f.double(2, 2), f.string(1, 'b')), // value before key is allowed
      f.message(15, f.string(12, 'inner')),
      f.string(12, 'first'),
      f.string(12, 'second'),
    );
    const out = decodeMessage(msg, All);
    expect(out['m']).toEqual({ a: 1, b: 2 });
    expect((out['sub'] as Record<string, unknown>)['s']).toBe('inner');
    expect(out['s']).toBe('second');
  });

  it('skips unknown fields of every wire type', () => {
    const msg = bytes(
      f.varint(100, 5),
      f.fixed64(101, 1n),
      f.string(102, 'x'),
      [...varint((103 << 3) | 5), 1, 2, 3, 4],
      f.varint(1, 9),
    );
    const out = decodeMessage(msg, All);
    expect(out['i32']).toBe(9);
    expect((out as { $unknownFields?: number }).$unknownFields).toBe(4);
  });

  it('refuses wrong wire types, truncation, bad UTF-8, field 0 and groups', () => {
    expect(() => decodeMessage(bytes(f.varint(12, 1)), All)).toThrow(
      /All\.s \(field 12\): unexpected wire type 0/,
    );
    expect(() => decodeMessage(bytes(f.string(12, 'abc')).subarray(0, 3), All)).toThrow(/truncated/);
    expect(() => decodeMessage(bytes([0x62, 0x02, 0xc3, 0x28]), All)).toThrow(/UTF-8/);
    expect(() => decodeMessage(bytes([0x00, 0x01]), All)).toThrow(/field number 0/);
    expect(() => decodeMessage(bytes([...varint((99 << 3) | 3)]), All)).toThrow(/wire type 3/);
  });

  it('refuses a length that runs past the end of its parent', () => {
    // field 15 claims 5 bytes but only 2 follow
    expect(() => decodeMessage(hex('7a 05 08 01'), All)).toThrow(ProtobufError);
  });
});

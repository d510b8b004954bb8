// A small protobuf wire-format decoder driven by field-number tables.
//
// It is written from the wire-format rules alone (varint, zigzag, fixed64/32, length-delimited,
// packed repeated) so that the intake cross-checks the production encoders instead of sharing
// their code or their schema files.

export class ProtobufError extends Error {
  override name = 'ProtobufError';
}

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_START_GROUP = 3;
export const WIRE_END_GROUP = 4;
export const WIRE_FIXED32 = 5;

/** Reads the primitive encodings; every read checks bounds and throws ProtobufError on bad bytes. */
export class ProtoReader {
  pos: number;
  readonly end: number;
  private readonly view: DataView;

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    end = buf.length,
  ) {
    this.pos = start;
    this.end = end;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  /** A varint as an unsigned 64-bit bigint (at most 10 bytes). */
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtobufError('truncated varint');
      const byte = this.buf[this.pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) {
        if (i === 9 && byte > 1) throw new ProtobufError('varint overflows 64 bits');
        return result;
      }
      shift += 7n;
    }
    throw new ProtobufError('varint longer than 10 bytes');
  }

  /** A varint that must fit in 32 bits unsigned (tags and lengths); fast path for small values. */
  varint32(): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.end) throw new ProtobufError('truncated varint');
      const byte = this.buf[this.pos++]!;
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) {
        if (result > 0xffffffff) throw new ProtobufError('varint exceeds 32 bits');
        return result;
      }
      shift += 7;
    }
    throw new ProtobufError('varint exceeds 32 bits');
  }

  fixed64(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  fixed32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  double(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  float(): number {
    this.need(4);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** A length-delimited field: returns the [start, end) range and moves past it. */
  lengthDelimited(): [number, number] {
    const len = this.varint32();
    this.need(len);
    const start = this.pos;
    this.pos += len;
    return [start, this.pos];
  }

  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED64:
        this.need(8);
        this.pos += 8;
        return;
      case WIRE_LEN:
        this.lengthDelimited();
        return;
      case WIRE_FIXED32:
        this.need(4);
        this.pos += 4;
        return;
      default:
        // Groups are deprecated and none of the Datadog schemas use them.
        throw new ProtobufError(`unsupported wire type ${wireType}`);
    }
  }

  private need(n: number): void {
    if (this.pos + n > this.end) throw new ProtobufError('truncated field');
  }
}

export const zigzag32 = (n: number): number => (n >>> 1) ^ -(n & 1);
export const zigzag64 = (n: bigint): bigint => (n >> 1n) ^ -(n & 1n);

/** Reinterprets an unsigned 64-bit value as two's-complement signed. */
const toInt64 = (u: bigint): bigint => BigInt.asIntN(64, u);

// ---- schemas -------------------------------------------------------------------------------

/**
 * Scalar types. 64-bit integers decode to bigint (exact); the `:number` variants decode to a JS
 * number for fields whose values always fit (timestamps in seconds, counts).
 */
export type ScalarType =
  | 'double'
  | 'float'
  | 'int32'
  | 'uint32'
  | 'sint32'
  | 'enum'
  | 'bool'
  | 'int64'
  | 'uint64'
  | 'sint64'
  | 'int64:number'
  | 'uint64:number'
  | 'fixed64'
  | 'fixed32'
  | 'sfixed64'
  | 'sfixed32'
  | 'string'
  | 'bytes';

export interface MessageSchema {
  readonly name: string;
  readonly fields: Readonly<Record<number, FieldSpec>>;
}

export type FieldSpec =
  | { readonly name: string; readonly type: ScalarType; readonly repeated?: boolean }
  | { readonly name: string; readonly message: () => MessageSchema; readonly repeated?: boolean }
  | { readonly name: string; readonly map: readonly [ScalarType, ScalarType | (() => MessageSchema)] };

export type Decoded = Record<string, unknown>;

const textDecoder = new TextDecoder('utf-8', { fatal: true });

const PACKABLE = new Set<ScalarType>([
  'double',
  'float',
  'int32',
  'uint32',
  'sint32',
  'enum',
  'bool',
  'int64',
  'uint64',
  'sint64',
  'int64:number',
  'uint64:number',
  'fixed64',
  'fixed32',
  'sfixed64',
  'sfixed32',
]);

function expectedWireType(type: ScalarType): number {
  switch (type) {
    case 'double':
    case 'fixed64':
    case 'sfixed64':
      return WIRE_FIXED64;
    case 'float':
    case 'fixed32':
    case 'sfixed32':
      return WIRE_FIXED32;
    case 'string':
    case 'bytes':
      return WIRE_LEN;
    default:
      return WIRE_VARINT;
  }
}

function readScalar(r: ProtoReader, type: ScalarType): unknown {
  switch (type) {
    case 'double':
      return r.double();
    case 'float':
      return r.float();
    case 'fixed64':
      return r.fixed64();
    case 'sfixed64':
      return toInt64(r.fixed64());
    case 'fixed32':
      return r.fixed32();
    case 'sfixed32':
      return r.fixed32() | 0;
    case 'bool':
      return r.varint() !== 0n;
    case 'uint32':
      return Number(BigInt.asUintN(32, r.varint()));
    case 'int32':
    case 'enum':
      // Negative int32 values are sign-extended to 10 bytes on the wire.
      return Number(BigInt.asIntN(32, r.varint()));
    case 'sint32':
      return zigzag32(Number(BigInt.asUintN(32, r.varint())));
    case 'int64':
      return toInt64(r.varint());
    case 'uint64':
      return r.varint();
    case 'sint64':
      return zigzag64(r.varint());
    case 'int64:number':
      return Number(toInt64(r.varint()));
    case 'uint64:number':
      return Number(r.varint());
    case 'string': {
      const [s, e] = r.lengthDelimited();
      try {
        return textDecoder.decode(r.buf.subarray(s, e));
      } catch {
        throw new ProtobufError('string field is not valid UTF-8');
      }
    }
    case 'bytes': {
      const [s, e] = r.lengthDelimited();
      return r.buf.slice(s, e);
    }
  }
}

function defaultScalar(type: ScalarType): unknown {
  switch (type) {
    case 'string':
      return '';
    case 'bytes':
      return new Uint8Array(0);
    case 'bool':
      return false;
    case 'int64':
    case 'uint64':
    case 'sint64':
    case 'fixed64':
    case 'sfixed64':
      return 0n;
    default:
      return 0;
  }
}

function wireTypeError(schema: MessageSchema, field: number, name: string, got: number): ProtobufError {
  return new ProtobufError(`${schema.name}.${name} (field ${field}): unexpected wire type ${got}`);
}

/**
 * Decodes one message. Proto3 semantics: absent scalars get their default, repeated fields an
 * empty array, maps an empty object, absent sub-messages are left undefined; unknown fields are
 * skipped and counted in `$unknownFields` when there are any.
 */
export function decodeMessage(
  buf: Uint8Array,
  schema: MessageSchema,
  start = 0,
  end = buf.length,
  depth = 0,
): Decoded {
  if (depth > 32) throw new ProtobufError('message nesting deeper than 32');
  const out: Decoded = {};
  for (const spec of Object.values(schema.fields)) {
    if ('map' in spec) out[spec.name] = {};
    else if (spec.repeated) out[spec.name] = [];
    else if ('type' in spec) out[spec.name] = defaultScalar(spec.type);
  }
  let unknown = 0;
  const r = new ProtoReader(buf, start, end);
  while (!r.done()) {
    const tag = r.varint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 0) throw new ProtobufError(`${schema.name}: field number 0`);
    const spec = schema.fields[field];
    if (!spec) {
      r.skip(wire);
      unknown++;
      continue;
    }
    if ('map' in spec) {
      if (wire !== WIRE_LEN) throw wireTypeError(schema, field, spec.name, wire);
      const [s, e] = r.lengthDelimited();
      const [k, v] = decodeMapEntry(buf, s, e, spec.map, depth, `${schema.name}.${spec.name}`);
      (out[spec.name] as Record<string, unknown>)[String(k)] = v;
    } else if ('message' in spec) {
      if (wire !== WIRE_LEN) throw wireTypeError(schema, field, spec.name, wire);
      const [s, e] = r.lengthDelimited();
      const msg = decodeMessage(buf, spec.message(), s, e, depth + 1);
      if (spec.repeated) (out[spec.name] as unknown[]).push(msg);
      else out[spec.name] = msg;
    } else {
      const want = expectedWireType(spec.type);
      if (spec.repeated && wire === WIRE_LEN && PACKABLE.has(spec.type)) {
        // Packed repeated: a length-delimited run of values without tags.
        const [s, e] = r.lengthDelimited();
        const packed = new ProtoReader(buf, s, e);
        const list = out[spec.name] as unknown[];
        while (!packed.done()) list.push(readScalar(packed, spec.type));
      } else {
        if (wire !== want) throw wireTypeError(schema, field, spec.name, wire);
        const value = readScalar(r, spec.type);
        if (spec.repeated) (out[spec.name] as unknown[]).push(value);
        else out[spec.name] = value;
      }
    }
  }
  if (unknown > 0) Object.defineProperty(out, '$unknownFields', { value: unknown, enumerable: false });
  return out;
}

function decodeMapEntry(
  buf: Uint8Array,
  start: number,
  end: number,
  [keyType, valueType]: readonly [ScalarType, ScalarType | (() => MessageSchema)],
  depth: number,
  where: string,
): [unknown, unknown] {
  let key: unknown = defaultScalar(keyType);
  let value: unknown = typeof valueType === 'function' ? undefined : defaultScalar(valueType);
  const r = new ProtoReader(buf, start, end);
  while (!r.done()) {
    const tag = r.varint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1) {
      if (wire !== expectedWireType(keyType))
        throw new ProtobufError(`${where}: bad map key wire type ${wire}`);
      key = readScalar(r, keyType);
    } else if (field === 2) {
      if (typeof valueType === 'function') {
        if (wire !== WIRE_LEN) throw new ProtobufError(`${where}: bad map value wire type ${wire}`);
        const [s, e] = r.lengthDelimited();
        value = decodeMessage(buf, valueType(), s, e, depth + 1);
      } else {
        if (wire !== expectedWireType(valueType))
          throw new ProtobufError(`${where}: bad map value wire type ${wire}`);
        value = readScalar(r, valueType);
      }
    } else {
      r.skip(wire);
    }
  }
  return [key, value];
}

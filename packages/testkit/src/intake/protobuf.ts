// A small protobuf wire-format decoder driven by field-number tables.
//
// It is written from the wire-format rules alone (varint, zigzag, fixed64/32, length-delimited,
// packed repeated) so that the intake cross-checks the production encoders instead of sharing
// their code or their schema files.

export class ProtobufError extends Error {
  override name = 'ProtobufError';
}

const textDecoder = new TextDecoder('utf-8', { fatal: true });

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_START_GROUP = 3;
export const WIRE_END_GROUP = 4;
export const WIRE_FIXED32 = 5;

/** Reads the primitive encodings; every read checks bounds and throws ProtobufError on bad bytes. */
export class ProtoReader {
  pos: number;
  /** The current limit: narrowed while a nested message is read, so it cannot overrun its parent. */
  end: number;
  private readonly view: DataView;
  /** High 32 bits of the last varint read by `varintLo`. */
  private hi = 0;

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

  /**
   * Reads a varint of at most 10 bytes as two unsigned 32-bit halves (no precision lost, no bigint
   * made unless wanted): returns the low half, leaves the high half in `this.hi`.
   */
  private varintLo(): number {
    const buf = this.buf;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtobufError('truncated varint');
      const byte = buf[this.pos++]!;
      const bits = byte & 0x7f;
      if (i < 4) lo |= bits << (7 * i);
      else if (i === 4) {
        lo |= (bits & 0x0f) << 28;
        hi |= bits >>> 4;
      } else hi |= bits << (7 * i - 32);
      if ((byte & 0x80) === 0) {
        if (i === 9 && byte > 1) throw new ProtobufError('varint overflows 64 bits');
        this.hi = hi >>> 0;
        return lo >>> 0;
      }
    }
    throw new ProtobufError('varint longer than 10 bytes');
  }

  /** A varint as an unsigned 64-bit bigint. */
  varint(): bigint {
    const lo = this.varintLo();
    const hi = this.hi;
    return hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** The low 32 bits of a varint, unsigned (int32, uint32, sint32, enum; negatives are sign-extended). */
  varintLow32(): number {
    return this.varintLo();
  }

  /** A varint as a JS number (exact below 2^53), two's-complement signed when `signed`. */
  varintNumber(signed: boolean): number {
    const lo = this.varintLo();
    const hi = this.hi;
    if (signed && hi >= 0x80000000) return -((~hi >>> 0) * 2 ** 32 + (~lo >>> 0) + 1);
    return hi * 2 ** 32 + lo;
  }

  /** A varint that must fit in 32 bits unsigned (tags and lengths). */
  varint32(): number {
    const lo = this.varintLo();
    if (this.hi !== 0) throw new ProtobufError('varint exceeds 32 bits');
    return lo;
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

  /** The length prefix of a length-delimited field, checked against the current limit. */
  length(): number {
    const len = this.varint32();
    this.need(len);
    return len;
  }

  /** A length-delimited field: returns the [start, end) range and moves past it. */
  lengthDelimited(): [number, number] {
    const len = this.length();
    const start = this.pos;
    this.pos += len;
    return [start, this.pos];
  }

  /** A UTF-8 string field; short ASCII strings skip TextDecoder, which costs more than it saves there. */
  string(): string {
    const len = this.length();
    const start = this.pos;
    const buf = this.buf;
    this.pos += len;
    if (len < 64) {
      let out = '';
      let i = start;
      for (; i < this.pos; i++) {
        const c = buf[i]!;
        if (c >= 0x80) break;
        out += String.fromCharCode(c);
      }
      if (i === this.pos) return out;
    }
    try {
      return textDecoder.decode(buf.subarray(start, this.pos));
    } catch {
      throw new ProtobufError('string field is not valid UTF-8');
    }
  }

  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varintLo();
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
      return r.varintNumber(false) !== 0;
    case 'uint32':
      return r.varintLow32();
    case 'int32':
    case 'enum':
      // Negative int32 values are sign-extended to 10 bytes on the wire.
      return r.varintLow32() | 0;
    case 'sint32':
      return zigzag32(r.varintLow32());
    case 'int64':
      return toInt64(r.varint());
    case 'uint64':
      return r.varint();
    case 'sint64':
      return zigzag64(r.varint());
    case 'int64:number':
      return r.varintNumber(true);
    case 'uint64:number':
      return r.varintNumber(false);
    case 'string':
      return r.string();
    case 'bytes': {
      const [s, e] = r.lengthDelimited();
      // A plain Uint8Array copy, whatever the input buffer type (node Buffers slice to Buffers).
      return new Uint8Array(r.buf.subarray(s, e));
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

type Init = readonly [name: string, make: () => unknown][];
const initCache = new WeakMap<MessageSchema, Init>();

/** What every decoded message of a schema starts as: proto3 defaults, computed once per schema. */
function initOf(schema: MessageSchema): Init {
  let init = initCache.get(schema);
  if (!init) {
    init = Object.values(schema.fields).flatMap((spec): Init => {
      if ('map' in spec) return [[spec.name, () => ({})]];
      if (spec.repeated) return [[spec.name, () => []]];
      if ('type' in spec) {
        const d = defaultScalar(spec.type);
        return [[spec.name, d instanceof Uint8Array ? () => new Uint8Array(0) : () => d]];
      }
      return [];
    });
    initCache.set(schema, init);
  }
  return init;
}

/**
 * Decodes one message. Proto3 semantics: absent scalars get their default, repeated fields an
 * empty array, maps an empty object, absent sub-messages are left out; unknown fields are
 * skipped and counted in a non-enumerable `$unknownFields` when there are any.
 */
export function decodeMessage(buf: Uint8Array, schema: MessageSchema, start = 0, end = buf.length): Decoded {
  return decodeFrom(new ProtoReader(buf, start, end), schema, 0);
}

/** Decodes fields until the reader's current limit. */
function decodeFrom(r: ProtoReader, schema: MessageSchema, depth: number): Decoded {
  if (depth > 32) throw new ProtobufError('message nesting deeper than 32');
  const out: Decoded = {};
  for (const [name, make] of initOf(schema)) out[name] = make();
  let unknown = 0;
  while (r.pos < r.end) {
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
      const [k, v] = within(r, () => decodeMapEntry(r, spec.map, depth, `${schema.name}.${spec.name}`));
      (out[spec.name] as Record<string, unknown>)[String(k)] = v;
    } else if ('message' in spec) {
      if (wire !== WIRE_LEN) throw wireTypeError(schema, field, spec.name, wire);
      const msg = within(r, () => decodeFrom(r, spec.message(), depth + 1));
      if (spec.repeated) (out[spec.name] as unknown[]).push(msg);
      else out[spec.name] = msg;
    } else if (spec.repeated && wire === WIRE_LEN && PACKABLE.has(spec.type)) {
      // Packed repeated: a length-delimited run of values without tags.
      const list = out[spec.name] as unknown[];
      within(r, () => {
        while (r.pos < r.end) list.push(readScalar(r, spec.type));
      });
    } else {
      if (wire !== expectedWireType(spec.type)) throw wireTypeError(schema, field, spec.name, wire);
      const value = readScalar(r, spec.type);
      if (spec.repeated) (out[spec.name] as unknown[]).push(value);
      else out[spec.name] = value;
    }
  }
  if (unknown > 0) Object.defineProperty(out, '$unknownFields', { value: unknown, enumerable: false });
  return out;
}

/** Runs `fn` with the reader limited to the next length-delimited field, then moves past it. */
function within<T>(r: ProtoReader, fn: () => T): T {
  const len = r.length();
  const outer = r.end;
  const end = r.pos + len;
  r.end = end;
  try {
    return fn();
  } finally {
    r.end = outer;
    r.pos = end;
  }
}

function decodeMapEntry(
  r: ProtoReader,
  [keyType, valueType]: readonly [ScalarType, ScalarType | (() => MessageSchema)],
  depth: number,
  where: string,
): [unknown, unknown] {
  let key: unknown = defaultScalar(keyType);
  let value: unknown = typeof valueType === 'function' ? undefined : defaultScalar(valueType);
  while (r.pos < r.end) {
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
        value = within(r, () => decodeFrom(r, valueType(), depth + 1));
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

// v0.4 msgpack to protobuf without building what processing does not read: the fast v0.4 reader
// decodes each span's fields and the meta entries processing reads or writes (the watched keys), and
// writes every other meta entry straight to a stage as protobuf bytes, which the chunk writer copies
// into the span. Bodies the reader cannot vouch for, and entries processing would change although it
// does not watch them, make it give up: the caller then decodes the body as before.
import { FastV04Decoder, type StagedSpan, type Staging } from './decode-v04.js';
import { KeySet, MetaStage } from './meta-stage.js';

/** Stamp keys whose presence a span notes in a 31-bit mask. */
const NOTED = 31;

export interface TranscodedKeys {
  /** Keys processing reads or writes: decoded. */
  read: Iterable<string>;
  /** The stamp's keys in the encoder's order (stampOrder): copied, their presence noted. */
  ifAbsent: string[];
  /** The stamp's keys whose value the encoder writes: left out. */
  always: string[];
}

export class V04Transcoder {
  private readonly decoder = new FastV04Decoder();
  private readonly stage = new MetaStage();
  private readonly staging: Staging;

  constructor(keys: TranscodedKeys, rewrites: (key: string, value: string) => boolean) {
    // `__proto__` is read so that the reader gives up on it, as the decoding path's reader does
    const read = new Set([...keys.read, '__proto__']);
    const codes: [string, number][] = [];
    keys.ifAbsent.forEach((k, i) => {
      if (i < NOTED && !read.has(k)) codes.push([k, i]);
      else read.add(k);
    });
    let code = NOTED;
    for (const k of keys.always) if (!read.has(k)) codes.push([k, code++]);
    const dropped = code;
    for (const k of read) codes.push([k, code++]);
    this.staging = { keys: new KeySet(codes), noted: NOTED, dropped, out: this.stage, rewrites };
  }

  /**
   * The traces of a body, or undefined when it must be decoded instead. Their unwatched meta is in
   * `staged` until the next call.
   */
  transcode(body: Uint8Array): StagedSpan[][] | undefined {
    this.stage.reset();
    return this.decoder.transcode(body, this.staging);
  }

  get staged(): Uint8Array {
    return this.stage.bytes;
  }
}

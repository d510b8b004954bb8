// v0.4 msgpack to protobuf without building what processing does not read: the fast v0.4 reader
// decodes each span's fields and the meta entries processing reads or writes (the watched keys), and
// writes every other meta entry straight to a stage as protobuf bytes, which the chunk writer copies
// into the span. Bodies the reader cannot vouch for, and entries processing would change although it
// does not watch them, make it give up: the caller then decodes the body as before.
import { FastV04Decoder, type StagedSpan, type Staging } from './decode-v04.js';
import { KeySet, MetaStage } from './meta-stage.js';

export class V04Transcoder {
  private readonly decoder = new FastV04Decoder();
  private readonly stage = new MetaStage();
  private readonly staging: Staging;

  constructor(watchedKeys: Iterable<string>, rewrites: (key: string, value: string) => boolean) {
    // `__proto__` is watched so that the reader gives up on it, as the decoding path's reader does
    this.staging = { keys: new KeySet([...watchedKeys, '__proto__']), out: this.stage, rewrites };
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

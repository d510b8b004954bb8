// Request bodies as one Buffer. When the client declares its length (tracers do), the buffer is
// allocated once at that size (or lent by a BodyBuffers) and each chunk is copied straight into
// place; otherwise the chunks are joined at the end. Either way the route's limit holds while the
// body streams in (413), and a body that does not match its declared length is a 400.
import type { Readable } from 'node:stream';

/** An error fastify answers with its status code. */
export class BodyError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

// a declared length is only trusted with memory up to this much before the bytes arrive
const PREALLOCATE_MAX = 4 * 1024 * 1024;

/**
 * Body buffers lent to requests and given back when their handler is done with the bytes: a
 * tracer's flushes then land in memory already in use instead of a fresh allocation each (which
 * costs the transcoder more than the copy it saves). Only for handlers that keep nothing of the
 * body, no view into it, once they return. Bodies over `maxBytes` get a buffer of their own, and
 * at most `maxFree` buffers wait for the next request, so what is held stays small.
 */
export class BodyBuffers {
  private readonly free: Buffer[] = [];

  constructor(
    readonly maxBytes = 1 << 20,
    private readonly maxFree = 2,
  ) {}

  /** A buffer of at least `n` bytes, or undefined when `n` is over the cap. */
  take(n: number): Buffer | undefined {
    if (n > this.maxBytes) return undefined;
    const b = this.free.pop();
    if (b !== undefined && b.length >= n) return b;
    // a smaller one is let go: the buffers grow to the bodies the tracers send
    let size = MIN_LENT;
    while (size < n) size *= 2;
    // a buffer of its own, never a slice of Node's shared pool
    return Buffer.allocUnsafeSlow(Math.min(size, this.maxBytes));
  }

  give(b: Buffer): void {
    if (this.free.length < this.maxFree) this.free.push(b);
  }

  /** Buffers waiting to be lent. */
  get idle(): number {
    return this.free.length;
  }
}

const MIN_LENT = 16 * 1024;

/**
 * Reads `stream` to its end. With `buffers`, a body that fits is read into a lent buffer: `done`
 * then gets it as `lent` (the body is a view of it), to be given back once the bytes are no longer
 * needed.
 */
export function readBody(
  stream: Readable,
  declared: string | undefined,
  limit: number,
  done: (err: Error | null, body?: Buffer, lent?: Buffer) => void,
  buffers?: BodyBuffers,
): void {
  let expected = -1;
  if (declared !== undefined) {
    expected = Number(declared);
    if (!Number.isSafeInteger(expected) || expected < 0) {
      done(new BodyError(400, `invalid content-length: ${declared.slice(0, 32)}`));
      return;
    }
    if (expected > limit) {
      done(new BodyError(413, `body of ${expected} bytes over the limit of ${limit}`));
      return;
    }
  }
  const lent = expected >= 0 ? buffers?.take(expected) : undefined;
  const into =
    lent ?? (expected >= 0 && expected <= PREALLOCATE_MAX ? Buffer.allocUnsafe(expected) : undefined);
  const chunks: Buffer[] = [];
  let received = 0;

  const stop = (err: Error | null, body?: Buffer) => {
    stream.removeListener('data', onData);
    stream.removeListener('end', onEnd);
    stream.removeListener('error', onError);
    done(err, body, lent);
  };
  function onData(chunk: Buffer): void {
    const end = received + chunk.length;
    if (end > limit) {
      stop(new BodyError(413, `body over the limit of ${limit} bytes`));
      return;
    }
    if (expected >= 0 && end > expected) {
      stop(new BodyError(400, `body longer than its content-length of ${expected}`));
      return;
    }
    if (into) chunk.copy(into, received);
    else chunks.push(chunk);
    received = end;
  }
  function onEnd(): void {
    if (expected >= 0 && received !== expected) {
      stop(new BodyError(400, `body of ${received} bytes, content-length ${expected}`));
      return;
    }
    // a copy even of a single chunk: chunks are views of the socket's shared read buffer
    if (lent) stop(null, lent.length === received ? lent : lent.subarray(0, received));
    else stop(null, into ?? Buffer.concat(chunks, received));
  }
  function onError(err: Error & { statusCode?: number }): void {
    stop(new BodyError(err.statusCode ?? 400, `reading the body: ${err.message}`));
  }
  stream.on('data', onData);
  stream.on('end', onEnd);
  stream.on('error', onError);
  stream.resume();
}

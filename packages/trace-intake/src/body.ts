// Request bodies as one Buffer. When the client declares its length (tracers do), the buffer is
// allocated once at that size and each chunk is copied straight into place; otherwise the chunks
// are joined at the end. Either way the route's limit holds while the body streams in (413), and
// a body that does not match its declared length is a 400.
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

export function readBody(
  stream: Readable,
  declared: string | undefined,
  limit: number,
  done: (err: Error | null, body?: Buffer) => void,
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
  const into = expected >= 0 && expected <= PREALLOCATE_MAX ? Buffer.allocUnsafe(expected) : undefined;
  const chunks: Buffer[] = [];
  let received = 0;

  const stop = (err: Error | null, body?: Buffer) => {
    stream.removeListener('data', onData);
    stream.removeListener('end', onEnd);
    stream.removeListener('error', onError);
    done(err, body);
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
    stop(null, into ?? Buffer.concat(chunks, received));
  }
  function onError(err: Error & { statusCode?: number }): void {
    stop(new BodyError(err.statusCode ?? 400, `reading the body: ${err.message}`));
  }
  stream.on('data', onData);
  stream.on('end', onEnd);
  stream.on('error', onError);
  stream.resume();
}

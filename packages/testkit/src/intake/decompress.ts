// Content-Encoding decoding with an output cap, so a compressed bomb is refused as "too large"
// instead of exhausting memory.
import { constants, gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';

export class DecompressError extends Error {
  override name = 'DecompressError';
  constructor(
    message: string,
    /** 413 when the output passed the cap, 415 for an unknown encoding, else 400. */
    readonly status: 400 | 413 | 415,
  ) {
    super(message);
  }
}

export type ContentEncoding = 'identity' | 'gzip' | 'deflate' | 'zstd';

export function parseContentEncoding(header: string | undefined): ContentEncoding | undefined {
  const value = (header ?? '').trim().toLowerCase();
  if (value === '' || value === 'identity') return 'identity';
  if (value === 'gzip' || value === 'x-gzip') return 'gzip';
  if (value === 'deflate') return 'deflate';
  if (value === 'zstd') return 'zstd';
  return undefined;
}

export function decompress(body: Uint8Array, encoding: ContentEncoding, maxOutput: number): Uint8Array {
  switch (encoding) {
    case 'identity':
      if (body.length > maxOutput) throw tooLarge(maxOutput);
      return body;
    case 'gzip':
      return zlibCall(() => gunzipSync(body, { maxOutputLength: maxOutput }), 'gzip', maxOutput);
    case 'deflate':
      // HTTP "deflate" is the zlib format (RFC 1950); some clients send raw deflate (RFC 1951).
      try {
        return zlibCall(() => inflateSync(body, { maxOutputLength: maxOutput }), 'deflate', maxOutput);
      } catch (err) {
        if (err instanceof DecompressError && err.status === 413) throw err;
        return zlibCall(() => inflateRawSync(body, { maxOutputLength: maxOutput }), 'deflate', maxOutput);
      }
    case 'zstd':
      return zstd(body, maxOutput);
  }
}

function tooLarge(max: number): DecompressError {
  return new DecompressError(`decompressed body exceeds ${max} bytes`, 413);
}

function zlibCall(fn: () => Buffer, name: string, max: number): Uint8Array {
  try {
    return fn();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_BUFFER_TOO_LARGE' || e.code === String(constants.Z_BUF_ERROR)) {
      if (/larger than|too large|maxOutputLength/i.test(e.message)) throw tooLarge(max);
    }
    if (e instanceof RangeError) throw tooLarge(max);
    throw new DecompressError(`invalid ${name} body: ${e.message}`, 400);
  }
}

function zstd(body: Uint8Array, max: number): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  let finished = false;
  const stream = new ZstdDecompress((chunk, final) => {
    total += chunk.length;
    if (total > max) throw tooLarge(max);
    chunks.push(chunk);
    if (final) finished = true;
  });
  try {
    stream.push(body, true);
  } catch (err) {
    if (err instanceof DecompressError) throw err;
    throw new DecompressError(`invalid zstd body: ${(err as Error).message}`, 400);
  }
  if (!finished && body.length > 0) throw new DecompressError('invalid zstd body: truncated frame', 400);
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

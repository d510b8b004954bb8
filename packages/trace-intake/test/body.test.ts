// The body reader behind every route: sized by content-length when declared, bounded either way.
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { type BodyError, readBody } from '../src/body.js';

function read(chunks: Buffer[], declared: string | undefined, limit: number) {
  return new Promise<{ err: BodyError | null; body?: Buffer }>((resolve) => {
    readBody(Readable.from(chunks, { objectMode: false }), declared, limit, (err, body) =>
      resolve({ err: err as BodyError | null, body }),
    );
  });
}

const bytes = (n: number, fill = 7) => Buffer.alloc(n, fill);

describe('readBody', () => {
  it('joins the chunks of a declared length in place, and of an undeclared one at the end', async () => {
    const parts = [bytes(3, 1), bytes(5, 2), bytes(2, 3)];
    const all = Buffer.concat(parts);
    expect((await read(parts, '10', 100)).body).toEqual(all);
    expect((await read(parts, undefined, 100)).body).toEqual(all);
    expect((await read([], '0', 100)).body).toEqual(Buffer.alloc(0));
  });

  it('reads a declared body above the preallocation bound as chunks', async () => {
    const parts = Array.from({ length: 5 }, (_, i) => bytes(1024 * 1024, i));
    const { err, body } = await read(parts, String(5 * 1024 * 1024), 8 * 1024 * 1024);
    expect(err).toBeNull();
    expect(body?.equals(Buffer.concat(parts))).toBe(true);
  });

  it('answers 413 over the limit, declared or as the bytes stream in', async () => {
    expect((await read([bytes(10)], '10', 9)).err?.statusCode).toBe(413);
    expect((await read([bytes(6), bytes(6)], undefined, 10)).err?.statusCode).toBe(413);
  });

  it('answers 400 to a body that does not match its content-length, or a bad header', async () => {
    expect((await read([bytes(4)], '5', 100)).err?.statusCode).toBe(400);
    expect((await read([bytes(6)], '5', 100)).err?.statusCode).toBe(400);
    expect((await read([], 'abc', 100)).err?.statusCode).toBe(400);
    expect((await read([], '-1', 100)).err?.statusCode).toBe(400);
  });

  it('answers 400 when the stream fails', async () => {
    const stream = new Readable({ read() {} });
    const out = new Promise<BodyError | null>((resolve) =>
      readBody(stream, undefined, 100, (err) => resolve(err as BodyError | null)),
    );
    stream.destroy(new Error('aborted'));
    expect((await out)?.statusCode).toBe(400);
  });
});

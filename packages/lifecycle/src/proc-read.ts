// Reading procfs files: they are made anew at each read from offset 0 and may come a page at a
// time (net/dev: a line per interface), so only a read of 0 bytes is the end.
import { closeSync, openSync, readSync } from 'node:fs';

/** The whole file behind `fd`, from its start, read into `buf` piece by piece. */
export function readFromStart(fd: number, buf: Buffer): string {
  let text = '';
  for (let at = 0; ; ) {
    const n = readSync(fd, buf, 0, buf.length, at);
    if (n === 0) return text;
    text += buf.toString('latin1', 0, n);
    at += n;
  }
}

/** A small procfs file, undefined when it cannot be read. */
export function readAll(path: string, buf: Buffer): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    return readFromStart(fd, buf);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MAX_RELAY_IN_FLIGHT_BYTES,
  type RelayOptions,
  STDOUT_READ_BYTES,
  startRelay,
} from '../src/output-relay.js';
import { type OutputTee, supervise } from '../src/supervisor.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A file to relay into: its descriptor, and its content once the relay is done. */
function target() {
  const dir = mkdtempSync(join(tmpdir(), 'relay-'));
  dirs.push(dir);
  const path = join(dir, 'out');
  const fd = openSync(path, 'w');
  return {
    fd,
    read: () => {
      closeSync(fd);
      return readFileSync(path);
    },
  };
}

// Deterministic chunks of varying sizes (1 B to 200 KiB), each byte depending on its place.
const GENERATOR = `
  function chunk(i) {
    const n = 1 + ((i * 7919) % 204800);
    const b = Buffer.allocUnsafe(n);
    for (let j = 0; j < n; j++) b[j] = (i * 13 + j * 31) & 0xff;
    return b;
  }
`;
const chunkAt = new Function(`${GENERATOR}; return chunk;`)() as (i: number) => Buffer;

function expected(count: number): Buffer {
  return Buffer.concat(Array.from({ length: count }, (_, i) => chunkAt(i)));
}

/** A Node child writing `count` chunks to stdout with backpressure, then `after` (e.g. an exit). */
function writer(count: number, after = ''): ChildProcess {
  const script = `${GENERATOR}
    let i = 0;
    function next() {
      while (i < ${count}) { if (!process.stdout.write(chunk(i++))) { process.stdout.once('drain', next); return; } }
      ${after}
    }
    next();`;
  return spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
}

/**
 * Relays the child's stdout into `to`, the copies kept; with `hold`, a log side that finishes with
 * nothing until the test releases what `held` has.
 */
function relay(child: ChildProcess, to: number, extra: Partial<RelayOptions> & { hold?: boolean } = {}) {
  const { hold, ...options } = extra;
  const copies: Buffer[] = [];
  const held: (() => void)[] = [];
  const lost = { chunks: 0, bytes: 0 };
  const started = startRelay({
    from: child.stdout!,
    to,
    readBytes: STDOUT_READ_BYTES,
    tee: (chunk, release) => {
      copies.push(Buffer.from(chunk));
      if (hold) held.push(release);
      else release();
    },
    lost: (chunks, bytes) => {
      lost.chunks += chunks;
      lost.bytes += bytes;
    },
    failed: async (err) => {
      throw err;
    },
    ...options,
  });
  if (!started) throw new Error('no relay thread');
  const copied = () => copies.reduce((n, c) => n + c.length, 0);
  return { done: started.done, copies, copied, lost, held };
}

/** Copies are whole reads of `want`, in order; what is missing between them was counted as lost. */
function expectCopiesOf(want: Buffer, copies: Buffer[], lostBytes: number): void {
  let at = 0;
  for (const c of copies) {
    const i = want.indexOf(c, at);
    expect(i).toBeGreaterThanOrEqual(at);
    at = i + c.length;
  }
  expect(copies.reduce((n, c) => n + c.length, 0) + lostBytes).toBe(want.length);
}

/** A bound above any stream here: no copy may be dropped, however late the main thread takes them. */
const NO_DROP = 64 * 1024 * 1024;

describe('the relay thread', () => {
  it('relays byte for byte, in order, to the end of the stream, and hands the log side the same bytes', async () => {
    const out = target();
    const { done, copies, lost } = relay(writer(300), out.fd, { maxInFlightBytes: NO_DROP });
    await done;
    const want = expected(300);
    expect(out.read().equals(want)).toBe(true);
    // Every copy reached the tee before `done`, in order.
    expect(Buffer.concat(copies).equals(want)).toBe(true);
    expect(lost).toEqual({ chunks: 0, bytes: 0 });
  }, 60_000);

  it('drops and counts copies the log side does not release, and never a byte of the pass-through', async () => {
    const out = target();
    const { done, copies, copied, lost, held } = relay(writer(300), out.fd, {
      maxInFlightBytes: 1024 * 1024,
      hold: true,
    });
    await done;
    const want = expected(300);
    expect(out.read().equals(want)).toBe(true);
    // Nothing was released: at most the bound was ever copied.
    expect(copied()).toBeLessThanOrEqual(1024 * 1024);
    expect(lost.chunks).toBeGreaterThan(0);
    // Each byte was either copied or counted as lost.
    expect(copied() + lost.bytes).toBe(want.length);
    // Copies are whole reads: the first is the stream's start.
    expect(copies[0]!.equals(want.subarray(0, copies[0]!.length))).toBe(true);
    for (const release of held) release();
  }, 60_000);

  it('copies again once the log side releases what it held', async () => {
    const out = target();
    const { done, copied, lost, held } = relay(writer(300), out.fd, {
      maxInFlightBytes: 512 * 1024,
      hold: true,
    });
    const timer = setInterval(() => {
      for (const release of held.splice(0)) release();
    }, 5);
    await done;
    clearInterval(timer);
    const want = expected(300);
    expect(out.read().equals(want)).toBe(true);
    expect(copied() + lost.bytes).toBe(want.length);
    expect(copied()).toBeGreaterThan(512 * 1024);
  }, 60_000);

  it('still drains and copies the child when our stream is broken (EPIPE)', async () => {
    // Our end of a socket whose reader closed it: every write fails with EPIPE.
    const gone = spawn(
      process.execPath,
      ['-e', `require('fs').closeSync(0); console.log('closed'); setInterval(() => {}, 1000)`],
      { stdio: ['pipe', 'pipe', 'ignore'] },
    );
    await new Promise((r) => gone.stdout!.once('data', r));
    const fd = (gone.stdin as unknown as { _handle: { fd: number } })._handle.fd;
    const { done, copies } = relay(writer(100), fd, { maxInFlightBytes: NO_DROP });
    await done;
    expect(Buffer.concat(copies).equals(expected(100))).toBe(true);
    gone.kill('SIGKILL');
  }, 60_000);

  it('falls back to the stream when the thread cannot run, losing nothing', async () => {
    const out = new PassThrough();
    const got: Buffer[] = [];
    out.on('data', (c: Buffer) => got.push(c));
    const teed: Buffer[] = [];
    const { done } = supervise({
      command: process.execPath,
      args: ['-e', `${GENERATOR}; for (let i = 0; i < 50; i++) process.stdout.write(chunk(i));`],
      env: process.env,
      stdout: out,
      stderr: new PassThrough(),
      tee: { stdout: (c) => teed.push(Buffer.from(c)), stderr: () => {} },
      outputFds: { stdout: 1, stderr: 2 },
      relaySource: 'throw new Error("no thread here")',
    });
    expect((await done).exitCode).toBe(0);
    expect(Buffer.concat(got).equals(expected(50))).toBe(true);
    expect(Buffer.concat(teed).equals(expected(50))).toBe(true);
  }, 60_000);
});

/** A Node child under `supervise`, its streams relayed to our descriptors on threads. */
function superviseNode(script: string, outputFds: { stdout: number; stderr: number }, tee: OutputTee) {
  return supervise({
    command: process.execPath,
    args: ['-e', script],
    env: process.env,
    // Never used: the threads write to the descriptors.
    stdout: new PassThrough(),
    stderr: new PassThrough(),
    outputFds,
    tee,
  });
}

/**
 * A log side that keeps each copy and is done with it at once. A main thread that is late to take
 * the copies (this one runs the tests) loses some: they are counted per stream, and on stdout the
 * next copy is then a newline that ends the cut line, set apart here.
 */
function logSide() {
  const copies = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  const lost = { stdout: 0, stderr: 0 };
  let gapNext = false;
  const keep = (stream: 'stdout' | 'stderr') => (chunk: Buffer, release?: () => void) => {
    if (stream === 'stdout' && gapNext) {
      gapNext = false;
      expect(chunk.toString()).toBe('\n');
      return;
    }
    copies[stream].push(Buffer.from(chunk));
    release?.();
  };
  const tee: OutputTee = {
    stdout: keep('stdout'),
    stderr: keep('stderr'),
    lost: (_chunks, bytes, stream) => {
      lost[stream] += bytes;
      if (stream === 'stdout') gapNext = true;
    },
  };
  return { tee, copies, lost };
}

describe('supervise with our descriptors: both streams on relay threads', () => {
  it('passes stdout and stderr through byte for byte, each in order, and tees them in order, a copy whole or counted lost', async () => {
    const out = target();
    const err = target();
    const script = `${GENERATOR}
      let i = 0;
      function next() {
        while (i < 240) {
          const s = i % 3 === 0 ? process.stderr : process.stdout;
          if (!s.write(chunk(i++))) { s.once('drain', next); return; }
        }
      }
      next();`;
    const side = logSide();
    const { done } = superviseNode(script, { stdout: out.fd, stderr: err.fd }, side.tee);
    expect((await done).exitCode).toBe(0);
    const wantOut: Buffer[] = [];
    const wantErr: Buffer[] = [];
    for (let i = 0; i < 240; i++) (i % 3 === 0 ? wantErr : wantOut).push(chunkAt(i));
    expect(out.read().equals(Buffer.concat(wantOut))).toBe(true);
    expect(err.read().equals(Buffer.concat(wantErr))).toBe(true);
    expectCopiesOf(Buffer.concat(wantOut), side.copies.stdout, side.lost.stdout);
    expectCopiesOf(Buffer.concat(wantErr), side.copies.stderr, side.lost.stderr);
  }, 60_000);

  it('waits for what is still in the socket when the child exits at once, to the end of the stream', async () => {
    const out = target();
    const side = logSide();
    // Written synchronously, then an immediate exit: the bytes are in the socket, not yet read.
    const { done } = superviseNode(
      `${GENERATOR}; const fs = require('fs'); for (let i = 0; i < 40; i++) { const b = chunk(i); let o = 0; while (o < b.length) o += fs.writeSync(1, b, o); } process.exit(5);`,
      { stdout: out.fd, stderr: 2 },
      side.tee,
    );
    expect((await done).exitCode).toBe(5);
    expect(out.read().equals(expected(40))).toBe(true);
    expectCopiesOf(expected(40), side.copies.stdout, side.lost.stdout);
  }, 60_000);

  it('tells the tee about lost copies, and ends the cut stdout line before the next copy', async () => {
    const out = target();
    const teed: string[] = [];
    const lost = { chunks: 0, bytes: 0 };
    const held: (() => void)[] = [];
    // 12 MiB of 100-byte lines (more than the relay copies unreleased), then, on SIGUSR2, a last line.
    const script = `
      const block = Buffer.from(('x'.repeat(99) + '\\n').repeat(10486));
      let n = 0;
      process.on('SIGUSR2', () => { process.stdout.write('tail\\n'); process.exit(0); });
      function next() { while (n < 12) { n++; if (!process.stdout.write(block)) { process.stdout.once('drain', next); return; } } }
      next();
      setInterval(() => {}, 1000);`;
    const total = 12 * 10486 * 100;
    const { done, child } = superviseNode(
      script,
      { stdout: out.fd, stderr: 2 },
      {
        stdout: (c, release) => {
          teed.push(c.toString());
          // A log side that finishes with nothing until the test says so.
          if (release) held.push(release);
        },
        stderr: () => {},
        lost: (chunks, bytes) => {
          lost.chunks += chunks;
          lost.bytes += bytes;
        },
      },
    );
    while (fstatSync(out.fd).size < total) await new Promise((r) => setTimeout(r, 10));
    for (const release of held.splice(0)) release();
    child.kill('SIGUSR2');
    expect((await done).exitCode).toBe(0);
    expect(out.read().length).toBe(total + 5);
    // The loss is reported with the next copy, which comes after a newline that ends the cut line.
    expect(teed.at(-1)).toBe('tail\n');
    expect(teed.indexOf('\n')).toBeGreaterThan(0);
    const copied = teed.slice(0, -1).reduce((n, c) => n + (c === '\n' ? 0 : c.length), 0);
    expect(copied).toBeLessThanOrEqual(MAX_RELAY_IN_FLIGHT_BYTES);
    expect(lost.bytes).toBe(total - copied);
    expect(lost.chunks).toBeGreaterThan(0);
  }, 60_000);
});

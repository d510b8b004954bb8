import type { Readable } from 'node:stream';

/**
 * The pass-through of one of the child's streams on a thread of its own, for when a copy goes to the
 * logs: blocking reads of the child's socket straight into a large buffer and blocking writes of it
 * to our descriptor, with no event loop, no 64 KiB read cap and no wake-up of the main thread between
 * them. Each chunk is written out before anything else happens to it; then a copy goes to the main
 * thread for the logs if what it has not taken yet stays under a bound, and is dropped and counted
 * otherwise. So neither the main thread nor the log thread can slow the child: only the reader of our
 * stream can, as with a direct pipe.
 */

/**
 * Bytes copied for the logs that the log side is not done with yet (on their way, held, or not yet
 * processed); past it the copy is dropped and counted, so under a flood only what the log thread can
 * take is copied at all. Half the log side's own bound, so that the two streams together stay inside
 * it and no copy is made only to be dropped there.
 */
export const MAX_RELAY_IN_FLIGHT_BYTES = 4 * 1024 * 1024;
/** One read: stdout takes all the socket holds; stderr reads as a stream would, so a write stays whole. */
export const STDOUT_READ_BYTES = 1024 * 1024;
export const STDERR_READ_BYTES = 64 * 1024;

export interface RelayThreadData {
  /** The child's end, blocking. */
  from: number;
  /** Our stream's descriptor. */
  to: number;
  readBytes: number;
  maxInFlightBytes: number;
  /** One Int32: the copied bytes the main thread has not taken yet. */
  inFlight: SharedArrayBuffer;
}

export type RelayMessage =
  /** A copy of what was just written out; `lostChunks` copies were dropped just before it. */
  | { t: 'chunk'; chunk: Uint8Array; lostChunks: number; lostBytes: number }
  /** End of the child's stream (or a read error): nothing follows. */
  | { t: 'end'; lostChunks: number; lostBytes: number; readError?: string; writeError?: string };

/**
 * The thread's whole program. It runs from its source text (`RELAY_THREAD_SOURCE`), so it refers to
 * nothing outside itself: the single executable has no file to start a thread from.
 */
function relayThread(load: (id: string) => unknown): void {
  const fs = load('node:fs') as typeof import('node:fs');
  const threads = load('node:worker_threads') as typeof import('node:worker_threads');
  const port = threads.parentPort!;
  const data = threads.workerData as RelayThreadData;
  const inFlight = new Int32Array(data.inFlight);
  const buf = Buffer.allocUnsafe(data.readBytes);
  // Our descriptor may be non-blocking (its file description is shared with whoever made it so):
  // then EAGAIN waits, doubling from 50 µs to 5 ms, instead of spinning.
  const nap = new Int32Array(new SharedArrayBuffer(4));
  let napMs = 0;
  const wait = () => {
    napMs = napMs === 0 ? 0.05 : Math.min(napMs * 2, 5);
    Atomics.wait(nap, 0, 0, napMs);
  };
  const transient = (err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EAGAIN' || code === 'EINTR';
  };
  let writable = true;
  let writeError: string | undefined;
  let readError: string | undefined;
  let lostChunks = 0;
  let lostBytes = 0;
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(data.from, buf, 0, buf.length, null);
    } catch (err) {
      if (transient(err)) {
        wait();
        continue;
      }
      readError = (err as NodeJS.ErrnoException).code ?? String(err);
      break;
    }
    napMs = 0;
    if (n === 0) break;
    // Once our stream is broken (EPIPE), the child is still drained and its output still copied.
    for (let off = 0; writable && off < n; ) {
      try {
        off += fs.writeSync(data.to, buf, off, n - off);
        napMs = 0;
      } catch (err) {
        if (transient(err)) wait();
        else {
          writable = false;
          writeError = (err as NodeJS.ErrnoException).code ?? String(err);
        }
      }
    }
    if (Atomics.load(inFlight, 0) + n > data.maxInFlightBytes) {
      lostChunks++;
      lostBytes += n;
      continue;
    }
    Atomics.add(inFlight, 0, n);
    const chunk = new Uint8Array(n);
    chunk.set(buf.subarray(0, n));
    port.postMessage({ t: 'chunk', chunk, lostChunks, lostBytes }, [chunk.buffer]);
    lostChunks = 0;
    lostBytes = 0;
  }
  port.postMessage({
    t: 'end',
    lostChunks,
    lostBytes,
    ...(readError ? { readError } : {}),
    ...(writeError ? { writeError } : {}),
  });
}

export const RELAY_THREAD_SOURCE = `(${relayThread.toString()})(require);`;

/** The part of libuv's stream handle behind a child's stdio socket that the relay takes over. */
interface StreamHandle {
  fd: number;
  readStop(): number;
  readStart(): number;
  setBlocking(blocking: boolean): number;
}

export interface RelayOptions {
  /** The child's stdout or stderr, as `spawn` made it (a socket): its descriptor is taken over. */
  from: Readable;
  /** Our stream's descriptor. */
  to: number;
  readBytes: number;
  /** Each copy of what was written out; `release` once the log side is done with it. */
  tee: (chunk: Buffer, release: () => void) => void;
  /** Copies dropped (the main thread was behind); `tee` gets the next copy right after. */
  lost: (chunks: number, bytes: number) => void;
  /**
   * The thread stopped before the end of the stream: the caller takes the stream over on the main
   * thread (what the thread read and had not written yet is lost); resolves at its end.
   */
  failed: (err: Error) => Promise<void>;
  maxInFlightBytes?: number;
  /** The thread's program (tests replace it). */
  source?: string;
}

export interface Relay {
  /** Resolves at the end of the child's stream, once every copy was handed to `tee`. */
  done: Promise<void>;
}

/**
 * Starts the thread that relays `from` to `to`, or returns undefined when it cannot (no descriptor
 * to take over, or no thread): the caller then passes the stream through on the main thread.
 */
export function startRelay(options: RelayOptions): Relay | undefined {
  const handle = (options.from as unknown as { _handle?: Partial<StreamHandle> | null })._handle;
  if (
    !handle ||
    typeof handle.fd !== 'number' ||
    handle.fd < 0 ||
    typeof handle.readStop !== 'function' ||
    typeof handle.readStart !== 'function' ||
    typeof handle.setBlocking !== 'function'
  )
    return undefined;
  const h = handle as StreamHandle;
  const inFlightBuffer = new SharedArrayBuffer(4);
  const inFlight = new Int32Array(inFlightBuffer);
  const data: RelayThreadData = {
    from: h.fd,
    to: options.to,
    readBytes: options.readBytes,
    maxInFlightBytes: options.maxInFlightBytes ?? MAX_RELAY_IN_FLIGHT_BYTES,
    inFlight: inFlightBuffer,
  };
  const { Worker } = process.getBuiltinModule('node:worker_threads');
  let worker: InstanceType<typeof Worker>;
  try {
    // Its stdio is not piped to ours: piping makes `process.stdout` here, whose libuv handle turns
    // our descriptor non-blocking for the thread's writes too. The thread prints nothing.
    worker = new Worker(options.source ?? RELAY_THREAD_SOURCE, {
      eval: true,
      workerData: data,
      stdout: true,
      stderr: true,
    });
  } catch {
    return undefined;
  }
  worker.stdout.resume();
  worker.stderr.resume();
  // Still inside the spawn's turn: the event loop has not read from the socket yet, and from now on
  // it never does. The stream may still ask its handle to (it resumes the child's streams when the
  // child exits, for one): until a fall-back, the handle's own readStart does nothing.
  h.readStop();
  h.setBlocking(true);
  h.readStart = () => 0;

  const done = new Promise<void>((resolve) => {
    let ended = false;
    const stop = (err: Error) => {
      if (ended) return;
      ended = true;
      h.setBlocking(false);
      const rest = options.failed(err);
      // The stream was never told it stopped reading: restarting the handle resumes it.
      delete (h as Partial<StreamHandle>).readStart;
      h.readStart();
      void rest.then(resolve);
    };
    worker.on('message', (msg: RelayMessage) => {
      if (ended) return;
      if (msg.lostChunks > 0) options.lost(msg.lostChunks, msg.lostBytes);
      if (msg.t === 'chunk') {
        const bytes = msg.chunk.byteLength;
        let released = false;
        const release = () => {
          if (released) return;
          released = true;
          Atomics.sub(inFlight, 0, bytes);
        };
        try {
          options.tee(Buffer.from(msg.chunk.buffer, msg.chunk.byteOffset, bytes), release);
        } catch {
          // Shipping logs must never disturb the user's output.
          release();
        }
        return;
      }
      ended = true;
      // The thread is done with the descriptor: closing it ends the child's stream here too.
      options.from.destroy();
      resolve();
    });
    worker.on('error', stop);
    worker.on('exit', (code) => stop(new Error(`the relay thread stopped (exit ${code})`)));
  });
  return { done };
}

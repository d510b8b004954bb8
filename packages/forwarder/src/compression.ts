import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { routeOf } from './endpoints.js';
import type { EndpointKind } from './types.js';

export type CodecKind = 'zstd' | 'gzip' | 'deflate' | 'none';

/** What compresses one payload, and the `Content-Encoding` it announces. */
export interface Codec {
  readonly kind: CodecKind;
  /** `native` (node:zlib), `wasm` (zstd compiled to WebAssembly) or `zlib`. */
  readonly implementation: string;
  readonly encoding: string | undefined;
  compress(data: Uint8Array, level: number): Promise<Uint8Array>;
  /**
   * The same on the event loop, for small payloads (see `syncMaxBytes`); undefined when this codec
   * cannot right now (the WebAssembly module is not loaded yet).
   */
  compressSync?(data: Uint8Array, level: number): Uint8Array | undefined;
  /** The inverse of `compressSync` (for a payload compressed ahead of its flush that must be split). */
  decompressSync?(data: Uint8Array): Uint8Array | undefined;
}

export interface CompressionOptions {
  /** Codec for series, sketches, check runs and events (`DD_SERIALIZER_COMPRESSOR_KIND`). */
  metrics: CodecKind;
  /** Codec for logs (`DD_LOGS_CONFIG_COMPRESSION_KIND`; `none` when `DD_LOGS_CONFIG_USE_COMPRESSION=false`). */
  logs: CodecKind;
  /** Codec for traces. */
  traces: CodecKind;
  metricsLevel: number;
  logsLevel: number;
  apmLevel: number;
  /** Use the WebAssembly zstd codec when this Node's zlib has no zstd. */
  zstdWasm: boolean;
  /**
   * Payloads up to this many bytes (uncompressed) are compressed on the event loop: the hop to the
   * thread pool and back costs more than it saves on them (see the README's benchmark), and a Lambda
   * function below 1769 MB has less than one vCPU, so the pool runs on the same core anyway. Larger
   * ones go to the pool, so that the loop never stalls for long. Default `DEFAULT_SYNC_MAX_BYTES`.
   */
  syncMaxBytes?: number;
}

/** About 3 ms of one core for gzip level 3 on JSON; what a flush may hold the loop for, at most. */
export const DEFAULT_SYNC_MAX_BYTES = 1024 * 1024;

/**
 * node:zlib's asynchronous calls go to the thread pool and back once per output chunk (16 KiB by
 * default): one chunk sized for the whole output (JSON shrinks 5-10x) makes it one round trip.
 */
const asyncChunkSize = (input: number) => Math.min(8 * 1024 * 1024, Math.max(64 * 1024, input >> 2));

export const DEFAULT_COMPRESSION: CompressionOptions = {
  metrics: 'zstd',
  logs: 'zstd',
  traces: 'zstd',
  metricsLevel: 3,
  logsLevel: 3,
  apmLevel: 3,
  zstdWasm: false,
};

// Trace stats go gzip (wire-protocols.md §E.2 names the encoding, not a level); the level is the fast one
// the Lambda extension's stats encoder uses (libdd-trace-utils `serialize_stats_payload`: gzip `fast`, 1).
const STATS_GZIP_LEVEL = 1;

const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);

const gzipCodec: Codec = {
  kind: 'gzip',
  implementation: 'zlib',
  encoding: 'gzip',
  compress: (data, level) =>
    gzip(data, { level: clampZlibLevel(level), chunkSize: asyncChunkSize(data.byteLength) }),
  compressSync: (data, level) => zlib.gzipSync(data, { level: clampZlibLevel(level) }),
  decompressSync: (data) => zlib.gunzipSync(data),
};

const deflateCodec: Codec = {
  kind: 'deflate',
  implementation: 'zlib',
  encoding: 'deflate',
  compress: (data, level) =>
    deflate(data, { level: clampZlibLevel(level), chunkSize: asyncChunkSize(data.byteLength) }),
  compressSync: (data, level) => zlib.deflateSync(data, { level: clampZlibLevel(level) }),
  decompressSync: (data) => zlib.inflateSync(data),
};

const identityCodec: Codec = {
  kind: 'none',
  implementation: 'identity',
  encoding: undefined,
  compress: async (data) => data,
  compressSync: (data) => data,
};

/** The level `DD_COMPRESSION_LEVEL` and the per-kind variables default to (lambda-extension-reference.md §1a). */
export const DEFAULT_COMPRESSION_LEVEL = 3;

/**
 * The configured levels are 0–9 (§1a). 0 is zstd's "default level" (3), and stays that for gzip: a user
 * who writes 0 asks for the default, never for an uncompressed gzip stream. The gzip fallback takes the
 * same scale (1 fastest, 9 smallest).
 */
export function effectiveLevel(level: number): number {
  const n = Math.round(level);
  if (!Number.isFinite(n) || n <= 0) return DEFAULT_COMPRESSION_LEVEL;
  return Math.min(9, n);
}

const clampZlibLevel = effectiveLevel;
const clampZstdLevel = effectiveLevel;

type ZstdCompressFn = (
  data: Uint8Array,
  options: { params: Record<number, number>; chunkSize?: number },
  cb: (err: Error | null, out: Buffer) => void,
) => void;
type ZstdCompressSyncFn = (data: Uint8Array, options: { params: Record<number, number> }) => Buffer;
type ZstdDecompressSyncFn = (data: Uint8Array) => Buffer;

/** zstd from node:zlib (Node >= 22.15), or undefined on this Node. */
export function nativeZstdCodec(): Codec | undefined {
  const z = zlib as unknown as {
    zstdCompress?: ZstdCompressFn;
    zstdCompressSync?: ZstdCompressSyncFn;
    zstdDecompressSync?: ZstdDecompressSyncFn;
    constants: Record<string, number>;
  };
  const fn = z.zstdCompress;
  const syncFn = z.zstdCompressSync;
  const unSyncFn = z.zstdDecompressSync;
  const levelParam = z.constants.ZSTD_c_compressionLevel;
  if (typeof fn !== 'function' || levelParam === undefined) return undefined;
  const compress = promisify(fn);
  const params = (level: number) => ({ params: { [levelParam]: clampZstdLevel(level) } });
  return {
    kind: 'zstd',
    implementation: 'native',
    encoding: 'zstd',
    compress: (data, level) =>
      compress(data, { ...params(level), chunkSize: asyncChunkSize(data.byteLength) }),
    ...(typeof syncFn === 'function'
      ? { compressSync: (data: Uint8Array, level: number) => syncFn(data, params(level)) }
      : {}),
    ...(typeof unSyncFn === 'function' ? { decompressSync: (data: Uint8Array) => unSyncFn(data) } : {}),
  };
}

interface ZstdWasmModule {
  init(): Promise<void>;
  compress(data: Uint8Array, level?: number): Uint8Array;
  decompress(data: Uint8Array): Uint8Array;
}

// One instance per process: initialising the module again would swap its memory under any other user.
let wasmModule: Promise<ZstdWasmModule> | undefined;
let wasmReady: ZstdWasmModule | undefined;

function loadWasmZstd(): Promise<ZstdWasmModule> {
  wasmModule ??= (async () => {
    const require = createRequire(import.meta.url);
    const mod = require('@bokuweb/zstd-wasm') as ZstdWasmModule;
    await mod.init();
    wasmReady = mod;
    return mod;
  })();
  return wasmModule;
}

/**
 * zstd compiled to WebAssembly: no native addon, so it ships in a one-file layer for both architectures.
 * Loading it costs a few milliseconds, so it starts at `prepare()` (during init), never on first use.
 */
export class WasmZstdCodec implements Codec {
  readonly kind = 'zstd';
  readonly implementation = 'wasm';
  readonly encoding = 'zstd';

  prepare(): Promise<ZstdWasmModule> {
    return loadWasmZstd();
  }

  async compress(data: Uint8Array, level: number): Promise<Uint8Array> {
    const mod = await loadWasmZstd();
    return mod.compress(data, clampZstdLevel(level));
  }

  compressSync(data: Uint8Array, level: number): Uint8Array | undefined {
    return wasmReady?.compress(data, clampZstdLevel(level));
  }

  decompressSync(data: Uint8Array): Uint8Array | undefined {
    return wasmReady?.decompress(data);
  }
}

/** Picks the codec and level for each endpoint kind, as the spec gives them. */
export class CompressionPolicy {
  readonly #options: CompressionOptions;
  readonly #zstd: Codec | undefined;
  readonly #wasm: WasmZstdCodec | undefined;
  readonly #selected = new Map<EndpointKind, { codec: Codec; level: number }>();

  constructor(
    options: CompressionOptions = DEFAULT_COMPRESSION,
    native: Codec | undefined = nativeZstdCodec(),
  ) {
    this.#options = options;
    this.#wasm = !native && options.zstdWasm ? new WasmZstdCodec() : undefined;
    this.#zstd = native ?? this.#wasm;
  }

  /** Payloads up to this many bytes are compressed on the event loop, when the codec can. */
  get syncMaxBytes(): number {
    return this.#options.syncMaxBytes ?? DEFAULT_SYNC_MAX_BYTES;
  }

  #syncBytesThisTurn = 0;
  #turnResetScheduled = false;

  /**
   * Whether `bytes` more may be compressed on the event loop in this turn of it. The bound is per
   * turn, not per payload: a flush hands over many payloads at once, and compressing them all in one
   * stretch would hold the loop (and the DogStatsD socket) far longer than one payload does.
   */
  takeSyncBudget(bytes: number): boolean {
    const max = this.syncMaxBytes;
    if (this.#syncBytesThisTurn + bytes > max) return false;
    this.#syncBytesThisTurn += bytes;
    if (!this.#turnResetScheduled) {
      this.#turnResetScheduled = true;
      setImmediate(() => {
        this.#syncBytesThisTurn = 0;
        this.#turnResetScheduled = false;
      }).unref();
    }
    return true;
  }

  /** The zstd implementation in use (`native`, `wasm`), or `none` when zstd falls back to gzip. */
  get zstdImplementation(): string {
    return this.#zstd?.implementation ?? 'none';
  }

  /**
   * Loads what the codecs need (the WebAssembly module) ahead of the first flush, then runs each
   * codec the intake kinds use once on a small sample: the first call into zlib (or the module)
   * costs more than the rest, and the first flush is usually a blocking one.
   */
  async prepare(): Promise<void> {
    await this.#wasm?.prepare();
    const sample = Buffer.from('{"warm":"up","n":[1,2,3]}'.repeat(16));
    const done = new Set<Codec>();
    for (const kind of ['series', 'logs', 'traces'] as EndpointKind[]) {
      const { codec, level } = this.select(kind);
      if (done.has(codec)) continue;
      done.add(codec);
      try {
        codec.compressSync?.(sample, level);
      } catch {
        // The first real payload reports it (and goes uncompressed).
      }
    }
  }

  select(kind: EndpointKind): { codec: Codec; level: number } {
    let choice = this.#selected.get(kind);
    if (!choice) {
      choice = Object.freeze(this.#choose(kind));
      this.#selected.set(kind, choice);
    }
    return choice;
  }

  #choose(kind: EndpointKind): { codec: Codec; level: number } {
    const family = routeOf(kind).family;
    if (kind === 'stats') return { codec: gzipCodec, level: STATS_GZIP_LEVEL };
    // Proxied routes carry what the tracer encoded; they are passed on unchanged.
    if (family === 'proxy') return { codec: identityCodec, level: 0 };
    const o = this.#options;
    if (family === 'logs') return { codec: this.#codec(o.logs), level: o.logsLevel };
    if (kind === 'traces') return { codec: this.#codec(o.traces), level: o.apmLevel };
    return { codec: this.#codec(o.metrics), level: o.metricsLevel };
  }

  #codec(kind: CodecKind): Codec {
    switch (kind) {
      case 'zstd':
        return this.#zstd ?? gzipCodec;
      case 'gzip':
        return gzipCodec;
      case 'deflate':
        return deflateCodec;
      case 'none':
        return identityCodec;
    }
  }
}

/** The codecs this process can use, for the benchmark and diagnostics. */
export function availableCodecs(): Codec[] {
  const list: Codec[] = [gzipCodec, deflateCodec];
  const native = nativeZstdCodec();
  if (native) list.push(native);
  list.push(new WasmZstdCodec());
  return list;
}

import { gunzipSync, gzipSync, inflateSync } from 'node:zlib';
import { decompress } from 'fzstd';
import { describe, expect, it } from 'vitest';
import {
  availableCodecs,
  CompressionPolicy,
  DEFAULT_COMPRESSION,
  DEFAULT_SYNC_MAX_BYTES,
  fromEnv,
  nativeZstdCodec,
} from '../src/index.js';
import { captureLogger } from './helpers/logger.js';

const json = Buffer.from(
  JSON.stringify(
    Array.from({ length: 5_000 }, (_, i) => ({
      metric: `fwd.metric.${i % 50}`,
      value: i,
      tags: ['env:prod'],
    })),
  ),
);

describe('compression', () => {
  it('levels are 0-9 as the spec gives DD_COMPRESSION_LEVEL; out of range is a warning and the default', () => {
    const logger = captureLogger();
    const c = fromEnv(
      {
        DD_COMPRESSION_LEVEL: '12',
        DD_LOGS_CONFIG_COMPRESSION_LEVEL: '15',
        DD_APM_CONFIG_COMPRESSION_LEVEL: '9',
        DD_METRICS_CONFIG_COMPRESSION_LEVEL: '0',
      },
      logger,
    ).compression;
    expect(c).toMatchObject({ logsLevel: 3, apmLevel: 9, metricsLevel: 0 });
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg.split('=')[0])).toEqual([
      'DD_COMPRESSION_LEVEL',
      'DD_LOGS_CONFIG_COMPRESSION_LEVEL',
    ]);
    const p = new CompressionPolicy({ ...c, metrics: 'gzip' }, undefined);
    expect(p.select('traces').level).toBe(9);
  });

  it('level 0 means the default level (3), for gzip too, never an uncompressed gzip stream', async () => {
    const p = new CompressionPolicy({ ...DEFAULT_COMPRESSION, metrics: 'gzip', metricsLevel: 0 }, undefined);
    const { codec, level } = p.select('series');
    const out = Buffer.from(await codec.compress(json, level));
    expect(out.equals(gzipSync(json, { level: 3 }))).toBe(true);
    expect(gunzipSync(out).equals(json)).toBe(true);
  });

  it('picks the codec per endpoint kind as the spec gives it', () => {
    // Native zstd where this Node has it; else gzip, since the WebAssembly zstd does not beat it (see the benchmark).
    const p = new CompressionPolicy(DEFAULT_COMPRESSION);
    const expected = nativeZstdCodec() ? 'zstd' : 'gzip';
    for (const kind of ['series', 'sketches', 'check_run', 'events', 'logs', 'traces'] as const)
      expect(p.select(kind).codec.encoding).toBe(expected);
    expect(p.select('stats')).toMatchObject({ codec: { encoding: 'gzip' }, level: 1 });
    for (const kind of ['profiling', 'debugger', 'llmobs', 'apm_telemetry'] as const)
      expect(p.select(kind).codec.encoding).toBeUndefined();
    expect(p.zstdImplementation).toBe(nativeZstdCodec() ? 'native' : 'none');
    const wasm = new CompressionPolicy({ ...DEFAULT_COMPRESSION, zstdWasm: true }, undefined);
    expect(wasm.select('series').codec).toMatchObject({ encoding: 'zstd', implementation: 'wasm' });
  });

  it('falls back to gzip when zstd is unavailable and the WebAssembly codec is off', () => {
    const p = new CompressionPolicy({ ...DEFAULT_COMPRESSION, zstdWasm: false }, undefined);
    expect(p.select('series').codec.encoding).toBe('gzip');
    expect(p.zstdImplementation).toBe('none');
  });

  it('honours the configured kinds', () => {
    const p = new CompressionPolicy({
      ...DEFAULT_COMPRESSION,
      metrics: 'deflate',
      logs: 'none',
      traces: 'gzip',
    });
    expect(p.select('series').codec.encoding).toBe('deflate');
    expect(p.select('logs').codec.encoding).toBeUndefined();
    expect(p.select('traces').codec.encoding).toBe('gzip');
  });

  it('produces zstd frames an independent decoder reads, from several policies at once', async () => {
    // Two policies share the one WebAssembly instance; neither may disturb the other.
    const a = new CompressionPolicy({ ...DEFAULT_COMPRESSION, zstdWasm: true }, undefined);
    const b = new CompressionPolicy({ ...DEFAULT_COMPRESSION, zstdWasm: true }, undefined);
    await Promise.all([a.prepare(), b.prepare()]);
    const outs = await Promise.all(
      [a, b, a, b].map((p, i) => p.select('series').codec.compress(json, i + 1)),
    );
    for (const out of outs) {
      expect(out.byteLength).toBeLessThan(json.byteLength / 5);
      expect(Buffer.from(decompress(out)).equals(json)).toBe(true);
    }
  });

  it('lists the codecs of this Node, each of which round-trips', async () => {
    const codecs = availableCodecs();
    expect(codecs.map((c) => `${c.kind}/${c.implementation}`)).toEqual(
      expect.arrayContaining(['gzip/zlib', 'deflate/zlib', 'zstd/wasm']),
    );
    const gzip = codecs.find((c) => c.kind === 'gzip')!;
    expect(gunzipSync(await gzip.compress(json, 6)).equals(json)).toBe(true);
  });

  it('compresses on the event loop as it does on the thread pool, each output read by an independent decoder', async () => {
    const decoders: Record<string, (b: Uint8Array) => Buffer> = {
      gzip: (b) => gunzipSync(b),
      deflate: (b) => inflateSync(b),
      zstd: (b) => Buffer.from(decompress(b)),
    };
    const wasm = new CompressionPolicy({ ...DEFAULT_COMPRESSION, zstdWasm: true }, undefined);
    await wasm.prepare();
    const seen: string[] = [];
    for (const codec of availableCodecs()) {
      const sync = codec.compressSync?.(json, 3);
      expect(sync, `${codec.kind}/${codec.implementation}`).toBeInstanceOf(Uint8Array);
      const decode = decoders[codec.kind]!;
      expect(decode(sync!).equals(json)).toBe(true);
      expect(decode(await codec.compress(json, 3)).equals(json)).toBe(true);
      seen.push(codec.kind);
    }
    expect(seen).toEqual(expect.arrayContaining(['gzip', 'deflate', 'zstd']));
  });

  it('compresses up to 1 MiB on the event loop by default, the bound configurable', () => {
    expect(new CompressionPolicy(DEFAULT_COMPRESSION).syncMaxBytes).toBe(DEFAULT_SYNC_MAX_BYTES);
    expect(DEFAULT_SYNC_MAX_BYTES).toBe(1024 * 1024);
    expect(new CompressionPolicy({ ...DEFAULT_COMPRESSION, syncMaxBytes: 0 }).syncMaxBytes).toBe(0);
  });

  it('bounds what is compressed on the event loop per turn of it, not per payload', async () => {
    const policy = new CompressionPolicy(DEFAULT_COMPRESSION);
    const mib = 1024 * 1024;
    // One flush hands over many payloads in one turn: only the first 1 MiB's worth stays on the loop.
    expect(policy.takeSyncBudget(0.6 * mib)).toBe(true);
    expect(policy.takeSyncBudget(0.3 * mib)).toBe(true);
    expect(policy.takeSyncBudget(0.6 * mib)).toBe(false);
    expect(policy.takeSyncBudget(2 * mib)).toBe(false);
    // The next turn has the whole budget again.
    await new Promise((resolve) => setImmediate(resolve));
    expect(policy.takeSyncBudget(0.6 * mib)).toBe(true);
    expect(new CompressionPolicy({ ...DEFAULT_COMPRESSION, syncMaxBytes: 0 }).takeSyncBudget(1)).toBe(false);
  });
});

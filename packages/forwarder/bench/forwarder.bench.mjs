// Forwarder overhead per send, against a bare undici request of the same bytes, and the throughput and
// ratio of every codec this Node can use. The intake is a loopback sink in a child process, so its work
// does not share our event loop. Run with `pnpm bench forwarder` (after `pnpm build`).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { availableCodecs, CompressionPolicy, createForwarder, fromEnv } from '@serverless-agent/forwarder';
import { Pool } from 'undici';
import { median, printTable, quantile, ratio } from '../../../bench/stats.mjs';

const require = createRequire(import.meta.url);

const SINK = `
const http = require('node:http');
const s = http.createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => { res.writeHead(202, { 'content-type': 'application/json' }); res.end('{}'); });
});
s.keepAliveTimeout = 60000;
s.listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

async function startSink() {
  const child = spawn(process.execPath, ['-e', SINK], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise((resolve) =>
    child.stdout.once('data', (d) => resolve(Number(String(d).trim()))),
  );
  return { url: `http://127.0.0.1:${port}`, stop: () => child.stdin.end() };
}

/** JSON shaped like a series payload: names, tags and values vary, as real ones do. */
function seriesJson(targetBytes) {
  const series = [];
  let size = 12;
  let i = 0;
  const now = Math.floor(Date.now() / 1000);
  while (size < targetBytes) {
    const s = {
      metric: `app.request.${['latency', 'count', 'errors', 'bytes'][i % 4]}.${i % 97}`,
      type: 1 + (i % 3),
      points: [{ timestamp: now - (i % 60), value: Math.round(Math.random() * 1e6) / 100 }],
      tags: [
        `env:${i % 3 ? 'prod' : 'staging'}`,
        `service:svc-${i % 13}`,
        `version:1.${i % 7}.${i % 11}`,
        `shard:${(i * 7919) % 1000}`,
      ],
      resources: [{ type: 'host', name: `arn:aws:lambda:us-east-1:123456789012:function:fn-${i % 5}` }],
      interval: 10,
    };
    const text = JSON.stringify(s);
    size += text.length + 1;
    series.push(s);
    i++;
  }
  return Buffer.from(JSON.stringify({ series }));
}

const now = () => performance.now();

async function timeIt(fn) {
  const t = now();
  await fn();
  return now() - t;
}

const sink = await startSink();
const env = { DD_API_KEY: 'bench-key-0000000000000000', DD_DD_URL: sink.url };
const options = {
  ...fromEnv({ ...env, ...process.env }, { debug() {}, info() {}, warn() {}, error() {} }),
  freezeTickMs: 0,
};
const forwarder = createForwarder(options);
await forwarder.warmUp();
// The codec and level the forwarder itself uses for series on this Node.
const policy = new CompressionPolicy(options.compression);
await policy.prepare();
const { codec, level } = policy.select('series');
// The bare side gets what the forwarder's own pool gets (sockets, keep-alive, timeouts) and the same
// headers, so the difference is the forwarder's work alone.
const bare = new Pool(sink.url, {
  connections: options.connectionsPerHost,
  keepAliveTimeout: options.idleSocketMs,
  keepAliveMaxTimeout: options.idleSocketMs,
  headersTimeout: 0,
  bodyTimeout: 0,
  connect: { rejectUnauthorized: options.tls.rejectUnauthorized, timeout: options.connectTimeoutMs },
});

const sendRows = [];
for (const [label, bytes, rounds] of [
  ['1 MB', 1_000_000, 80],
  ['100 KB', 100_000, 400],
]) {
  const body = seriesJson(bytes);
  const compressed = await codec.compress(body, level);
  const payload = { kind: 'series', body, contentType: 'application/json', items: 1 };
  const bareSend = async (bytes = compressed) => {
    const res = await bare.request({
      path: '/api/v2/series',
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': options.userAgent,
        'content-encoding': codec.encoding,
        'dd-api-key': env.DD_API_KEY,
      },
      body: bytes,
      signal: AbortSignal.timeout(10_000),
    });
    await res.body.dump();
  };
  // The ceiling: what any sender must do, compress this payload then POST it, by hand; compressed on the
  // thread pool or on the event loop, whichever is faster here (both run; the faster one is the peer).
  const compressThenBare = async () => bareSend(await codec.compress(body, level));
  const compressSyncThenBare = async () => bareSend(codec.compressSync(body, level));
  const fwdSend = async () => {
    const r = await forwarder.send(payload, { signal: AbortSignal.timeout(10_000) });
    if (r.delivered !== 1) throw new Error(`send failed: ${JSON.stringify(r)}`);
  };
  const compressOnly = () => codec.compress(body, level);
  const compressSyncOnly = async () => codec.compressSync(body, level);
  for (let w = 0; w < 5; w++) {
    await bareSend();
    await fwdSend();
    await compressOnly();
    await compressSyncOnly();
  }
  const t = { bare: [], compress: [], compressSync: [], ceiling: [], ceilingSync: [], fwd: [] };
  for (let r = 0; r < rounds; r++) {
    // Rotate the order so that no side always runs on a warmer or colder machine.
    const order = [
      ['bare', bareSend],
      ['compress', compressOnly],
      ['ceiling', compressThenBare],
      ['fwd', fwdSend],
      ['compressSync', compressSyncOnly],
      ['ceilingSync', compressSyncThenBare],
    ];
    for (let k = 0; k < r % order.length; k++) order.push(order.shift());
    for (const [name, fn] of order) t[name].push(await timeIt(fn));
  }
  const mBare = median(t.bare);
  const syncWins = median(t.ceilingSync) < median(t.ceiling);
  const mComp = Math.min(median(t.compress), median(t.compressSync));
  const mFwd = median(t.fwd);
  const ceiling = syncWins ? t.ceilingSync : t.ceiling;
  const mCeiling = median(ceiling);
  // Within a round the two ran moments apart, so their ratio is less disturbed by the machine's load than
  // the ratio of two medians: its median and spread are given too.
  const paired = t.fwd.map((f, i) => f / ceiling[i]);
  sendRows.push([
    label,
    `${(compressed.length / 1024).toFixed(0)} KB`,
    `${median(t.compress).toFixed(2)} / ${median(t.compressSync).toFixed(2)}`,
    syncWins ? 'event loop' : 'thread pool',
    mBare.toFixed(2),
    mCeiling.toFixed(2),
    mFwd.toFixed(2),
    ratio(mFwd, mBare + mComp).toFixed(3),
    ratio(mFwd, mCeiling).toFixed(3),
    `${median(paired).toFixed(3)} (${quantile(paired, 0.25).toFixed(2)}–${quantile(paired, 0.75).toFixed(2)})`,
  ]);
}
console.log(
  `\nsend = compress (${codec.kind}/${codec.implementation} level ${level}) + POST to a loopback sink; medians in ms.\n` +
    'The peer compresses on the thread pool or on the event loop, whichever is faster for it in this run; ' +
    `the forwarder compresses payloads up to ${policy.syncMaxBytes} bytes on the event loop, larger ones on the pool.`,
);
printTable(
  [
    'payload',
    'on wire',
    'compress pool / loop',
    'peer compresses on',
    'bare POST',
    'compress+bare POST',
    'forwarder.send',
    'fwd / (compress + bare)',
    'fwd / (compress+bare POST)',
    'per round, median (p25–p75)',
  ],
  sendRows,
);

// Codec throughput and ratio on the 1 MB payload.
const body = seriesJson(1_000_000);
const codecRows = [];
const candidates = availableCodecs().flatMap((c) =>
  c.kind === 'zstd' ? [1, 3].map((l) => [c, l]) : c.kind === 'gzip' ? [1, 3, 6].map((l) => [c, l]) : [[c, 6]],
);
const rows = {};
const times = new Map(candidates.map((k) => [k, []]));
const sizes = new Map();
for (const [c, l] of candidates)
  sizes.set(`${c.kind}/${c.implementation} ${l}`, (await c.compress(body, l)).length);
// Interleaved: every round runs every codec once, so a burst of load on the shared machine hits all alike.
for (let r = 0; r < 25; r++) {
  // Rotated, and a collection before each, so no codec pays for another's garbage or always goes first.
  const order = candidates.map((_, i) => candidates[(i + r) % candidates.length]);
  for (const k of order) {
    globalThis.gc?.();
    const t0 = now();
    await k[0].compress(body, k[1]);
    times.get(k).push(now() - t0);
  }
}
for (const k of candidates) {
  const [c, l] = k;
  const name = `${c.kind}/${c.implementation} ${l}`;
  const ms = median(times.get(k));
  const row = { name, ms, mbps: body.length / 1e6 / (ms / 1000), ratio: body.length / sizes.get(name) };
  rows[name] = row;
  codecRows.push([name, ms.toFixed(2), row.mbps.toFixed(0), row.ratio.toFixed(2)]);
}
console.log(`\ncodecs on a ${(body.length / 1e6).toFixed(2)} MB series payload (medians of 25, interleaved)`);
printTable(['codec level', 'ms', 'MB/s', 'ratio'], codecRows);
// The question the default rests on: does the WebAssembly zstd beat gzip where Node has no zstd?
for (const [z, g] of [
  ['zstd/wasm 1', 'gzip/zlib 1'],
  ['zstd/wasm 3', 'gzip/zlib 3'],
  ['zstd/wasm 3', 'gzip/zlib 6'],
]) {
  const a = rows[z];
  const b = rows[g];
  if (a && b)
    console.log(
      `${z} vs ${g}: ${ratio(a.mbps, b.mbps).toFixed(2)}x the throughput, ${ratio(a.ratio, b.ratio).toFixed(2)}x the ratio`,
    );
}

// What the WebAssembly codec costs before its first byte: loading and instantiating it, in fresh
// processes (the cost a cold start pays), against loading node:zlib's gzip.
async function loadCost(code) {
  const runs = [];
  for (let r = 0; r < 5; r++) {
    const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    await new Promise((resolve) => child.on('close', resolve));
    runs.push(Number(out));
  }
  return median(runs);
}
const wasmLoad = await loadCost(
  `const t=performance.now();const m=require(${JSON.stringify(require.resolve('@bokuweb/zstd-wasm'))});` +
    `m.init().then(()=>{m.compress(Buffer.alloc(100000,97),3);process.stdout.write(String(performance.now()-t))})`,
);
const gzipLoad = await loadCost(
  `const t=performance.now();const z=require('node:zlib');` +
    `z.gzip(Buffer.alloc(100000,97),{level:3},()=>process.stdout.write(String(performance.now()-t)))`,
);
console.log(
  `\nload + first 100 KB compression in a fresh process (median of 5): zstd/wasm ${wasmLoad.toFixed(1)} ms, ` +
    `gzip ${gzipLoad.toFixed(1)} ms`,
);
{
  const z = rows['zstd/wasm 3'];
  const g = rows['gzip/zlib 3'];
  if (z && g)
    console.log(
      `at level 3 the WebAssembly zstd has ${ratio(z.mbps, g.mbps).toFixed(2)}x gzip's throughput and ` +
        `${ratio(z.ratio, g.ratio).toFixed(2)}x its ratio, and costs ${(wasmLoad - gzipLoad).toFixed(1)} ms more to load ` +
        '(the default rests on these three: see the README)',
    );
}

await forwarder.close();
await bare.close();
sink.stop();

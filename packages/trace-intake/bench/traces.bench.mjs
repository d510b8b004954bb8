// Spans/s through HTTP → decode → processing → AgentPayload encoding, against a bare msgpackr decode
// of the same bodies in the same run; and memory per 10k spans buffered.
//
// Three processes per workload, so that nothing measured shares a process with anything else: the
// receiver (receiver-proc.mjs), the load generator (load-client.mjs) and the decoder that times the
// ceiling and the in-process path (decode-proc.mjs). The two cores are shared by the receiver and
// the load generator, and on this machine with other work too, so wall-clock throughput says as much
// about the neighbours as about the receiver: each process also reports the CPU time it used, and
// the CPU ratio (bare decode CPU per span ÷ receiver CPU per span) is the figure that holds still.
// Rounds alternate the three paths; each round's ratios are against the bare decode of that round.
//
// BENCH_TRACES_WORKLOADS=lambda-3,batch-2s picks workloads; BENCH_TRACES_ROUNDS, BENCH_TRACES_SECONDS;
// BENCH_TRACES_PROFILE=<dir> runs the receiver under --cpu-prof.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { decodeV04, tracerHeadersFrom } from '@serverless-agent/trace-intake';
import { median, printTable, ratio } from '../../../bench/stats.mjs';
import { benchAgent } from './agent-setup.mjs';
import { bodiesOf, WORKLOADS } from './workloads.mjs';

const names = (process.env.BENCH_TRACES_WORKLOADS ?? Object.keys(WORKLOADS).join(',')).split(',');
const ROUNDS = Number(process.env.BENCH_TRACES_ROUNDS ?? 5);
const MS = Number(process.env.BENCH_TRACES_SECONDS ?? 1.2) * 1000;
const WARMUP_MS = 500;
// the receiver's CPU per request keeps falling for seconds on a loaded machine (the JIT's threads get
// little time), so its warm-up is longer than the decoder's
const HTTP_WARMUP_MS = 4000;
const PROFILE = process.env.BENCH_TRACES_PROFILE;
const platformOf = (name) => (name.startsWith('lambda') ? 'lambda' : 'serverless-init');
// distinct bodies, so that the de-duplicator (it remembers 100 spans) never sees a repeat
const countOf = (name) => (name.startsWith('batch') ? 12 : 256);
// dd-trace sends one request at a time per process; several functions/handlers give a few in flight
const LANES = 2;

/** A child process driven by request/response messages. */
async function child(script, args, execArgv = []) {
  const proc = fork(new URL(script, import.meta.url), args, { stdio: 'inherit', execArgv });
  const [first] = await once(proc, 'message');
  return {
    first,
    async ask(msg) {
      proc.send(msg);
      const [reply] = await once(proc, 'message');
      return reply;
    },
    async exit() {
      proc.send({ cmd: 'exit' });
      await once(proc, 'exit');
    },
  };
}

const perSpanUs = (r) => r.cpuUs / r.spans;
const rate = (r) => r.spans / (r.wallMs / 1000);
const fmt = (x, d = 2) => x.toFixed(d);
const spread = (xs) => `${fmt(median(xs))} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`;

async function runWorkload(name) {
  const platform = platformOf(name);
  const made = bodiesOf(name, countOf(name));
  const wire = {
    bodies: made.map((b) => b.body.toString('base64')),
    spans: made.map((b) => b.spans),
    traces: made.map((b) => b.traces),
  };
  const spansPerBody = made[0].spans;
  const bytesPerBody = Math.round(made.reduce((n, b) => n + b.body.length, 0) / made.length);
  console.log(`\n## ${name}: ${WORKLOADS[name].what}`);
  console.log(
    `${made.length} distinct bodies of ${spansPerBody} spans, ${bytesPerBody} bytes on average; agent configured as ${platform === 'lambda' ? 'apps/lambda-extension' : 'apps/serverless-init'}`,
  );

  const decoder = await child('./decode-proc.mjs', [platform]);
  await decoder.ask({ cmd: 'bodies', bodies: wire.bodies, spans: wire.spans });
  const profArgs = PROFILE
    ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`, `--cpu-prof-name=${name}.cpuprofile`]
    : [];
  const receiver = await child('./receiver-proc.mjs', [platform], profArgs);
  const load = await child('./load-client.mjs', []);
  await load.ask({ cmd: 'setup', port: receiver.first.port, lanes: LANES, ...wire });

  const overHttp = async (ms) => {
    await receiver.ask({ cmd: 'begin' });
    const client = await load.ask({ cmd: 'run', ms, lanes: LANES });
    const server = await receiver.ask({ cmd: 'end' });
    if (server.decodeErrors > 0 || server.dropped > 0)
      throw new Error(`receiver errors: ${JSON.stringify(server)}`);
    return { ...server, client };
  };

  // warm-up: JIT, caches, connections
  await decoder.ask({ cmd: 'run', mode: 'bare', ms: WARMUP_MS });
  await decoder.ask({ cmd: 'run', mode: 'inproc', ms: WARMUP_MS });
  await overHttp(HTTP_WARMUP_MS);

  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    const bare = await decoder.ask({ cmd: 'run', mode: 'bare', ms: MS });
    const inproc = await decoder.ask({ cmd: 'run', mode: 'inproc', ms: MS });
    const http = await overHttp(MS);
    rounds.push({ bare, inproc, http });
  }
  await Promise.all([decoder.exit(), receiver.exit(), load.exit()]);

  const col = (pick) => rounds.map(pick);
  const rows = [
    [
      'bare msgpackr unpack (ceiling)',
      Math.round(median(col((r) => rate(r.bare)))),
      fmt(median(col((r) => perSpanUs(r.bare)))),
      '1.00',
      '1.00',
    ],
    [
      'decode → process → encode, in process',
      Math.round(median(col((r) => rate(r.inproc)))),
      fmt(median(col((r) => perSpanUs(r.inproc)))),
      spread(col((r) => ratio(rate(r.inproc), rate(r.bare)))),
      spread(col((r) => ratio(perSpanUs(r.bare), perSpanUs(r.inproc)))),
    ],
    [
      'HTTP → decode → process → encode (receiver process)',
      Math.round(median(col((r) => rate(r.http)))),
      fmt(median(col((r) => perSpanUs(r.http)))),
      spread(col((r) => ratio(rate(r.http), rate(r.bare)))),
      spread(col((r) => ratio(perSpanUs(r.bare), perSpanUs(r.http)))),
    ],
  ];
  console.log(
    `spans/s and CPU µs per span: medians of ${ROUNDS} rounds × ${MS / 1000} s; ratios vs the bare decode of the same round: median (range)`,
  );
  printTable(['path', 'spans/s (wall)', 'CPU µs/span', 'wall ratio', 'CPU ratio'], rows);
  const h = col((r) => r.http);
  console.log(
    `receiver: ${Math.round(median(h.map((x) => x.requests / (x.wallMs / 1000))))} requests/s, busy ${fmt(
      median(h.map((x) => (x.cpuUs / 1000 / x.wallMs) * 100)),
      0,
    )}% of a core; load generator busy ${fmt(
      median(h.map((x) => (x.client.cpuUs / 1000 / x.client.wallMs) * 100)),
      0,
    )}% of a core; ${fmt(median(h.map((x) => x.flushedBytes / x.spans)), 0)} bytes of AgentPayload per span; receiver CPU: ${fmt(
      median(h.map((x) => (x.userUs / x.cpuUs) * 100)),
      0,
    )}% user, ${fmt(median(h.map((x) => x.mainThreadShare * 100)), 0)}% on the main thread`,
  );
  return { name, rounds, made };
}

function gcAll() {
  for (let i = 0; i < 3; i++) globalThis.gc?.();
}

/** Heap + array buffers held by the agent's buffer of encoded chunks, per 10k spans. */
function memoryPer10k(name, made) {
  const agent = benchAgent(platformOf(name));
  const h = tracerHeadersFrom({ 'datadog-meta-lang': 'nodejs' });
  gcAll();
  const mem0 = process.memoryUsage();
  let spans = 0;
  // decoded spans are garbage once processed: what stays is the agent's buffer of encoded chunks
  for (const b of made) {
    agent.handleTraces(decodeV04(b.body), h);
    spans += b.spans;
  }
  gcAll();
  const mem1 = process.memoryUsage();
  const held = mem1.heapUsed + mem1.arrayBuffers - (mem0.heapUsed + mem0.arrayBuffers);
  const buffered = agent.buffered.spans;
  agent.flush();
  const wire = made.reduce((n, b) => n + b.body.length, 0);
  return { per10k: (held / buffered) * 10_000, wirePer10k: (wire / spans) * 10_000 };
}

const results = [];
for (const name of names) results.push(await runWorkload(name));

console.log(
  '\n## memory per 10k spans buffered (encoded chunks held until flush; heap + array buffers after GC)',
);
const memRows = [];
for (const { name, made } of results) {
  const ms = [];
  let wire = 0;
  for (let t = 0; t < 5; t++) {
    const m = memoryPer10k(name, made.slice(0, name.startsWith('batch') ? 12 : 256));
    ms.push(m.per10k);
    wire = m.wirePer10k;
  }
  memRows.push([name, Math.round(median(ms)), Math.round(wire)]);
}
printTable(
  ['workload', 'bytes buffered per 10k spans (median of 5)', 'the same spans as v0.4 on the wire'],
  memRows,
);
if (!globalThis.gc) console.log('(run with --expose-gc, as `pnpm bench` does, for stable memory figures)');

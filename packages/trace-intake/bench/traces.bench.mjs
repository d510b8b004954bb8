// Spans/s through HTTP → decode → Lambda processing → AgentPayload encoding, against a bare msgpackr
// decode of the same payloads in the same run; and memory per 10k spans buffered.
// The load comes from a child process (its own core), keep-alive, two requests in flight.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  createTraceReceiver,
  decodeV04,
  fromEnv,
  TraceAgent,
  tracerHeadersFrom,
} from '@serverless-agent/trace-intake';
import { Packr, Unpackr } from 'msgpackr';
import { median, printTable, ratio } from '../../../bench/stats.mjs';

const TRACES = 50;
const SPANS = 10;
const PAYLOADS = 20; // distinct ids, so the de-duplicator never drops a repeat
// trials alternate the ceiling and the two paths, so that a change of load hits all three alike
const TRIALS = 5;
const SECONDS = 2;

const rnd64 = () => randomBytes(8).readBigUInt64BE() | 1n;
function payload() {
  const traces = [];
  for (let t = 0; t < TRACES; t++) {
    const traceId = rnd64();
    const ids = Array.from({ length: SPANS }, rnd64);
    traces.push(
      ids.map((id, i) => ({
        trace_id: traceId,
        span_id: id,
        parent_id: i === 0 ? 0n : ids[i - 1],
        name: i === 0 ? 'aws.lambda' : `op.${i}`,
        resource: i === 0 ? 'my-function' : `GET /items/${i}`,
        service: 'my-function',
        type: i === 0 ? 'serverless' : 'web',
        start: 1_700_000_000_000_000_000n + BigInt(t * 1000 + i),
        duration: 1_000_000n + BigInt(i),
        error: 0,
        meta: Object.fromEntries(
          Array.from({ length: 10 }, (_, k) => [`tag.key.${k}`, `value-${k}-${t}-${i}`]),
        ),
        metrics: { _sampling_priority_v1: 1, 'process.id': 1234.5, 'custom.m': i * 1.5 },
      })),
    );
  }
  return new Packr({ useRecords: false }).pack(traces);
}

const bodies = Array.from({ length: PAYLOADS }, payload);
const spansPer = TRACES * SPANS;
console.log(
  `payload: ${TRACES} traces × ${SPANS} spans = ${spansPer} spans, ${bodies[0].length} bytes (uint64 ids, 10 meta, 3 metrics)`,
);

/** Spans per second of the bare decode, over the time it actually ran. */
function bareDecode(ms) {
  const u = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'bigint' });
  let n = 0;
  let i = 0;
  const start = performance.now();
  const end = start + ms;
  while (performance.now() < end) {
    u.unpack(bodies[i++ % PAYLOADS]);
    n += spansPer;
  }
  return n / ((performance.now() - start) / 1000);
}

function inProcess(ms) {
  const agent = new TraceAgent({
    ...fromEnv({ DD_SERVICE: 'my-function' }),
    tags: { functionname: 'my-function' },
  });
  const h = tracerHeadersFrom({ 'datadog-meta-lang': 'nodejs' });
  let n = 0;
  let i = 0;
  const start = performance.now();
  const end = start + ms;
  while (performance.now() < end) {
    agent.handleTraces(decodeV04(bodies[i++ % PAYLOADS]), h);
    n += spansPer;
    if (i % 10 === 0) agent.flush();
  }
  agent.flush();
  return n / ((performance.now() - start) / 1000);
}

async function overHttp(ms) {
  const agent = new TraceAgent({
    ...fromEnv({ DD_SERVICE: 'my-function' }),
    tags: { functionname: 'my-function' },
    port: 0,
  });
  let requests = 0;
  let flushedBytes = 0;
  const receiver = createTraceReceiver(agent, {
    host: '127.0.0.1',
    port: 0,
    maxTraceBodyBytes: 50 * 1024 * 1024,
    maxOtherBodyBytes: 2 * 1024 * 1024,
    // the app would flush on its strategy; encoding every 10 requests keeps it in the measured path
    onTraces: () => {
      if (++requests % 10 === 0) for (const p of agent.flush()) flushedBytes += p.body.length;
    },
  });
  const { port } = await receiver.listen();
  const child = fork(new URL('./load-client.mjs', import.meta.url), [String(port), String(ms)], {
    stdio: 'inherit',
  });
  child.send({ bodies: bodies.map((b) => b.toString('base64')) });
  const result = await new Promise((resolve) => child.on('message', resolve));
  for (const p of agent.flush()) flushedBytes += p.body.length;
  await receiver.close();
  if (agent.counters.decodeErrors > 0) throw new Error('decode errors in the benchmark');
  return { spans: agent.processor.counters.spansReceived, seconds: result.seconds, flushedBytes };
}

function gcAll() {
  for (let i = 0; i < 3; i++) globalThis.gc?.();
}

function memoryPer10k() {
  const agent = new TraceAgent({ ...fromEnv({}), tags: { functionname: 'my-function' } });
  const h = tracerHeadersFrom({ 'datadog-meta-lang': 'nodejs' });
  gcAll();
  const mem0 = process.memoryUsage();
  const before = mem0.heapUsed + mem0.arrayBuffers;
  let spans = 0;
  // decoded spans are garbage once processed: what stays is the agent's buffer of encoded chunks
  for (const b of bodies) {
    agent.handleTraces(decodeV04(b), h);
    spans += spansPer;
  }
  gcAll();
  const mem1 = process.memoryUsage();
  const after = mem1.heapUsed + mem1.arrayBuffers;
  const external = agent.buffered;
  agent.flush();
  return { per10k: ((after - before) / spans) * 10_000, spans: external.spans };
}

const bare = [];
const proc = [];
const http = [];
for (let t = 0; t < TRIALS; t++) {
  bare.push(bareDecode(SECONDS * 1000));
  proc.push(inProcess(SECONDS * 1000));
  const r = await overHttp(SECONDS * 1000);
  http.push(r.spans / r.seconds);
}
// each trial's ratio is against the bare decode of the same trial
const spread = (xs) => {
  const rs = xs.map((x, i) => ratio(x, bare[i]));
  return [median(rs).toFixed(2), `${Math.min(...rs).toFixed(2)}–${Math.max(...rs).toFixed(2)}`];
};
const rows = [
  ['bare msgpackr unpack (ceiling)', Math.round(median(bare)), '1.00', ''],
  ['decode → process → encode (in process)', Math.round(median(proc)), ...spread(proc)],
  ['HTTP → decode → process → encode', Math.round(median(http)), ...spread(http)],
];
console.log(
  `\nspans/s, median of ${TRIALS} trials × ${SECONDS} s; ratio: median and range of the per-trial ratios (target: HTTP path ≥ 0.60× the bare decode)`,
);
printTable(['path', 'spans/s', 'ratio', 'range'], rows);

const mem = [];
for (let t = 0; t < TRIALS; t++) mem.push(memoryPer10k().per10k);
const wire = (bodies[0].length / spansPer) * 10_000;
console.log(`\nmemory per 10k spans buffered (encoded chunks held until flush), median of ${TRIALS}:`);
printTable(
  ['what', 'bytes per 10k spans'],
  [
    ['buffered in the agent (heap + array buffers)', Math.round(median(mem))],
    ['the same spans as v0.4 msgpack on the wire', Math.round(wire)],
  ],
);
if (!globalThis.gc) console.log('(run with --expose-gc, as `pnpm bench` does, for stable memory figures)');

// Records/s through parse → rules → encode (LambdaLogs.ingest + flush into /api/v2/logs bodies),
// against JSON.stringify of the very same output events, in the same run. Typical records are
// Node/Python text lines and JSON-format records of ~100-200 bytes; large ones are ~8 KiB stack
// traces and JSON payloads. Medians of interleaved rounds (no forced GC between them: each side
// pays for its own garbage); the machine is shared and noisy, so the ratio is also given in CPU
// time (less disturbed by other processes) with the spread of the per-round wall-time ratios.
import { compileRules, LambdaLogs } from '@serverless-agent/logs';
import { median, printTable, quantile, ratio } from '../../../bench/stats.mjs';

const ARN = 'arn:aws:lambda:us-east-1:123456789012:function:bench';
const RID = '6d68ca91-49c9-448d-89b8-7ca3e6dc66aa';
const N_TYPICAL = Number(process.env.LOGS_BENCH_RECORDS ?? 20_000);
const N_LARGE = Math.max(1000, N_TYPICAL >> 2);
const ROUNDS = Number(process.env.LOGS_BENCH_ROUNDS ?? 11);

const RULES = compileRules([
  { type: 'exclude_at_match', name: 'no_health', pattern: 'GET /healthz' },
  {
    type: 'mask_sequences',
    name: 'cards',
    pattern: '\\b4[0-9]{12}(?:[0-9]{3})?\\b',
    replace_placeholder: '[card]',
  },
  { type: 'mask_sequences', name: 'keys', pattern: '(api_key=)\\w+', replace_placeholder: '$1***' },
]);

function typical(i) {
  switch (i % 4) {
    case 0:
      return `2024-05-01T12:00:00.431Z\t${RID}\tINFO\tprocessed order ${i} for customer c-${i % 97} in ${i % 50} ms\n`;
    case 1:
      return `[WARNING]\t2024-05-01T12:00:00.431Z\t${RID}\tretrying call to inventory service, attempt ${i % 3}\n`;
    case 2:
      return {
        timestamp: '2024-05-01T12:00:00.431Z',
        level: 'INFO',
        requestId: RID,
        message: `cart ${i} updated`,
        items: i % 7,
      };
    default:
      return `2024-05-01T12:00:00.431Z\t${RID}\tDEBUG\t{"status":"debug","message":"datadog:Sending metrics, count ${i}"}\n`;
  }
}

const FRAME = '    at Object.handler (/var/task/node_modules/some-library/dist/index.js:1234:56)\n';
function large(i) {
  if (i % 2 === 0) {
    return `2024-05-01T12:00:00.431Z\t${RID}\tERROR\tError: request ${i} failed\n${FRAME.repeat(100)}`;
  }
  return {
    timestamp: '2024-05-01T12:00:00.431Z',
    level: 'ERROR',
    requestId: RID,
    message: `upstream returned 502 for ${i}`,
    body: 'x'.repeat(7800),
  };
}

function events(make, n) {
  const out = [];
  const t0 = Date.parse('2024-05-01T12:00:00.431Z');
  for (let i = 0; i < n; i++)
    out.push({ time: new Date(t0 + i).toISOString(), type: 'function', record: make(i) });
  return out;
}

function runOurs(evts, rules) {
  const logs = new LambdaLogs({ functionArn: ARN, service: 'bench', tags: 'env:bench,team:perf', rules });
  logs.ingest({ time: '2024-05-01T12:00:00.430Z', type: 'platform.start', record: { requestId: RID } });
  let bytes = 0;
  for (let i = 0; i < evts.length; i += 1000) {
    logs.ingest(evts.slice(i, i + 1000));
    // Flush as the app would, every telemetry batch or so, so the buffer stays small.
    if (i % 10_000 === 9000) for (const p of logs.flush()) bytes += p.body.byteLength;
  }
  for (const p of logs.flush({ final: true })) bytes += p.body.byteLength;
  return bytes;
}

function outputObjects(evts, rules) {
  const logs = new LambdaLogs({ functionArn: ARN, service: 'bench', tags: 'env:bench,team:perf', rules });
  logs.ingest({ time: '2024-05-01T12:00:00.430Z', type: 'platform.start', record: { requestId: RID } });
  logs.ingest(evts);
  return logs.flush({ final: true }).flatMap((p) => JSON.parse(Buffer.from(p.body).toString()));
}

function runStringify(objs) {
  let bytes = 0;
  for (let i = 0; i < objs.length; i += 1000) bytes += JSON.stringify(objs.slice(i, i + 1000)).length;
  return bytes;
}

// Wall time, and the process's CPU time (all threads, GC helpers included): on a loaded machine
// the second is far less disturbed by the other processes' load.
function time(fn) {
  const c = process.cpuUsage();
  const t = process.hrtime.bigint();
  fn();
  const wall = Number(process.hrtime.bigint() - t) / 1e9;
  const cpu = process.cpuUsage(c);
  return [wall, (cpu.user + cpu.system) / 1e6];
}

// The rules change nothing in these events (no card numbers, keys or health checks), so both rows of
// a size compare with the very same JSON.stringify work: it is timed once per round and shared, rather
// than twice as two copies whose figures differed only by what happened to run before each.
const sizes = [];
for (const [label, make, n] of [
  ['typical', typical, N_TYPICAL],
  ['large', large, N_LARGE],
]) {
  const evts = events(make, n);
  const objs = outputObjects(evts, []);
  if (JSON.stringify(outputObjects(evts, RULES)) !== JSON.stringify(objs))
    throw new Error(`the rules change the ${label} events: give each row its own peer`);
  const configs = [
    ['no rules', []],
    ['3 rules', RULES],
  ].map(([rulesLabel, rules]) => ({ rulesLabel, rules, ours: [], oursCpu: [] }));
  sizes.push({ label, n, evts, objs, configs, peer: [], peerCpu: [] });
}
// Every side of every size runs in every round, in an order rotated from round to round, so none is
// favoured by always running first, or after the same neighbour (whose garbage it may collect).
const tasks = sizes.flatMap((s) => [
  ...s.configs.map((c) => () => {
    const [w, cpu] = time(() => runOurs(s.evts, c.rules));
    c.ours.push(s.n / w);
    c.oursCpu.push(s.n / cpu);
  }),
  () => {
    const [w, cpu] = time(() => runStringify(s.objs));
    s.peer.push(s.objs.length / w);
    s.peerCpu.push(s.objs.length / cpu);
  },
]);
for (let w = 0; w < 3; w++) {
  for (const s of sizes) {
    for (const c of s.configs) runOurs(s.evts, c.rules);
    runStringify(s.objs);
  }
}
for (let r = 0; r < ROUNDS; r++) {
  for (let k = 0; k < tasks.length; k++) tasks[(k + r) % tasks.length]();
}
const spread = (rs) => `${quantile(rs, 0.25).toFixed(2)}–${quantile(rs, 0.75).toFixed(2)}`;
const rows = sizes.flatMap((s) =>
  s.configs.map((c) => {
    const o = median(c.ours);
    const p = median(s.peer);
    return [
      s.label,
      c.rulesLabel,
      String(Math.round(runStringify(s.objs) / s.objs.length)),
      Math.round(o).toLocaleString('en-US'),
      Math.round(p).toLocaleString('en-US'),
      ratio(o, p).toFixed(2) + '×',
      ratio(median(c.oursCpu), median(s.peerCpu)).toFixed(2) + '×',
      spread(c.ours.map((v, i) => v / s.peer[i])),
    ];
  }),
);

console.log(
  `${N_TYPICAL} typical / ${N_LARGE} large records per round, ${ROUNDS} rounds, medians; one JSON.stringify peer per size`,
);
printTable(
  [
    'records',
    'rules',
    'bytes/event',
    'ours rec/s (parse→rules→encode)',
    'JSON.stringify rec/s',
    'ratio',
    'ratio (CPU time)',
    'round ratios p25–p75',
  ],
  rows,
);

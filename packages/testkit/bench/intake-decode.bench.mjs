// How fast the fake intake decodes, beside its peers in the same run:
//  1. protobuf decoding of an AgentPayload and a MetricPayload: the intake's field-table decoder
//     vs protobufjs (decode + toObject with exact 64-bit longs), the library the encoders use;
//  2. a gzip'd traces POST end to end over loopback: the intake vs a bare node:http server that
//     only reads the body and answers 202 (the ceiling for any HTTP receiver on this machine).
// Medians of interleaved rounds; the machine is shared, so read the ratios.
import http from 'node:http';
import { gzipSync } from 'node:zlib';
import { decodeMessage, intakeSchemas, startIntake } from '@serverless-agent/testkit';
import protobuf from 'protobufjs';
import { median, printTable, ratio } from '../../../bench/stats.mjs';

const ROUNDS = 15;

const root = protobuf.parse(
  `syntax = "proto3";
  message AgentPayload { string env = 2; repeated TracerPayload tracerPayloads = 5; double targetTPS = 8; }
  message TracerPayload { string languageName = 2; repeated TraceChunk chunks = 6; }
  message TraceChunk { int32 priority = 1; repeated Span spans = 3; }
  message Span { string service = 1; string name = 2; string resource = 3; uint64 traceID = 4; uint64 spanID = 5;
    uint64 parentID = 6; int64 start = 7; int64 duration = 8; int32 error = 9; map<string, string> meta = 10;
    map<string, double> metrics = 11; string type = 12; }
  message MetricPayload { repeated MetricSeries series = 1; }
  message MetricSeries { repeated Resource resources = 1; string metric = 2; repeated string tags = 3;
    repeated MetricPoint points = 4; int32 type = 5; int64 interval = 8; }
  message Resource { string type = 1; string name = 2; }
  message MetricPoint { double value = 1; int64 timestamp = 2; }`,
  { keepCase: true },
).root;
const AgentPayload = root.lookupType('AgentPayload');
const MetricPayload = root.lookupType('MetricPayload');

const spans = Array.from({ length: 5000 }, (_, i) => ({
  service: 'checkout',
  name: 'aws.lambda',
  resource: `GET /items/${i % 50}`,
  traceID: String(0xfedcba9876543210n - BigInt(i)),
  spanID: String(i + 1),
  parentID: String(i),
  start: String(1_700_000_000_000_000_000n + BigInt(i) * 1000n),
  duration: '1500000',
  meta: { 'http.method': 'GET', request_id: `r-${i}`, env: 'prod' },
  metrics: { _top_level: 1, _sampling_priority_v1: 1 },
  type: 'serverless',
}));
const traces = AgentPayload.encode(
  AgentPayload.fromObject({
    env: 'prod',
    targetTPS: 60,
    tracerPayloads: [{ languageName: 'nodejs', chunks: [{ priority: 1, spans }] }],
  }),
).finish();
const series = MetricPayload.encode(
  MetricPayload.fromObject({
    series: Array.from({ length: 5000 }, (_, i) => ({
      metric: `app.metric.${i % 100}`,
      type: 3,
      interval: 10,
      tags: ['env:prod', `shard:${i % 16}`],
      resources: [{ type: 'host', name: 'h' }],
      points: [{ value: i * 0.5, timestamp: 1_700_000_000 }],
    })),
  }),
).finish();

function time(fn) {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const rows = [];
for (const [label, bytes, schema, type] of [
  ['AgentPayload 5000 spans', traces, intakeSchemas.AgentPayload, AgentPayload],
  ['MetricPayload 5000 series', series, intakeSchemas.MetricPayload, MetricPayload],
]) {
  const ours = [];
  const peer = [];
  for (let r = 0; r < ROUNDS; r++) {
    ours.push(time(() => decodeMessage(bytes, schema)));
    peer.push(time(() => type.toObject(type.decode(bytes), { longs: String })));
  }
  const m = median(ours);
  const p = median(peer);
  rows.push([
    label,
    `${(bytes.length / 1024).toFixed(0)} KiB`,
    m.toFixed(1),
    p.toFixed(1),
    ratio(m, p).toFixed(2),
  ]);
}
console.log('protobuf decode (ms, median of %d)', ROUNDS);
printTable(['payload', 'size', 'intake', 'protobufjs', 'ratio'], rows);

// ---- end to end over loopback ------------------------------------------------------------
const body = gzipSync(traces);
const intake = await startIntake({ maxRecordedRequests: 100, maxRecordedItems: 50_000 });
const bare = http.createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    res.writeHead(202, { 'content-type': 'application/json' });
    res.end('{}');
  });
});
await new Promise((resolve) => bare.listen(0, '127.0.0.1', resolve));
const bareUrl = `http://127.0.0.1:${bare.address().port}`;

async function post(base) {
  const t0 = process.hrtime.bigint();
  const res = await fetch(`${base}/api/v0.2/traces`, {
    method: 'POST',
    body,
    headers: {
      'dd-api-key': intake.apiKey,
      'content-type': 'application/x-protobuf',
      'content-encoding': 'gzip',
    },
  });
  await res.arrayBuffer();
  if (res.status !== 202) throw new Error(`status ${res.status}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const viaIntake = [];
const viaBare = [];
for (let r = 0; r < ROUNDS; r++) {
  viaIntake.push(await post(intake.url));
  viaBare.push(await post(bareUrl));
  intake.clear();
}
await intake.stop();
bare.close();
const mi = median(viaIntake);
const mb = median(viaBare);
console.log(
  `\ngzip'd traces POST, ${(body.length / 1024).toFixed(0)} KiB on the wire (ms, median of ${ROUNDS})`,
);
printTable(
  ['receiver', 'median ms', 'ratio'],
  [
    ['intake (gunzip + decode + record)', mi.toFixed(1), ratio(mi, mb).toFixed(2)],
    ['bare node:http (ceiling)', mb.toFixed(1), '1.00'],
  ],
);

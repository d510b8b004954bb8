// Where the CPU time of the in-process path goes, stage by stage, per span: `node bench/stages.mjs
// batch-2s` (a workload of workloads.mjs; built package). Each stage is timed with process.cpuUsage
// around it, which costs a few µs a call: figures for the small Lambda requests are inflated by that.
import {
  decodeV04,
  encodeAgentPayloads,
  encodeTracerPayloadChunks,
  tracerHeadersFrom,
} from '@serverless-agent/trace-intake';
import { Unpackr } from 'msgpackr';
import { median } from '../../../bench/stats.mjs';
import { benchAgent } from './agent-setup.mjs';
import { bodiesOf } from './workloads.mjs';

const name = process.argv[2] ?? 'batch-2s';
const made = bodiesOf(name, name.startsWith('batch') ? 12 : 256);
const agent = benchAgent(name.startsWith('lambda') ? 'lambda' : 'serverless-init');
const header = tracerHeadersFrom({
  'datadog-meta-lang': 'nodejs',
  'datadog-meta-lang-version': 'v20.20.2',
  'datadog-meta-tracer-version': '5.132.0',
});
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'bigint' });
const cpu = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};
const STAGES = ['bare msgpackr unpack', 'decode', 'process', 'stats', 'encode chunks', 'envelope'];
const perRound = STAGES.map(() => []);
let i = 0;
for (let round = 0; round < 8; round++) {
  const us = STAGES.map(() => 0);
  let spans = 0;
  let held = [];
  let heldSpans = 0;
  const end = performance.now() + 800;
  while (performance.now() < end) {
    const b = made[i++ % made.length];
    let t = cpu();
    const lap = (k) => {
      const now = cpu();
      us[k] += now - t;
      t = now;
    };
    unpackr.unpack(b.body);
    lap(0);
    const traces = decodeV04(b.body);
    lap(1);
    const payload = agent.processor.process(traces, header);
    lap(2);
    agent.concentrator?.add(payload);
    lap(3);
    held.push(encodeTracerPayloadChunks(payload));
    lap(4);
    spans += b.spans;
    heldSpans += b.spans;
    if (heldSpans >= 1000) {
      encodeAgentPayloads(held, { agentVersion: '0.1.0', targetTPS: 60, errorTPS: 60, env: 'test' });
      lap(5);
      held = [];
      heldSpans = 0;
    }
  }
  for (const [k, u] of us.entries()) perRound[k].push(u / spans);
}
console.log(`${name}: CPU µs per span, median of 8 rounds`);
for (const [k, s] of STAGES.entries()) console.log(`  ${s.padEnd(22)} ${median(perRound[k]).toFixed(2)}`);

// The ceiling (a bare msgpackr decode) and the in-process path (decode → process → encode, through
// the agent's entry for v0.4 bodies, as the receiver calls it), each
// timed in this process by wall clock and by the CPU time of the process, over the same bodies the
// load generator sends.
import { tracerHeadersFrom } from '@serverless-agent/trace-intake';
import { Unpackr } from 'msgpackr';
import { benchAgent } from './agent-setup.mjs';

const [platform] = process.argv.slice(2);
let bodies = [];
let spansPer = [];
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'bigint' });
const agent = benchAgent(platform);
const header = tracerHeadersFrom({
  'datadog-meta-lang': 'nodejs',
  'datadog-meta-lang-version': 'v20.20.2',
  'datadog-meta-tracer-version': '5.132.0',
});

function timed(ms, step) {
  let spans = 0;
  let i = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + ms;
  while (performance.now() < end) {
    spans += step(i % bodies.length);
    i++;
  }
  const wallMs = performance.now() - start;
  const cpu = process.cpuUsage(cpu0);
  return { wallMs, cpuUs: cpu.user + cpu.system, spans };
}

let sink = 0;
const modes = {
  bare: (k) => {
    const t = unpackr.unpack(bodies[k]);
    sink += t.length;
    return spansPer[k];
  },
  inproc: (k) => {
    // as the receiver hands a v0.4 msgpack body to the agent
    agent.handleV04(bodies[k], header);
    if (agent.buffered.spans >= 1000) for (const p of agent.flush()) sink += p.body.length;
    return spansPer[k];
  },
};

process.on('message', (m) => {
  if (m.cmd === 'bodies') {
    bodies = m.bodies.map((b) => Buffer.from(b, 'base64'));
    spansPer = m.spans;
    process.send({ ok: true });
  } else if (m.cmd === 'run') {
    const r = timed(m.ms, modes[m.mode]);
    if (m.mode === 'inproc') for (const p of agent.flush()) sink += p.body.length;
    process.send({ ...r, sink });
  } else if (m.cmd === 'exit') process.exit(0);
});
process.send({ ready: true });

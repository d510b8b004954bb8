// UDP end to end, CPU cost per datagram: the same heavy offered load (enough to keep every
// receiver busy) to a bare dgram receiver, our server and Etsy statsd, and the CPU time each
// process spent per datagram it received (from /proc). A busy receiver's capacity is 1 / cost;
// unlike the highest lossless rate, this does not swing with how often the shared machine
// deschedules the receiver. Medians of 3 trials.
import { median, printTable, ratio } from '../../../bench/stats.mjs';
import { cleanup, cpuMs, nodeReceiver, statsdReceiver, trial } from './udp-common.mjs';

const SECONDS = 1.5;
const TRIALS = 3;
// Loads that keep each receiver's event loop busy (at light loads, waking up per datagram costs more than the work).
const plans = [
  { lines: 1, rate: 80_000 },
  { lines: 20, rate: 30_000 },
];

const receivers = [];
const cost = {};
try {
  receivers.push(await nodeReceiver('bare'), await nodeReceiver('ours'), await statsdReceiver());
  for (const rx of receivers) await trial(rx, 20, 2_000); // warm-up
  for (const plan of plans) {
    for (let t = 0; t < TRIALS; t++) {
      for (const rx of receivers) {
        const before = cpuMs(rx.pid);
        const r = await trial(rx, plan.lines, plan.rate, SECONDS);
        const used = cpuMs(rx.pid) - before;
        const key = `${rx.name}/${plan.lines}`;
        if (cost[key] === undefined) cost[key] = { us: [], loss: [] };
        cost[key].us.push((used * 1000) / Math.max(1, r.got));
        cost[key].loss.push(r.loss);
      }
    }
  }
} finally {
  await Promise.all(receivers.map((rx) => rx.close()));
  cleanup();
}

const rows = [];
for (const plan of plans) {
  const us = receivers.map((rx) => median(cost[`${rx.name}/${plan.lines}`].us));
  const loss = receivers.map((rx) => median(cost[`${rx.name}/${plan.lines}`].loss));
  const [bare, ours, statsd] = us;
  rows.push([
    String(plan.lines),
    `${plan.rate.toLocaleString('en-US')}/s`,
    bare.toFixed(1),
    ours.toFixed(1),
    statsd.toFixed(1),
    ratio(bare, ours).toFixed(2),
    ratio(statsd, ours).toFixed(1),
    loss.map((l) => `${(l * 100).toFixed(0)}%`).join(' / '),
  ]);
}
printTable(
  [
    'lines/dgram',
    'offered',
    'bare µs/dgram',
    'ours µs/dgram',
    'statsd µs/dgram',
    'ours capacity / bare',
    'ours capacity / statsd',
    'loss bare/ours/statsd',
  ],
  rows,
);
console.log(
  `(CPU µs per datagram received, medians of ${TRIALS} trials of ${SECONDS} s; capacity = 1 / cost; the loss shows the load exceeds what each takes)`,
);

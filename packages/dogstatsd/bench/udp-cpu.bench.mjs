// UDP end to end, CPU cost per datagram: the same heavy offered load (enough to keep every
// receiver busy) to a bare dgram receiver, our server and Etsy statsd, and the CPU time each
// process spent per datagram it received (from /proc). A busy receiver's capacity is 1 / cost;
// unlike the highest lossless rate, this does not swing with how often the shared machine
// deschedules the receiver. The three run back to back in each trial, and the ratios are taken
// per trial before their median, so a change of the machine's load between trials cancels out.
import { median, printTable } from '../../../bench/stats.mjs';
import { cleanup, cpuMs, nodeReceiver, statsdReceiver, trial } from './udp-common.mjs';

const SECONDS = 1.5;
const TRIALS = 5;
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
    const key = String(plan.lines);
    cost[key] = { us: receivers.map(() => []), loss: receivers.map(() => []), vsBare: [], vsStatsd: [] };
    for (let t = 0; t < TRIALS; t++) {
      const us = [];
      for (const [i, rx] of receivers.entries()) {
        const before = cpuMs(rx.pid);
        const r = await trial(rx, plan.lines, plan.rate, SECONDS);
        const used = cpuMs(rx.pid) - before;
        us.push((used * 1000) / Math.max(1, r.got));
        cost[key].us[i].push(us[i]);
        cost[key].loss[i].push(r.loss);
      }
      // Capacity ratios of this trial: ours / bare = bare cost / our cost.
      cost[key].vsBare.push(us[0] / us[1]);
      cost[key].vsStatsd.push(us[2] / us[1]);
    }
  }
} finally {
  await Promise.all(receivers.map((rx) => rx.close()));
  cleanup();
}

const span = (xs, d) =>
  `${median(xs).toFixed(d)} [${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}]`;
const rows = [];
for (const plan of plans) {
  const c = cost[String(plan.lines)];
  rows.push([
    String(plan.lines),
    `${plan.rate.toLocaleString('en-US')}/s`,
    ...c.us.map((us) => median(us).toFixed(1)),
    span(c.vsBare, 2),
    span(c.vsStatsd, 1),
    c.loss.map((l) => `${(median(l) * 100).toFixed(0)}%`).join(' / '),
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
  `(CPU µs per datagram received, medians of ${TRIALS} trials of ${SECONDS} s; capacity = 1 / cost; ratios: median [min–max] of the per-trial ratios; targets: ours/bare ≥ 0.70, ours/statsd ≥ 3 unbatched and ≥ 6 batched; the loss shows the load exceeds what each takes)`,
);

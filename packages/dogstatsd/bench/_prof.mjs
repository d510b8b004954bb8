import { Aggregator } from '@serverless-agent/dogstatsd';

const TYPES = ['c', 'g', 'd', 'c', 'ms'];
const contexts = Number(process.argv[2] ?? 1000);
const bufs = [];
let n = 0;
for (let d = 0; d < Math.max(2000, contexts / 20); d++) {
  const lines = [];
  for (let l = 0; l < 20; l++, n++) {
    const ctx = n % contexts;
    lines.push(
      `app.metric.${ctx % 50}:${(n % 997) + 0.5}|${TYPES[ctx % 5]}|#env:prod,service:api,ctx:${ctx}`,
    );
  }
  bufs.push(Buffer.from(lines.join('\n')));
}
const agg = new Aggregator({ now: () => 1_700_000_005_000, maxContexts: 200000 });
const t0 = performance.now();
let lines = 0;
while (performance.now() - t0 < 2000) {
  for (const b of bufs) agg.ingest(b);
  lines += bufs.length * 20;
}
console.log(
  (((lines / (performance.now() - t0)) * 1000) / 1e6).toFixed(2),
  'M lines/s',
  agg.stats().contexts,
);

import { Aggregator } from '@serverless-agent/dogstatsd';

const TYPES = ['c', 'g', 'd', 'c', 'ms'];
const contexts = 100000;
const bufs = [];
let n = 0;
for (let d = 0; d < 5000; d++) {
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
for (let pass = 0; pass < 4; pass++) {
  const t0 = performance.now();
  for (const b of bufs) agg.ingest(b);
  const ms = performance.now() - t0;
  console.log('pass', pass, ms.toFixed(0), 'ms', (100000 / ms / 1000).toFixed(2), 'M lines/s');
}

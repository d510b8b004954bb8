import { LambdaLogs } from '@serverless-agent/logs';

const RID = '6d68ca91-49c9-448d-89b8-7ca3e6dc66aa';
const kinds = {
  node: (i) =>
    `2024-05-01T12:00:00.431Z\t${RID}\tINFO\tprocessed order ${i} for customer c-${i % 97} in ${i % 50} ms\n`,
  python: (i) =>
    `[WARNING]\t2024-05-01T12:00:00.431Z\t${RID}\tretrying call to inventory service, attempt ${i % 3}\n`,
  object: (i) => ({
    timestamp: '2024-05-01T12:00:00.431Z',
    level: 'INFO',
    requestId: RID,
    message: `cart ${i} updated`,
    items: i % 7,
  }),
  embedded: (i) =>
    `2024-05-01T12:00:00.431Z\t${RID}\tDEBUG\t{"status":"debug","message":"datadog:Sending metrics, count ${i}"}\n`,
};
const N = 20000;
for (const [k, make] of Object.entries(kinds)) {
  const evts = [];
  for (let i = 0; i < N; i++)
    evts.push({ time: new Date(1714564800431 + i).toISOString(), type: 'function', record: make(i) });
  const ours = () => {
    const logs = new LambdaLogs({
      functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:bench',
      service: 'bench',
      tags: 'env:bench',
    });
    logs.ingest({ time: '2024-05-01T12:00:00.430Z', type: 'platform.start', record: { requestId: RID } });
    for (let i = 0; i < evts.length; i += 1000) logs.ingest(evts.slice(i, i + 1000));
    return logs.flush({ final: true });
  };
  const objs = ours().flatMap((p) => JSON.parse(Buffer.from(p.body).toString()));
  const peer = () => {
    for (let i = 0; i < objs.length; i += 1000) JSON.stringify(objs.slice(i, i + 1000));
  };
  const ro = [],
    rp = [];
  for (let r = 0; r < 12; r++) {
    let t = performance.now();
    ours();
    ro.push(performance.now() - t);
    t = performance.now();
    peer();
    rp.push(performance.now() - t);
  }
  ro.sort((a, b) => a - b);
  rp.sort((a, b) => a - b);
  console.log(
    k,
    'ours',
    ((N / ro[6]) * 1000) | 0,
    'peer',
    ((N / rp[6]) * 1000) | 0,
    'ratio',
    (rp[6] / ro[6]).toFixed(2),
  );
}

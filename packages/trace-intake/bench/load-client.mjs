// Load generator for traces.bench.mjs: PUTs the bodies to the receiver as dd-trace does (keep-alive,
// its headers, application/msgpack), `lanes` requests in flight, for the given time.
import { Agent, request } from 'node:http';

let port;
let bufs = [];
let counts = [];
let agent;

function put(i) {
  const body = bufs[i];
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/v0.4/traces',
        method: 'PUT',
        agent,
        headers: {
          'content-type': 'application/msgpack',
          'datadog-meta-tracer-version': '5.132.0',
          'x-datadog-trace-count': String(counts[i]),
          'datadog-meta-lang': 'nodejs',
          'datadog-meta-lang-version': 'v20.20.2',
          'datadog-meta-lang-interpreter': 'v8',
          'content-length': body.length,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

process.on('message', async (m) => {
  if (m.cmd === 'setup') {
    port = m.port;
    agent = new Agent({ keepAlive: true, maxSockets: m.lanes });
    bufs = m.bodies.map((b) => Buffer.from(b, 'base64'));
    counts = m.traces;
    process.send({ ok: true });
  } else if (m.cmd === 'run') {
    let i = 0;
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    const end = start + m.ms;
    const lane = async () => {
      while (performance.now() < end) await put(i++ % bufs.length);
    };
    await Promise.all(Array.from({ length: m.lanes }, lane));
    const cpu = process.cpuUsage(cpu0);
    process.send({ requests: i, wallMs: performance.now() - start, cpuUs: cpu.user + cpu.system });
  } else if (m.cmd === 'exit') {
    agent?.destroy();
    process.exit(0);
  }
});
process.send({ ready: true });

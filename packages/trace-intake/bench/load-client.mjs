// Load generator for traces.bench.mjs: PUTs the payloads to the receiver over keep-alive
// connections, two requests in flight, for the given time; reports back how long it ran.
import { Agent, request } from 'node:http';

const [port, ms] = process.argv.slice(2).map(Number);
const agent = new Agent({ keepAlive: true, maxSockets: 2 });

function put(body) {
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
          'content-length': body.length,
          'datadog-meta-lang': 'nodejs',
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

process.once('message', async ({ bodies }) => {
  const bufs = bodies.map((b) => Buffer.from(b, 'base64'));
  let i = 0;
  const start = performance.now();
  const end = start + ms;
  const lane = async () => {
    while (performance.now() < end) await put(bufs[i++ % bufs.length]);
  };
  await Promise.all([lane(), lane()]);
  const seconds = (performance.now() - start) / 1000;
  agent.destroy();
  process.send({ seconds, requests: i }, () => process.exit(0));
});

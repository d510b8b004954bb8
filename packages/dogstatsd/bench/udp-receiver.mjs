// A receiver for the UDP benchmark, run as its own process: `bare` only counts datagrams (the
// ceiling), `ours` is the DogStatsD server + aggregator, flushing to payloads every second as
// the extension does at the end of each invocation; `ours-worker` is the same with the parser
// worker thread (`workers: 1`). Prints {"port"} when ready; answers
// "stats" on stdin with {"datagrams","lines"}.
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { Aggregator, DogStatsDServer, flushPayloads } from '@serverless-agent/dogstatsd';

const kind = process.argv[2];
const RCVBUF = 8 * 1024 * 1024;
let stats;

if (kind === 'bare') {
  let datagrams = 0;
  let bytes = 0;
  const socket = createSocket({ type: 'udp4', recvBufferSize: RCVBUF });
  socket.on('message', (msg) => {
    datagrams++;
    bytes += msg.length;
  });
  await new Promise((r) => socket.bind(0, '127.0.0.1', r));
  stats = () => ({ datagrams, bytes });
  console.log(JSON.stringify({ port: socket.address().port, rcvbuf: socket.getRecvBufferSize() }));
} else if (kind === 'ours' || kind === 'ours-worker') {
  const aggregator = new Aggregator({ globalTags: ['functionname:bench'] });
  const server = new DogStatsDServer({ aggregator, port: 0, workers: kind === 'ours-worker' ? 1 : 0 });
  const { port } = await server.listen();
  if (server.parsing !== (kind === 'ours' ? 'main' : 'worker'))
    throw new Error(`${kind} parses on ${server.parsing}`);
  let payloads = 0;
  setInterval(async () => {
    payloads += (await flushPayloads(aggregator, { all: true })).length;
  }, 1000).unref();
  stats = () => {
    const s = aggregator.stats();
    return {
      datagrams: s.datagrams,
      lines: s.lines,
      parseErrors: s.parseErrors,
      queueDropped: s.datagramsDropped,
      payloads,
    };
  };
  console.log(JSON.stringify({ port, rcvbuf: server.grantedRecvBufferSize }));
} else {
  console.error(`unknown receiver ${kind}`);
  process.exit(2);
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (line === 'stats') {
    const cpu = process.cpuUsage();
    console.log(JSON.stringify({ ...stats(), cpuUs: cpu.user + cpu.system }));
  }
  if (line === 'exit') process.exit(0);
});
rl.on('close', () => process.exit(0));

// The receiver under test, alone in its process: the orchestrator (traces.bench.mjs) starts and
// stops each measured window, and this process reports the CPU time it spent in it (all its
// threads: the event loop, GC helpers, libuv), so the figure does not depend on how the cores
// were shared with the load generator.
import { readdirSync, readFileSync } from 'node:fs';
import { createTraceReceiver } from '@serverless-agent/trace-intake';
import { benchAgent } from './agent-setup.mjs';

const [platform] = process.argv.slice(2);
// the extension flushes on its strategy; at these rates that is periodic, here every ~1000 spans
const FLUSH_SPANS = 1000;

const agent = benchAgent(platform);
let flushedBytes = 0;
let flushes = 0;
const flush = () => {
  for (const p of agent.flush()) {
    flushedBytes += p.body.length;
    flushes++;
  }
};
const receiver = createTraceReceiver(agent, {
  host: '127.0.0.1',
  port: 0,
  maxTraceBodyBytes: 50 * 1024 * 1024,
  maxOtherBodyBytes: 2 * 1024 * 1024,
  onTraces: () => {
    if (agent.buffered.spans >= FLUSH_SPANS) flush();
  },
});
const { port } = await receiver.listen();

/** CPU ticks of the main thread and of all the others (Linux; zeros elsewhere). */
function threadTicks() {
  let main = 0;
  let others = 0;
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const f = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1');
      const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
      if (Number(tid) === process.pid) main += ticks;
      else others += ticks;
    }
  } catch {}
  return { main, others };
}

let mark;
const snapshot = () => ({
  wall: performance.now(),
  cpu: process.cpuUsage(),
  spans: agent.processor.counters.spansReceived,
  requests: agent.counters.requests,
  flushedBytes,
  flushes,
  threads: threadTicks(),
});

process.on('message', async (m) => {
  if (m.cmd === 'begin') {
    mark = snapshot();
    process.send({ ok: true });
  } else if (m.cmd === 'end') {
    flush(); // what is still buffered is encoded inside the window too
    const now = snapshot();
    process.send({
      wallMs: now.wall - mark.wall,
      cpuUs: now.cpu.user - mark.cpu.user + now.cpu.system - mark.cpu.system,
      userUs: now.cpu.user - mark.cpu.user,
      spans: now.spans - mark.spans,
      requests: now.requests - mark.requests,
      flushedBytes: now.flushedBytes - mark.flushedBytes,
      flushes: now.flushes - mark.flushes,
      mainThreadShare:
        (now.threads.main - mark.threads.main) /
        Math.max(1, now.threads.main - mark.threads.main + now.threads.others - mark.threads.others),
      decodeErrors: agent.counters.decodeErrors,
      dropped: agent.counters.spansBufferDropped,
    });
  } else if (m.cmd === 'exit') {
    await receiver.close();
    process.exit(0);
  }
});
process.send({ port });

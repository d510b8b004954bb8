// The first invocation of the dd function with the layer, step by step: the extension's stamps
// (SERVERLESS_AGENT_TIMELINE) beside the sandbox's and the intake's, relative to the INVOKE and to
// the runtime's response, then the medians of the post-runtime path's parts over RUNS runs.
// `unshare -n sh -c 'ip link set lo up && RUNS=10 node bench/first-flush-timeline.mjs'` (fixed
// ports, as the startup bench's dd rows). Not a `.bench.mjs`: a measuring aid, without a peer.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LambdaSandbox, startIntake } from '@serverless-agent/testkit';
import { median } from '../../../bench/stats.mjs';

const RUNS = Number(process.env.RUNS ?? 8);
const work = mkdtempSync(join(tmpdir(), 'first-flush-timeline-'));
const intake = await startIntake();
const now = () => performance.timeOrigin + performance.now();
const spans = {};
try {
  execFileSync(process.execPath, ['scripts/build-layer.mjs', '--out', work, '--quiet']);
  execFileSync('unzip', ['-q', join(work, 'layer.zip'), '-d', join(work, 'opt')]);
  for (let run = 0; run < RUNS; run++) {
    const file = join(work, `tl-${run}.txt`);
    writeFileSync(file, '');
    const sandbox = new LambdaSandbox({
      taskRoot: join(process.cwd(), 'test/fixtures/dd-function'),
      handler: 'index.handler',
      extensionsDir: join(work, 'opt/extensions'),
      optDir: join(work, 'opt'),
      memorySizeMB: 1024,
      env: {
        ...intake.agentEnv(),
        DD_LOG_LEVEL: 'error',
        DD_TRACE_STARTUP_LOGS: 'false',
        DD_TRACE_TELEMETRY_ENABLED: 'false',
        SERVERLESS_AGENT_TIMELINE: file,
      },
    });
    intake.clear();
    const reqs = [];
    const stop = intake.onRequest((r) => reqs.push(r));
    try {
      await sandbox.start();
      const t0 = now();
      const r = await sandbox.invoke({ n: 0, workMs: 1 });
      const lines = readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => {
          const i = l.indexOf(' ');
          return [Number(l.slice(0, i)), `ext ${l.slice(i + 1)}`];
        })
        .filter(([t]) => t >= t0 - 5);
      lines.push([t0 + r.record.runtimeDurationMs, 'SANDBOX runtime responded']);
      lines.push([t0 + r.record.durationMs, 'SANDBOX invoke end (REPORT)']);
      for (const q of reqs) {
        if (q.receivedAt < t0 - 5) continue;
        lines.push([q.receivedAt, `intake received ${q.path}`]);
        if (q.answeredAt) lines.push([q.answeredAt, `intake answered ${q.path}`]);
      }
      lines.sort((a, b) => a[0] - b[0]);
      console.log(
        `\nrun ${run}: runtime ${r.record.runtimeDurationMs.toFixed(1)} REPORT ${r.record.durationMs.toFixed(1)}`,
      );
      const responded = t0 + r.record.runtimeDurationMs;
      for (const [t, what] of lines)
        console.log(
          `  ${(t - t0).toFixed(1).padStart(7)}  ${(t - responded).toFixed(1).padStart(7)}  ${what}`,
        );
      const first = (re) => lines.find(([, w]) => re.test(w))?.[0];
      const last = (re) => lines.findLast(([, w]) => re.test(w))?.[0];
      const add = (k, v) => {
        if (v === undefined || Number.isNaN(v)) return;
        spans[k] ??= [];
        spans[k].push(v);
      };
      add('post-runtime', r.record.durationMs - r.record.runtimeDurationMs);
      add('response→runtimeDone', first(/ext runtimeDone/) - responded);
      add('runtimeDone→flush-start', first(/flush-start/) - first(/ext runtimeDone/));
      add('response→sent ahead', last(/ext ahead/) === undefined ? undefined : first(/ext sent/) - responded);
      add('flush-start→last handed', last(/ext handed/) - first(/flush-start/));
      add('last handed→flush-end', first(/flush-end/) - last(/ext handed/));
      add('flush-end→REPORT', t0 + r.record.durationMs - first(/flush-end/));
    } finally {
      stop();
      await sandbox.shutdown();
    }
  }
  console.log('\nmedians (ms):');
  for (const [k, v] of Object.entries(spans))
    console.log(
      `  ${k.padEnd(28)} ${median(v).toFixed(2)}  (${Math.min(...v).toFixed(1)} … ${Math.max(...v).toFixed(1)})`,
    );
} finally {
  await intake.stop();
  rmSync(work, { recursive: true, force: true });
}

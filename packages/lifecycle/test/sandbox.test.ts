// The extension built from this package's dist, run by the testkit's LambdaSandbox (freeze on):
// what it measures is checked against the sandbox's own records and against /proc.
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LambdaSandbox, type LambdaSandboxOptions, type TelemetryEvent } from '@serverless-agent/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { architectureOf, estimatedCostUsd, parseCpu, parseLimits, parseNetDev } from '../src/index.js';

const EXAMPLE = fileURLToPath(new URL('../examples/extension.cjs', import.meta.url));
const BUILT = existsSync(fileURLToPath(new URL('../dist/index.js', import.meta.url)));

const FUNCTION = `
import { readFileSync, writeFileSync } from 'node:fs';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const handler = async (event) => {
  if (event.busyMs) {
    // Real work inside the invocation, measured from inside: a window that lies within the one
    // the extension measures (it started at INVOKE, well before this head start ends).
    await sleep(100);
    const net0 = readFileSync('/proc/net/dev', 'utf8');
    const c0 = process.cpuUsage();
    // Busy until this process has used busyMs of cpu (a loaded machine gives it less than wall time).
    const cap = Date.now() + 3000;
    let x = 0;
    let c = process.cpuUsage(c0);
    while ((c.user + c.system) / 1000 < event.busyMs && Date.now() < cap) {
      for (let i = 0; i < 10000; i++) x += Math.sqrt(x + i);
      c = process.cpuUsage(c0);
    }
    if (event.sleepMs) await sleep(event.sleepMs);
    return { ownCpuMs: (c.user + c.system) / 1000, net0, net1: readFileSync('/proc/net/dev', 'utf8'), x };
  }
  if (event.sleepMs) await sleep(event.sleepMs);
  if (event.exit) process.exit(event.exit);
  if (event.alloc) {
    const keep = [];
    for (;;) {
      keep.push(Buffer.alloc(16 * 1024 * 1024, 1));
      await sleep(5);
    }
  }
  if (event.throw) throw new Error('boom');
  return { ok: true };
};
`;

interface Sample {
  name: string;
  value: number;
  tags: string[];
  timestamp: number;
}
type Event = { type: string; [k: string]: unknown };

class Harness {
  readonly dir = mkdtempSync(join(tmpdir(), 'lifecycle-sandbox-'));
  readonly samples: Sample[] = [];
  readonly events: Event[] = [];
  readonly stderr: string[] = [];
  readonly telemetry: TelemetryEvent[] = [];
  sandbox!: LambdaSandbox;

  constructor(
    options: Partial<LambdaSandboxOptions> = {},
    functionSource = FUNCTION,
    env: Record<string, string> = {},
  ) {
    const ext = join(this.dir, 'extensions');
    const task = join(this.dir, 'task');
    for (const d of [ext, task]) mkdirSync(d);
    // The name Lambda knows it by is the file name.
    const entry = join(ext, 'datadog-agent');
    writeFileSync(entry, `#!/bin/sh\nexec "${process.execPath}" "${EXAMPLE}"\n`);
    chmodSync(entry, 0o755);
    writeFileSync(join(task, 'index.mjs'), functionSource);
    this.sandbox = new LambdaSandbox({
      taskRoot: task,
      handler: 'index.handler',
      extensionsDir: ext,
      memorySizeMB: 256,
      timeoutMs: 3000,
      ...options,
      env: { SERVERLESS_AGENT_TELEMETRY_PORT: '0', SERVERLESS_AGENT_HOOKS_PORT: '0', ...env, ...options.env },
      onLog: (l) => {
        if (l.source !== 'extension') return;
        if (l.stream === 'stderr') {
          this.stderr.push(l.line);
          return;
        }
        if (!l.line.startsWith('{')) return;
        const o = JSON.parse(l.line);
        if (o.sample) this.samples.push(o.sample);
        if (o.event) this.events.push(o.event);
      },
    });
    this.sandbox.on('telemetry', (e: TelemetryEvent) => this.telemetry.push(e));
  }

  named(metric: string): Sample[] {
    return this.samples.filter((s) => s.name === `aws.lambda.enhanced.${metric}`);
  }

  values(metric: string): number[] {
    return this.named(metric).map((s) => s.value);
  }

  ofType(type: string): Event[] {
    return this.events.filter((e) => e.type === type);
  }

  async waitFor(pred: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    const t0 = Date.now();
    while (!pred()) {
      if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  tele<T extends TelemetryEvent['type']>(
    type: T,
    requestId?: string,
  ): Extract<TelemetryEvent, { type: T }>[] {
    return this.telemetry.filter(
      (e) =>
        e.type === type &&
        (requestId === undefined || (e.record as { requestId?: string }).requestId === requestId),
    ) as Extract<TelemetryEvent, { type: T }>[];
  }

  async close(): Promise<void> {
    await this.sandbox.shutdown().catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const harnesses: Harness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.close();
});
function harness(...args: ConstructorParameters<typeof Harness>): Harness {
  const h = new Harness(...args);
  harnesses.push(h);
  return h;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

const cpuNow = () => parseCpu(readFileSync('/proc/stat', 'utf8'), readFileSync('/proc/uptime', 'utf8'))!;
const netNow = () => parseNetDev(readFileSync('/proc/net/dev', 'utf8'));

describe.runIf(BUILT)('in the LambdaSandbox', () => {
  it('cold and warm starts: durations, billing, memory and cost match the sandbox records; /proc matches /proc', async () => {
    const h = harness();
    const init = await h.sandbox.start();
    expect(init.status).toBe('success');
    expect(init.extensions[0]).toMatchObject({ name: 'datadog-agent', events: ['INVOKE', 'SHUTDOWN'] });
    await h.sandbox.waitForFreeze();
    const extPid = init.extensions[0]!.pid;
    const cpu0 = cpuNow();
    const net0 = netNow();
    const r1 = await h.sandbox.invoke({ sleepMs: 30, busyMs: 80 });
    await h.sandbox.waitForFreeze();
    // Read while the extension is frozen: what it can have seen of itself at most.
    const extFds = readdirSync(`/proc/${extPid}/fd`).length;
    const extThreads = readdirSync(`/proc/${extPid}/task`).length;
    const extFdLimit = parseLimits(readFileSync(`/proc/${extPid}/limits`, 'utf8')).fd!;
    // Both last longer than /proc/uptime's 10 ms resolution, so utilisation has a window.
    const r2 = await h.sandbox.invoke({ sleepMs: 30, busyMs: 80 });
    expect([r1.record.coldStart, r2.record.coldStart]).toEqual([true, false]);
    await h.sandbox.shutdown(); // thaws: r2's report reaches the extension only now
    const cpu1 = cpuNow();
    const net1 = netNow();
    await h.waitFor(() => h.ofType('shutdown').length === 1, 'shutdown');

    expect(h.ofType('invocationStart').map((e) => [e['requestId'], e['coldStart']])).toEqual([
      [r1.requestId, true],
      [r2.requestId, false],
    ]);
    expect(h.named('invocations').map((s) => s.tags)).toEqual([['cold_start:true'], ['cold_start:false']]);
    const initReport = h.tele('platform.initReport')[0]!;
    expect(h.values('init_duration')).toEqual([initReport.record.metrics.durationMs * 0.001]);
    // Tagged as the first invocation when the init telemetry comes after its INVOKE, untagged before.
    expect(h.named('init_duration')[0]!.tags.filter((t) => t !== 'cold_start:true')).toEqual([
      'init_type:on-demand',
    ]);
    expect(h.values('shutdowns')).toEqual([1]);
    expect(h.named('shutdowns')[0]!.tags).toEqual(['cold_start:false']);

    // Per invocation, in order, against the sandbox's records and its own telemetry.
    const arch = architectureOf(process.arch);
    const rs = [r1, r2];
    expect(h.values('runtime_duration')).toEqual(rs.map((r) => r.record.runtimeDurationMs));
    expect(h.values('duration')).toEqual(rs.map((r) => r.report.metrics.durationMs * 0.001));
    expect(h.values('billed_duration')).toEqual(rs.map((r) => r.report.metrics.billedDurationMs! * 0.001));
    expect(h.values('max_memory_used')).toEqual(rs.map((r) => r.record.maxMemoryUsedMB));
    expect(h.values('memorysize')).toEqual([256, 256]);
    expect(h.values('estimated_cost')).toEqual(
      rs.map((r) => estimatedCostUsd(r.report.metrics.billedDurationMs!, 256, arch)),
    );
    const post = h.values('post_runtime_duration');
    for (const [i, r] of rs.entries()) expect(post[i]!).toBeCloseTo(r.record.postRuntimeDurationMs, 1);
    expect(h.values('errors')).toEqual([]);
    expect(h.values('shutdowns')).toEqual([1]);
    const r2Report = h.ofType('report').find((e) => e['requestId'] === r2.requestId);
    expect(r2Report).toMatchObject({ metrics: r2.report.metrics });

    // /proc: what the test reads itself brackets what the extension reported.
    const cores = readFileSync('/proc/stat', 'utf8')
      .split('\n')
      .filter((l) => /^cpu\d+ /.test(l)).length;
    expect(h.values('num_cores')).toEqual([cores, cores]);
    const st = statfsSync('/tmp/');
    expect(h.values('tmp_max')).toEqual([st.bsize * st.blocks, st.bsize * st.blocks]);
    for (const v of h.values('tmp_used')) expect(v).toBeGreaterThan(0);
    for (const v of h.values('fd_use')) expect(v).toBeGreaterThanOrEqual(extFds - 2);
    for (const v of h.values('threads_use')) expect(v).toBeGreaterThanOrEqual(extThreads);
    for (const v of h.values('fd_max')) expect(v).toBeLessThanOrEqual(extFdLimit);
    const cpuWindowMs = cpu1.userMs + cpu1.systemMs - (cpu0.userMs + cpu0.systemMs);
    const cpuTotal = h.values('cpu_total_time');
    expect(cpuTotal).toHaveLength(2);
    for (const [i, v] of cpuTotal.entries()) {
      expect(v).toBeLessThanOrEqual(cpuWindowMs);
      // The handler used 80 ms of cpu inside the window: system-wide cpu time, counted in 10 ms
      // ticks, grew by at least that much less two ticks.
      const own = (rs[i]!.response as { ownCpuMs: number }).ownCpuMs;
      expect(own).toBeGreaterThanOrEqual(80);
      expect(v).toBeGreaterThanOrEqual(own - 20);
    }
    expect(h.values('cpu_user_time').map((u, i) => u + h.values('cpu_system_time')[i]!)).toEqual(cpuTotal);
    const rx = h.values('rx_bytes');
    const tx = h.values('tx_bytes');
    expect(rx).toHaveLength(2);
    for (const [i, v] of rx.entries()) {
      expect(v).toBeLessThanOrEqual(net1.rxBytes - net0.rxBytes);
      expect(tx[i]!).toBeLessThanOrEqual(net1.txBytes - net0.txBytes);
      // At least what the handler saw go by inside its own, inner window (tests send nothing off
      // loopback, which is not counted: this is the machine's own traffic, possibly none).
      const { net0: in0, net1: in1 } = rs[i]!.response as { net0: string; net1: string };
      expect(v).toBeGreaterThanOrEqual(parseNetDev(in1).rxBytes - parseNetDev(in0).rxBytes);
      expect(tx[i]!).toBeGreaterThanOrEqual(parseNetDev(in1).txBytes - parseNetDev(in0).txBytes);
    }
    expect(h.values('total_network')).toEqual(rx.map((v, i) => v + tx[i]!));
    for (const v of h.values('cpu_total_utilization_pct')) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(100);
    }
  }, 60_000);

  it('reports a failed init and the suppressed init inside the first invoke', async () => {
    const flag = join(tmpdir(), `lifecycle-init-flag-${process.pid}-${Date.now()}`);
    const source = `
import { existsSync, writeFileSync } from 'node:fs';
if (!existsSync(${JSON.stringify(flag)})) { writeFileSync(${JSON.stringify(flag)}, ''); throw new Error('first init fails'); }
export const handler = async () => ({ ok: true });
`;
    const h = harness({}, source);
    try {
      const init = await h.sandbox.start();
      expect(init.status).toBe('error');
      const r = await h.sandbox.invoke({});
      expect(r.status).toBe('success');
      await h.sandbox.shutdown(); // thaws: the report made before the freeze arrives now
      // The failed environment's extension is shut down; a fresh one runs the retried init and
      // gets the earlier init events replayed.
      await h.waitFor(() => h.ofType('shutdown').length === 2, 'both shutdowns');
      expect(h.ofType('report').map((e) => e['requestId'])).toEqual([r.requestId]);
      const reports = h.ofType('initReport').map((e) => [e['status'], e['phase'], e['suppressed']]);
      expect(reports).toEqual(
        expect.arrayContaining([
          ['error', 'init', false],
          ['success', 'invoke', true],
        ]),
      );
      expect(h.ofType('initStart').some((e) => e['suppressed'] === true)).toBe(true);
      expect(h.stderr.some((l) => l.includes('suppressed init'))).toBe(true);
      expect(h.stderr.some((l) => l.includes('function init ended with status error'))).toBe(true);
      // One init_duration per initReport an extension received, the suppressed init's included,
      // each with the duration of the sandbox's own record.
      const delivered = h.ofType('initReport').map((e) => Number(e['durationMs']) * 0.001);
      expect([...h.values('init_duration')].sort()).toEqual([...delivered].sort());
      const suppressed = h.tele('platform.initReport').find((e) => e.record.phase === 'invoke')!;
      expect(h.values('init_duration')).toContain(suppressed.record.metrics.durationMs * 0.001);
      const failed = h.tele('platform.initReport').find((e) => e.record.phase === 'init')!;
      expect(h.values('init_duration')).toContain(failed.record.metrics.durationMs * 0.001);
      expect(h.named('invocations').map((s) => s.tags)).toEqual([['cold_start:true']]);
    } finally {
      rmSync(flag, { force: true });
    }
  }, 60_000);

  it('a timeout, the SHUTDOWN that follows it, and a fresh cold start after the reset', async () => {
    const h = harness({ timeoutMs: 400 });
    await h.sandbox.start();
    const r1 = await h.sandbox.invoke({ sleepMs: 3000 });
    expect(r1.status).toBe('timeout');
    await h.waitFor(() => h.ofType('shutdown').length === 1, 'shutdown after the timeout');
    expect(h.ofType('shutdown')[0]).toMatchObject({ reason: 'timeout' });
    expect(h.values('timeouts')).toEqual([1]);
    expect(h.values('errors')).toEqual([1]);
    expect(h.ofType('runtimeDone')[0]).toMatchObject({ requestId: r1.requestId, timedOut: true });
    const r2 = await h.sandbox.invoke({});
    expect(r2.status).toBe('success');
    await h.waitFor(() => h.ofType('invocationStart').length === 2, 'second environment');
    expect(h.ofType('invocationStart').map((e) => e['coldStart'])).toEqual([true, true]);
  }, 60_000);

  it('out of memory at the sandbox memory limit, counted once', async () => {
    const h = harness({ memorySizeMB: 128 });
    await h.sandbox.start();
    const r = await h.sandbox.invoke({ alloc: true });
    expect(r).toMatchObject({ status: 'error', errorType: 'Runtime.OutOfMemory' });
    await h.waitFor(() => h.ofType('shutdown').length === 1, 'shutdown after the OOM');
    expect(h.values('out_of_memory')).toEqual([1]);
    expect(h.values('max_memory_used')).toEqual([r.record.maxMemoryUsedMB]);
    expect(h.values('errors')).toEqual([1]);
    expect(h.ofType('outOfMemory').map((e) => e['requestId'])).toEqual([r.requestId]);
  }, 60_000);

  it('a runtime crash: SHUTDOWN(failure) mid-invocation, one error', async () => {
    const h = harness();
    await h.sandbox.start();
    const r = await h.sandbox.invoke({ exit: 3 });
    expect(r.status).toBe('failure');
    await h.waitFor(() => h.ofType('shutdown').length === 1, 'shutdown after the crash');
    expect(h.ofType('shutdown')[0]).toMatchObject({ reason: 'failure' });
    expect(h.values('errors')).toEqual([1]);
    expect(h.values('timeouts')).toEqual([]);
  }, 60_000);

  it('managed instances: SHUTDOWN only, invocations from platform.start, no cold start', async () => {
    const h = harness({ initializationType: 'lambda-managed-instances' });
    const init = await h.sandbox.start();
    expect(init.extensions[0]!.events).toEqual(['SHUTDOWN']);
    const r = await h.sandbox.invoke({});
    await h.waitFor(() => h.ofType('report').length === 1, 'report');
    expect(h.ofType('invocationStart')).toMatchObject([{ requestId: r.requestId, coldStart: false }]);
    expect(h.named('invocations').map((s) => s.tags)).toEqual([[]]);
    expect(h.values('duration')).toEqual([r.report.metrics.durationMs * 0.001]);
    expect(h.values('billed_duration')).toEqual([]);
    // The /proc metrics: network and cpu per invocation at its report, usage at SHUTDOWN.
    for (const m of ['rx_bytes', 'tx_bytes', 'total_network', 'cpu_user_time', 'cpu_total_time']) {
      expect(h.values(m), m).toHaveLength(1);
    }
    expect(h.values('fd_use')).toEqual([]);
    await h.sandbox.shutdown();
    await h.waitFor(() => h.ofType('shutdown').length === 1, 'shutdown');
    expect(h.values('fd_use')).toHaveLength(1);
    expect(h.values('fd_use')[0]).toBeGreaterThan(0);
    expect(h.values('threads_use')[0]).toBeGreaterThan(0);
    expect(h.values('tmp_max')).toHaveLength(1);
  }, 60_000);

  it('SnapStart: a restore, its duration, and the restored first invocation', async () => {
    const h = harness({ snapStart: true });
    await h.sandbox.start();
    const r = await h.sandbox.invoke({});
    expect(r.status).toBe('success');
    await h.sandbox.shutdown();
    await h.waitFor(() => h.ofType('shutdown').length >= 1, 'shutdown');
    const restore = h.tele('platform.restoreReport')[0]!;
    expect(h.values('snapstart_restore_duration')).toEqual([restore.record.metrics!.durationMs * 0.001]);
    expect(h.ofType('restoreReport')).toHaveLength(1);
    expect(h.ofType('invocationStart').at(-1)).toMatchObject({
      requestId: r.requestId,
      snapStartRestore: true,
    });
  }, 60_000);

  it('universal instrumentation: the function calls the hooks; the error counts once', async () => {
    const port = await freePort();
    const source = `
import { request } from 'node:http';
const call = (path, body, headers) => new Promise((resolve, reject) => {
  const req = request({ host: '127.0.0.1', port: Number(process.env.SERVERLESS_AGENT_HOOKS_PORT), path, method: 'POST',
    headers: { 'content-type': 'application/json', ...headers } }, (res) => {
    let text = ''; res.on('data', (c) => (text += c)); res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
  });
  req.on('error', reject); req.end(body);
});
export const handler = async (event, context) => {
  const id = { 'lambda-runtime-aws-request-id': context.awsRequestId };
  const start = await call('/lambda/start-invocation', JSON.stringify(event), id);
  await call('/lambda/end-invocation', JSON.stringify({ statusCode: 500 }), {
    ...id, 'x-datadog-invocation-error': 'true', 'x-datadog-invocation-error-msg': Buffer.from('it broke').toString('base64'),
  });
  if (start.status !== 200 || start.body !== '{}') throw new Error('bad start answer');
  throw new Error('it broke');
};
`;
    const h = harness({}, source, { SERVERLESS_AGENT_HOOKS_PORT: String(port) });
    await h.sandbox.start();
    const r = await h.sandbox.invoke({ headers: { 'x-datadog-trace-id': '123' } });
    expect(r.status).toBe('error');
    await h.sandbox.shutdown();
    await h.waitFor(() => h.ofType('shutdown').length === 1, 'shutdown');
    expect(h.ofType('universalStart')).toMatchObject([
      { requestId: r.requestId, event: { headers: { 'x-datadog-trace-id': '123' } } },
    ]);
    expect(h.ofType('universalEnd')).toMatchObject([
      { requestId: r.requestId, statusCode: 500, error: { message: 'it broke' } },
    ]);
    expect(h.values('errors')).toEqual([1]);
  }, 60_000);

  it('with DD_ENHANCED_METRICS=false: events, and not one sample', async () => {
    const h = harness({}, FUNCTION, { DD_ENHANCED_METRICS: 'false' });
    await h.sandbox.start();
    await h.sandbox.invoke({});
    await h.sandbox.shutdown();
    await h.waitFor(() => h.ofType('shutdown').length === 1, 'shutdown');
    expect(h.ofType('invocationStart')).toHaveLength(1);
    expect(h.samples).toEqual([]);
  }, 60_000);
});

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { fromEnv, Lifecycle, type LifecycleDeps, type LifecycleOptions } from '../src/index.js';
import { FakeLambdaApi, post, until } from './helpers/lambda-api.js';
import { setupLifecycle } from './helpers/setup.js';

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

const iso = (ms: number) => new Date(ms).toISOString();

const setup = (opts: Partial<LifecycleOptions> = {}, deps: Partial<LifecycleDeps> = {}) =>
  setupLifecycle(closers, opts, deps);

const noInitError = (api: FakeLambdaApi) =>
  expect(api.requests.filter((r) => r.url.includes('/init/error') || r.url.includes('/exit/error'))).toEqual(
    [],
  );

describe('Lifecycle', () => {
  it('registers, listens, subscribes, then loops on next until SHUTDOWN', async () => {
    const t = await setup();
    const started = await t.lc.start();
    expect(started).toMatchObject({
      state: 'ready',
      telemetry: 'subscribed',
      registration: { accountId: '123456789012' },
    });
    const urls = t.api.requests.map((r) => r.url);
    expect(urls).toEqual(['/2020-01-01/extension/register', '/2022-07-01/telemetry']);
    expect(t.api.subscription?.destination.URI).toBe(`http://sandbox:${started.telemetryPort}/`);

    let handled = 0;
    const running = t.lc.run({
      onInvoke: async (e) => {
        // The app's end-of-invocation work: wait for the runtime, as the End flush strategy does.
        await t.lc.processor.waitForRuntimeDone(e.requestId, 5000);
        handled++;
      },
    });
    await t.api.waitNextCalls(1);
    const now = Date.now();
    t.api.push({
      eventType: 'INVOKE',
      requestId: 'r1',
      deadlineMs: now + 3000,
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:1:function:f',
    });
    await until(() => t.events.some((e) => e.type === 'invocationStart'));
    expect(t.api.nextCalls()).toBe(1); // next is not called again before the runtime is done
    await t.api.deliver([
      {
        time: iso(now - 500),
        type: 'platform.initStart',
        record: { initializationType: 'on-demand', phase: 'init' },
      },
      { time: iso(now), type: 'platform.start', record: { requestId: 'r1' } },
      {
        time: iso(now + 50),
        type: 'platform.runtimeDone',
        record: { requestId: 'r1', status: 'success', metrics: { durationMs: 50 } },
      },
    ]);
    await t.api.waitNextCalls(2);
    expect(handled).toBe(1);
    await t.api.deliver([
      {
        time: iso(now + 60),
        type: 'platform.report',
        record: {
          requestId: 'r1',
          status: 'success',
          metrics: { durationMs: 60, billedDurationMs: 60, memorySizeMB: 128, maxMemoryUsedMB: 40 },
        },
      },
    ]);
    await until(() => t.events.some((e) => e.type === 'report'));
    t.api.pushShutdown();
    expect(await running).toMatchObject({ eventType: 'SHUTDOWN', shutdownReason: 'spindown' });
    expect(t.lc.state).toBe('shutdown');
    const names = t.samples.map((s) => s.name.replace('aws.lambda.enhanced.', ''));
    expect(names).toEqual(
      expect.arrayContaining([
        'invocations',
        'runtime_duration',
        'duration',
        'billed_duration',
        'post_runtime_duration',
        'shutdowns',
      ]),
    );
    expect(t.events.at(-1)).toMatchObject({ type: 'shutdown', reason: 'spindown', inFlight: [] });
    noInitError(t.api);
  });

  it('treats a failing event/next as SHUTDOWN(panic) at once: final flush, no retries', async () => {
    const t = await setup();
    await t.lc.start();
    t.api.failNext = 5;
    let flushed = 0;
    const shutdown = await t.lc.run({
      onShutdown: () => {
        flushed++;
      },
    });
    expect(shutdown).toMatchObject({ eventType: 'SHUTDOWN', shutdownReason: 'panic' });
    expect(t.api.nextCalls()).toBe(1);
    expect(flushed).toBe(1);
    expect(t.lc.state).toBe('shutdown');
    expect(t.events.at(-1)).toMatchObject({ type: 'shutdown', reason: 'panic' });
    expect(t.samples.map((s) => s.name)).toContain('aws.lambda.enhanced.shutdowns');
    expect(t.logs.some((l) => l.startsWith('error') && l.includes('event/next'))).toBe(true);
    noInitError(t.api);
  });

  it('in managed-instances mode retries a failing event/next, as the real extension', async () => {
    const t = await setup({ managedInstances: true });
    await t.lc.start();
    t.api.failNext = 2;
    const running = t.lc.run();
    await t.api.waitNextCalls(3);
    t.api.pushShutdown();
    expect(await running).toMatchObject({ shutdownReason: 'spindown' });
  });

  it('subscribes to platform events alone when logs are off', async () => {
    const t = await setup({ logsEnabled: false });
    await t.lc.start();
    expect(t.api.subscription?.types).toEqual(['platform']);
  });

  it('falls back to a plain next loop when a listener cannot bind, never calling init/error', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    closers.push(() => new Promise<void>((r) => blocker.close(() => r())));
    const port = (blocker.address() as { port: number }).port;
    const t = await setup({ hooksPort: port });
    const started = await t.lc.start();
    expect(started.state).toBe('idle');
    const running = t.lc.run();
    await t.api.waitNextCalls(1);
    t.api.pushInvoke('r1');
    await t.api.waitNextCalls(2);
    t.api.pushInvoke('r2');
    await t.api.waitNextCalls(3);
    t.api.pushShutdown();
    await running;
    expect(t.logs.filter((l) => l.includes('falling back'))).toHaveLength(1);
    expect(t.events.filter((e) => e.type === 'invocationStart')).toEqual([]);
    noInitError(t.api);
  });

  it('falls back to idle when invocation handling throws, and says why once', async () => {
    const t = await setup();
    await t.lc.start();
    const running = t.lc.run({
      onInvoke: () => {
        throw new Error('flush exploded');
      },
    });
    for (let i = 1; i <= 3; i++) {
      await t.api.waitNextCalls(i);
      t.api.pushInvoke(`r${i}`);
    }
    await t.api.waitNextCalls(4);
    t.api.pushShutdown();
    await running;
    expect(t.logs.filter((l) => l.includes('falling back') && l.includes('flush exploded'))).toHaveLength(1);
    expect(t.lc.state).toBe('shutdown');
    noInitError(t.api);
  });

  it('without telemetry, counts the cold-start invocation at INVOKE instead of holding it', async () => {
    const t = await setup();
    t.api.options.telemetryStatus = 202;
    t.api.options.telemetryBody =
      '{"errorMessage":"Telemetry API is not supported","errorType":"Telemetry.NotSupported"}';
    expect((await t.lc.start()).telemetry).toBe('not-supported');
    const running = t.lc.run();
    await t.api.waitNextCalls(1);
    t.api.pushInvoke('r1');
    await t.api.waitNextCalls(2);
    expect(t.samples.filter((s) => s.name === 'aws.lambda.enhanced.invocations').map((s) => s.tags)).toEqual([
      ['cold_start:true'],
    ]);
    t.api.pushShutdown();
    await running;
  });

  it('stays out of the way when registration is refused', async () => {
    const api = new FakeLambdaApi({ registerStatus: 403 });
    closers.push(() => api.close());
    const runtimeApi = await api.start();
    const lc = new Lifecycle({ ...fromEnv({}), runtimeApi, telemetryPort: 0, hooksPort: 0 });
    expect((await lc.start()).state).toBe('unregistered');
    expect(api.requests.map((r) => r.url)).toEqual(['/2020-01-01/extension/register']); // a 4xx is not retried
  });

  it('on SHUTDOWN mid-invocation waits briefly for the runtimeDone, then counts the timeout', async () => {
    const t = await setup();
    await t.lc.start();
    const running = t.lc.run();
    await t.api.waitNextCalls(1);
    const now = Date.now();
    t.api.push({ eventType: 'INVOKE', requestId: 'r1', deadlineMs: now + 1000, invokedFunctionArn: 'arn' });
    await t.api.waitNextCalls(2);
    t.api.push({ eventType: 'SHUTDOWN', shutdownReason: 'timeout', deadlineMs: now + 2000 });
    await running;
    expect(t.samples.filter((s) => s.name === 'aws.lambda.enhanced.timeouts')).toHaveLength(1);
    expect(t.events.at(-1)).toMatchObject({ type: 'shutdown', reason: 'timeout', inFlight: ['r1'] });
  });

  it('serves the hooks while running and flushes through the callback', async () => {
    let flushes = 0;
    const t = await setup({}, { onFlush: () => void flushes++ });
    const started = await t.lc.start();
    const res = await post(started.hooksPort!, '/lambda/flush', '{}');
    expect(res).toMatchObject({ status: 200, body: '{}' });
    expect(flushes).toBe(1);
  });
});

describe('the example extension, as a child process built from dist', () => {
  const example = fileURLToPath(new URL('../examples/extension.cjs', import.meta.url));
  const built = existsSync(fileURLToPath(new URL('../dist/index.js', import.meta.url)));

  it.runIf(built)('registers first, runs invocations from telemetry, and exits 0 on SHUTDOWN', async () => {
    const api = new FakeLambdaApi();
    closers.push(() => api.close());
    const runtimeApi = await api.start();
    const child: ChildProcess = spawn(process.execPath, [example], {
      env: {
        PATH: process.env['PATH'] ?? '',
        AWS_LAMBDA_RUNTIME_API: runtimeApi,
        SERVERLESS_AGENT_TELEMETRY_PORT: '0',
        SERVERLESS_AGENT_HOOKS_PORT: '0',
        DD_LAMBDA_PROC_ENHANCED_METRICS: 'false',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    closers.push(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    const lines: Array<Record<string, unknown>> = [];
    let buf = '';
    child.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      let i = buf.indexOf('\n');
      while (i >= 0) {
        lines.push(JSON.parse(buf.slice(0, i)));
        buf = buf.slice(i + 1);
        i = buf.indexOf('\n');
      }
    });
    await api.waitNextCalls(1);
    expect(api.requests[0]!.url).toBe('/2020-01-01/extension/register');
    const now = Date.now();
    api.push({ eventType: 'INVOKE', requestId: 'c1', deadlineMs: now + 3000, invokedFunctionArn: 'arn' });
    await api.waitNextCalls(2);
    // The child bound 0.0.0.0; Lambda would reach it at the sandbox address, the test uses loopback.
    await api.deliver([
      { time: iso(now), type: 'platform.start', record: { requestId: 'c1' } },
      {
        time: iso(now + 20),
        type: 'platform.runtimeDone',
        record: { requestId: 'c1', status: 'error', errorType: 'Error', metrics: { durationMs: 20 } },
      },
      {
        time: iso(now + 25),
        type: 'platform.report',
        record: {
          requestId: 'c1',
          status: 'error',
          metrics: { durationMs: 25, billedDurationMs: 25, memorySizeMB: 256, maxMemoryUsedMB: 60 },
        },
      },
    ]);
    await until(() => lines.some((l) => (l['event'] as { type?: string } | undefined)?.type === 'report'));
    api.pushShutdown();
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code).toBe(0);
    const sampleNames = lines.filter((l) => l['sample']).map((l) => (l['sample'] as { name: string }).name);
    expect(sampleNames).toEqual(
      expect.arrayContaining([
        'aws.lambda.enhanced.errors',
        'aws.lambda.enhanced.estimated_cost',
        'aws.lambda.enhanced.shutdowns',
      ]),
    );
  });
});

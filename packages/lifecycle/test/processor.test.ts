import { describe, expect, it } from 'vitest';
import {
  type EnhancedMetricSample,
  estimatedCostUsd,
  InvocationProcessor,
  type InvocationProcessorOptions,
  type LifecycleEvent,
  parseTelemetryEvent,
  type TelemetryEvent,
} from '../src/index.js';

const T0 = Date.parse('2024-05-01T12:00:00.000Z');
const iso = (ms: number) => new Date(T0 + ms).toISOString();

function ev(type: string, atMs: number, record: unknown): TelemetryEvent {
  const r = parseTelemetryEvent({ time: iso(atMs), type, record });
  if (!r.ok) throw new Error(`bad fixture ${type}: ${r.reason}`);
  return r.event;
}

const initStart = (at: number, extra: Record<string, unknown> = {}) =>
  ev('platform.initStart', at, {
    initializationType: 'on-demand',
    phase: 'init',
    runtimeVersion: 'nodejs:20.v22',
    ...extra,
  });
const initReport = (at: number, durationMs: number, extra: Record<string, unknown> = {}) =>
  ev('platform.initReport', at, {
    initializationType: 'on-demand',
    phase: 'init',
    status: 'success',
    metrics: { durationMs },
    ...extra,
  });
const start = (id: string, at: number) => ev('platform.start', at, { requestId: id, version: '$LATEST' });
const runtimeDone = (id: string, at: number, durationMs: number, status = 'success', errorType?: string) =>
  ev('platform.runtimeDone', at, {
    requestId: id,
    status,
    ...(errorType ? { errorType } : {}),
    metrics: { durationMs, producedBytes: 53 },
  });
const report = (id: string, at: number, m: Record<string, number>, status = 'success', errorType?: string) =>
  ev('platform.report', at, { requestId: id, status, ...(errorType ? { errorType } : {}), metrics: m });
const invoke = (id: string, deadlineMs = T0 + 30_000) => ({
  eventType: 'INVOKE' as const,
  requestId: id,
  deadlineMs,
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:my-function',
});

function setup(opts: Partial<InvocationProcessorOptions> = {}) {
  const samples: EnhancedMetricSample[] = [];
  const events: LifecycleEvent[] = [];
  const warnings: string[] = [];
  let clock = T0;
  const p = new InvocationProcessor({
    submit: (s) => samples.push(s),
    now: () => clock,
    startedAt: T0,
    procEnhancedMetrics: false,
    architecture: 'x86_64',
    logger: { debug() {}, info() {}, warn: (m) => warnings.push(m), error: (m) => warnings.push(m) },
    ...opts,
  });
  p.subscribe((e) => events.push(e));
  const named = (name: string) => samples.filter((s) => s.name === `aws.lambda.enhanced.${name}`);
  return {
    p,
    samples,
    events,
    warnings,
    named,
    setClock: (ms: number) => {
      clock = T0 + ms;
    },
  };
}

describe('InvocationProcessor: a cold start and a warm invocation', () => {
  it('emits the spec metrics with units, tags and event timestamps', () => {
    const t = setup();
    t.p.onTelemetry([initStart(100), initReport(421, 321.5)]);
    t.setClock(430);
    t.p.onInvoke(invoke('r1'));
    t.p.onTelemetry([
      start('r1', 430),
      runtimeDone('r1', 530, 99.6),
      report('r1', 560, {
        durationMs: 129.81,
        billedDurationMs: 130,
        memorySizeMB: 1024,
        maxMemoryUsedMB: 86,
        initDurationMs: 321.5,
      }),
    ]);
    const cold = ['cold_start:true'];
    expect(t.named('invocations')).toEqual([
      {
        name: 'aws.lambda.enhanced.invocations',
        value: 1,
        tags: cold,
        timestamp: Math.floor((T0 + 430) / 1000),
        type: 'distribution',
      },
    ]);
    expect(t.named('init_duration')).toEqual([
      expect.objectContaining({ value: 0.3215, tags: ['init_type:on-demand'] }),
    ]);
    expect(t.named('runtime_duration')).toEqual([expect.objectContaining({ value: 99.6, tags: cold })]);
    expect(t.named('produced_bytes')).toEqual([expect.objectContaining({ value: 53 })]);
    expect(t.named('duration')).toEqual([expect.objectContaining({ value: 0.12981, tags: cold })]);
    expect(t.named('billed_duration')).toEqual([expect.objectContaining({ value: 0.13 })]);
    expect(t.named('max_memory_used')).toEqual([expect.objectContaining({ value: 86 })]);
    expect(t.named('memorysize')).toEqual([expect.objectContaining({ value: 1024 })]);
    expect(t.named('post_runtime_duration')[0]!.value).toBeCloseTo(30.21, 6);
    expect(t.named('estimated_cost')).toEqual([
      expect.objectContaining({ value: estimatedCostUsd(130, 1024, 'x86_64') }),
    ]);
    expect(t.named('errors')).toEqual([]);
    expect(t.named('out_of_memory')).toEqual([]);

    // Warm: not a cold start any more, and no second init_duration from the report fallback.
    t.setClock(5000);
    t.p.onInvoke(invoke('r2'));
    t.p.onTelemetry([
      start('r2', 5000),
      runtimeDone('r2', 5010, 10),
      report('r2', 5020, { durationMs: 12, billedDurationMs: 12, memorySizeMB: 1024, maxMemoryUsedMB: 87 }),
    ]);
    expect(t.named('invocations').map((s) => s.tags)).toEqual([cold, ['cold_start:false']]);
    expect(t.named('init_duration')).toHaveLength(1);
    const start1 = t.events.find((e) => e.type === 'invocationStart');
    expect(start1).toMatchObject({
      requestId: 'r1',
      coldStart: true,
      proactiveInitialization: false,
      deadlineMs: T0 + 30_000,
    });
  });

  it('computes the cost for x86 and arm at 12 decimals', () => {
    expect(estimatedCostUsd(130, 1024, 'x86_64')).toBe(
      Math.round((0.0000002 + 0.13 * 1 * 0.0000166667) * 1e12) / 1e12,
    );
    expect(estimatedCostUsd(1000, 512, 'arm64')).toBe(
      Math.round((0.0000002 + 0.5 * 0.0000133334) * 1e12) / 1e12,
    );
    expect(estimatedCostUsd(1000, 512, 'mips')).toBe(0.0000002);
    const t = setup({ architecture: 'arm64' });
    t.p.onTelemetry([
      start('a', 10),
      runtimeDone('a', 20, 5),
      report('a', 30, { durationMs: 8, billedDurationMs: 8, memorySizeMB: 2048, maxMemoryUsedMB: 100 }),
    ]);
    expect(t.named('estimated_cost')[0]!.value).toBe(estimatedCostUsd(8, 2048, 'arm64'));
  });

  it('holds the cold-start invocation count until initStart, tagging durable functions', () => {
    const t = setup();
    t.p.onInvoke(invoke('r1'));
    expect(t.named('invocations')).toHaveLength(0);
    t.p.onTelemetry([initStart(5, { runtimeVersion: 'nodejs:22.DurableFunction.v3' })]);
    expect(t.named('invocations').map((s) => s.tags)).toEqual([['cold_start:true', 'durable_function:true']]);
  });

  it('keeps durable_function:true on every later metric when initStart comes before the first INVOKE', () => {
    const t = setup();
    t.p.onTelemetry([initStart(0, { runtimeVersion: 'nodejs:22.DurableFunction.v3' }), initReport(300, 300)]);
    t.setClock(400);
    t.p.onInvoke(invoke('r1'));
    t.p.onTelemetry([
      runtimeDone('r1', 500, 90),
      report('r1', 510, { durationMs: 100, billedDurationMs: 100, memorySizeMB: 128, maxMemoryUsedMB: 60 }),
    ]);
    t.setClock(2000);
    t.p.onInvoke(invoke('r2'));
    t.p.onTelemetry([runtimeDone('r2', 2010, 5, 'error')]);
    expect(t.named('invocations').map((s) => s.tags)).toEqual([
      ['cold_start:true', 'durable_function:true'],
      ['cold_start:false', 'durable_function:true'],
    ]);
    for (const name of ['runtime_duration', 'duration', 'billed_duration', 'estimated_cost', 'errors']) {
      expect(t.named(name).length, name).toBeGreaterThan(0);
      for (const s of t.named(name)) expect(s.tags, name).toContain('durable_function:true');
    }
  });

  it('flags proactive initialization when the first invocation comes more than 10 s after start', () => {
    const t = setup();
    t.p.onTelemetry([initStart(0), initReport(300, 300)]);
    t.setClock(10_001);
    t.p.onInvoke(invoke('r1'));
    expect(t.named('invocations')[0]!.tags).toEqual(['cold_start:false', 'proactive_initialization:true']);
    expect(t.events.find((e) => e.type === 'invocationStart')).toMatchObject({
      coldStart: false,
      proactiveInitialization: true,
    });
  });

  it('counts from restoreStart for SnapStart and reports the restore duration', () => {
    const t = setup();
    t.p.onTelemetry([
      ev('platform.restoreStart', 60_000, { runtimeVersion: 'java:21.v10' }),
      ev('platform.restoreReport', 60_200, { status: 'success', metrics: { durationMs: 220.4 } }),
    ]);
    t.setClock(60_300);
    t.p.onInvoke(invoke('r1'));
    expect(t.events.find((e) => e.type === 'invocationStart')).toMatchObject({
      coldStart: true,
      snapStartRestore: true,
      proactiveInitialization: false,
    });
    expect(t.named('snapstart_restore_duration')).toEqual([expect.objectContaining({ value: 0.2204 })]);
  });

  it('knows a SnapStart restore from its mode when restoreStart comes after the INVOKE', () => {
    const t = setup({ snapStart: true, startedAt: T0 - 3_600_000 });
    t.p.onInvoke(invoke('r1'));
    t.p.onTelemetry([
      ev('platform.restoreStart', -50, {}),
      ev('platform.restoreReport', -10, { status: 'success', metrics: { durationMs: 40 } }),
    ]);
    expect(t.events.find((e) => e.type === 'invocationStart')).toMatchObject({
      snapStartRestore: true,
      coldStart: true,
      proactiveInitialization: false,
    });
  });

  it('emits nothing when enhanced metrics are disabled, and still publishes events', () => {
    const t = setup({ enhancedMetrics: false });
    t.p.onInvoke(invoke('r1'));
    t.p.onTelemetry([
      start('r1', 1),
      runtimeDone('r1', 2, 1, 'timeout'),
      report('r1', 3, { durationMs: 3, billedDurationMs: 3, memorySizeMB: 128, maxMemoryUsedMB: 128 }),
    ]);
    expect(t.samples).toEqual([]);
    expect(t.events.map((e) => e.type)).toEqual([
      'invocationStart',
      'platformStart',
      'runtimeDone',
      'outOfMemory',
      'report',
      'telemetry',
    ]);
  });
});

describe('InvocationProcessor: ordering', () => {
  it('accepts report before runtimeDone before INVOKE, counting the invocation once', () => {
    const t = setup();
    t.p.onTelemetry([initStart(0)]);
    t.p.onTelemetry([
      report('r1', 300, { durationMs: 130, billedDurationMs: 130, memorySizeMB: 1024, maxMemoryUsedMB: 80 }),
    ]);
    t.p.onTelemetry([runtimeDone('r1', 250, 100)]);
    t.p.onInvoke(invoke('r1')); // finished already: ignored
    t.p.onTelemetry([start('r1', 10)]);
    expect(t.named('invocations')).toHaveLength(1);
    expect(t.named('post_runtime_duration').map((s) => s.value)).toEqual([30]);
    expect(t.p.stats.eventsForFinishedRequests).toBe(2);
  });

  it('marks a report that arrives after the next invocation started as late, with its own numbers', () => {
    const t = setup();
    t.p.onTelemetry([initStart(0)]);
    t.p.onInvoke(invoke('r1'));
    t.p.onTelemetry([start('r1', 10), runtimeDone('r1', 60, 50)]);
    t.setClock(70_000); // frozen, then thawed for the next request
    t.p.onInvoke(invoke('r2'));
    t.p.onTelemetry([
      report('r1', 80, { durationMs: 75, billedDurationMs: 75, memorySizeMB: 256, maxMemoryUsedMB: 90 }),
      start('r2', 70_000),
    ]);
    const late = t.events.find((e) => e.type === 'report');
    expect(late).toMatchObject({ requestId: 'r1', late: true, postRuntimeDurationMs: 25 });
    expect(t.named('duration')).toEqual([
      expect.objectContaining({
        value: 0.075,
        tags: ['cold_start:true'],
        timestamp: Math.floor((T0 + 80) / 1000),
      }),
    ]);
    expect(t.p.inFlight()).toEqual(['r2']);
  });

  it('resolves waitForRuntimeDone when the runtime finishes, and times out otherwise', async () => {
    const t = setup();
    t.p.onInvoke(invoke('r1'));
    const waiting = t.p.waitForRuntimeDone('r1', 5000);
    t.p.onTelemetry([runtimeDone('r1', 10, 5)]);
    expect(await waiting).toBe(true);
    expect(await t.p.waitForRuntimeDone('never', 10)).toBe(false);
  });
});

describe('InvocationProcessor: errors, timeouts, out of memory', () => {
  it('counts a timeout as a timeout and an error, once', () => {
    const t = setup();
    t.p.onInvoke(invoke('r1'));
    t.p.onTelemetry([
      runtimeDone('r1', 3000, 3000, 'timeout'),
      report(
        'r1',
        3001,
        { durationMs: 3000.12, billedDurationMs: 3000, memorySizeMB: 128, maxMemoryUsedMB: 60 },
        'timeout',
      ),
    ]);
    t.p.invocationErrored('r1');
    expect(t.named('timeouts')).toHaveLength(1);
    expect(t.named('errors')).toHaveLength(1);
    expect(t.events.find((e) => e.type === 'runtimeDone')).toMatchObject({
      timedOut: true,
      status: 'timeout',
    });
  });

  it('counts an error status and a tracer-reported error once per request', () => {
    const t = setup();
    t.p.onInvoke(invoke('r1'));
    t.p.invocationErrored('r1');
    t.p.onTelemetry([runtimeDone('r1', 10, 5, 'error', 'TypeError')]);
    t.p.onInvoke(invoke('r2'));
    t.p.onTelemetry([runtimeDone('r2', 20, 5, 'failure', 'Runtime.ExitError')]);
    expect(t.named('errors')).toHaveLength(2);
    expect(t.named('timeouts')).toHaveLength(0);
  });

  it('counts once when the end-invocation error beats its INVOKE', () => {
    const t = setup();
    t.p.invocationErrored('early');
    t.p.onInvoke(invoke('early'));
    t.p.onTelemetry([runtimeDone('early', 10, 5, 'error', 'Error')]);
    expect(t.named('errors')).toHaveLength(1);
    expect(t.named('invocations')).toHaveLength(1);
    expect(t.events.filter((e) => e.type === 'invocationStart')).toHaveLength(1);
  });

  it('detects OOM by all three detectors and counts it once per request', () => {
    const t = setup();
    t.p.onInvoke(invoke('r1'));
    t.p.outOfMemoryDetected({ time: T0 + 400 }); // the logs hook, no request id: the current invocation
    t.p.onTelemetry([
      runtimeDone('r1', 510, 510, 'error', 'Runtime.OutOfMemory'),
      report(
        'r1',
        512,
        { durationMs: 512, billedDurationMs: 512, memorySizeMB: 128, maxMemoryUsedMB: 128 },
        'error',
        'Runtime.OutOfMemory',
      ),
    ]);
    expect(t.named('out_of_memory')).toHaveLength(1);
    const ooms = t.events.filter((e) => e.type === 'outOfMemory');
    expect(ooms).toEqual([{ type: 'outOfMemory', requestId: 'r1', time: T0 + 400, detector: 'log-line' }]);

    // Each detector on its own.
    t.p.onInvoke(invoke('r2'));
    t.p.onTelemetry([runtimeDone('r2', 600, 5, 'error', 'Runtime.OutOfMemory')]);
    t.p.onInvoke(invoke('r3'));
    t.p.onTelemetry([
      runtimeDone('r3', 700, 3000, 'timeout'),
      report(
        'r3',
        701,
        { durationMs: 3000, billedDurationMs: 3000, memorySizeMB: 128, maxMemoryUsedMB: 128 },
        'timeout',
      ),
    ]);
    t.p.onInvoke(invoke('r4'));
    t.p.outOfMemoryDetected({ requestId: 'r4' });
    expect(
      t.events
        .filter((e) => e.type === 'outOfMemory')
        .map((e) => e.type === 'outOfMemory' && [e.requestId, e.detector]),
    ).toEqual([
      ['r1', 'log-line'],
      ['r2', 'runtime-done'],
      ['r3', 'report'],
      ['r4', 'log-line'],
    ]);
    expect(t.named('out_of_memory')).toHaveLength(4);
  });
});

describe('InvocationProcessor: init', () => {
  it('reports a failed init and the suppressed init inside the first invoke', () => {
    const t = setup();
    t.p.onTelemetry([
      initStart(0),
      ev('platform.initReport', 10_000, {
        initializationType: 'on-demand',
        phase: 'init',
        status: 'timeout',
        metrics: { durationMs: 10_000 },
      }),
    ]);
    t.setClock(10_100);
    t.p.onInvoke(invoke('r1'));
    t.p.onTelemetry([
      initStart(10_100, { phase: 'invoke' }),
      ev('platform.initReport', 10_400, {
        initializationType: 'on-demand',
        phase: 'invoke',
        status: 'success',
        metrics: { durationMs: 300 },
      }),
    ]);
    expect(t.warnings.some((w) => w.includes('status timeout'))).toBe(true);
    expect(t.warnings.some((w) => w.includes('suppressed init'))).toBe(true);
    const reports = t.events.filter((e) => e.type === 'initReport');
    expect(reports).toMatchObject([
      { status: 'timeout', suppressed: false, durationMs: 10_000 },
      { status: 'success', suppressed: true, durationMs: 300 },
    ]);
    expect(t.events.find((e) => e.type === 'initStart' && e.suppressed)).toBeDefined();
    // Every initReport counts, the suppressed init's included: both inits ran and took time.
    expect(t.named('init_duration').map((s) => s.value)).toEqual([10, 0.3]);
    // A report's initDurationMs is only the fallback when no initReport came.
    t.p.onTelemetry([
      runtimeDone('r1', 10_500, 50),
      report('r1', 10_600, {
        durationMs: 400,
        billedDurationMs: 400,
        memorySizeMB: 128,
        maxMemoryUsedMB: 50,
        initDurationMs: 300,
      }),
    ]);
    expect(t.named('init_duration')).toHaveLength(2);
  });

  it('falls back to report.initDurationMs once when no initReport came', () => {
    const t = setup();
    t.p.onInvoke(invoke('r1'));
    t.p.onTelemetry([
      runtimeDone('r1', 10, 5),
      report('r1', 20, {
        durationMs: 6,
        billedDurationMs: 6,
        memorySizeMB: 128,
        maxMemoryUsedMB: 50,
        initDurationMs: 250,
      }),
    ]);
    expect(t.named('init_duration')).toEqual([
      expect.objectContaining({ value: 0.25, tags: ['cold_start:true', 'init_type:on-demand'] }),
    ]);
    // Without initStart, the held invocation count is released by runtimeDone.
    expect(t.named('invocations')).toHaveLength(1);
  });
});

describe('InvocationProcessor: shutdown', () => {
  it('counts shutdowns, and an unused init when no invocation came', () => {
    const t = setup();
    t.p.onShutdown({ eventType: 'SHUTDOWN', shutdownReason: 'spindown', deadlineMs: T0 + 2000 });
    expect(t.named('shutdowns')).toHaveLength(1);
    expect(t.named('unused_init')).toHaveLength(1);
  });

  it('counts a SHUTDOWN(timeout) mid-invocation as that invocation timing out', () => {
    const t = setup();
    t.p.onTelemetry([initStart(0)]);
    t.p.onInvoke(invoke('r1'));
    t.p.onShutdown({ eventType: 'SHUTDOWN', shutdownReason: 'timeout', deadlineMs: T0 + 2000 });
    expect(t.named('timeouts')).toHaveLength(1);
    expect(t.named('errors')).toHaveLength(1);
    expect(t.named('unused_init')).toHaveLength(0);
    expect(t.events.at(-1)).toMatchObject({ type: 'shutdown', reason: 'timeout', inFlight: ['r1'] });
    // A runtimeDone(timeout) arriving after does not count again.
    t.p.onTelemetry([runtimeDone('r1', 3000, 3000, 'timeout')]);
    expect(t.named('timeouts')).toHaveLength(1);
  });
});

describe('InvocationProcessor: tags of the metrics outside one invocation', () => {
  const runtime = 'runtime:nodejs20.x';
  const shutdown = { eventType: 'SHUTDOWN' as const, shutdownReason: 'spindown', deadlineMs: T0 + 2000 };

  it('init_duration, snapstart_restore_duration and shutdowns carry the latest invocation tags and the app tags', () => {
    const t = setup({ invocationTags: [runtime] });
    t.p.onTelemetry([
      initStart(0, { runtimeVersion: 'nodejs:22.DurableFunction.v3' }),
      ev('platform.initReport', 100, {
        initializationType: 'on-demand',
        phase: 'init',
        status: 'error',
        metrics: { durationMs: 100 },
      }),
      ev('platform.restoreReport', 150, { status: 'success', metrics: { durationMs: 20 } }),
    ]);
    // Before any invocation: no cold_start yet, as the real extension.
    expect(t.named('init_duration')[0]!.tags).toEqual([
      'durable_function:true',
      runtime,
      'init_type:on-demand',
    ]);
    expect(t.named('snapstart_restore_duration')[0]!.tags).toEqual(['durable_function:true', runtime]);
    t.setClock(200);
    t.p.onInvoke(invoke('r1'));
    t.p.onTelemetry([initReport(400, 200, { phase: 'invoke' })]);
    expect(t.named('init_duration')[1]!.tags).toEqual([
      'cold_start:true',
      'durable_function:true',
      runtime,
      'init_type:on-demand',
    ]);
    t.p.onTelemetry([runtimeDone('r1', 500, 10)]);
    t.setClock(3000);
    t.p.onInvoke(invoke('r2'));
    t.p.onShutdown(shutdown);
    expect(t.named('shutdowns')[0]!.tags).toEqual(['cold_start:false', 'durable_function:true', runtime]);
  });

  it('invocation tags given as a function are asked at each emission (a runtime found late is used)', () => {
    let found: string[] = [];
    const t = setup({ invocationTags: () => found });
    t.p.onTelemetry([initStart(0)]);
    t.setClock(200);
    t.p.onInvoke(invoke('r1'));
    expect(t.named('invocations')[0]!.tags).toEqual(['cold_start:true']);
    found = [runtime];
    t.p.onTelemetry([runtimeDone('r1', 500, 10)]);
    t.setClock(3000);
    t.p.onInvoke(invoke('r2'));
    expect(t.named('invocations')[1]!.tags).toEqual(['cold_start:false', runtime]);
  });

  it('unused_init and shutdowns without an invocation carry the app tags; a proactive init is kept', () => {
    const idle = setup({ invocationTags: [runtime] });
    idle.p.onShutdown(shutdown);
    expect(idle.named('shutdowns')[0]!.tags).toEqual([runtime]);
    expect(idle.named('unused_init')[0]!.tags).toEqual([runtime]);

    const late = setup({ invocationTags: [runtime] });
    late.p.onTelemetry([initStart(0)]);
    late.setClock(20_000);
    late.p.onInvoke(invoke('r1'));
    late.p.onShutdown(shutdown);
    expect(late.named('shutdowns')[0]!.tags).toEqual([
      'cold_start:false',
      'proactive_initialization:true',
      runtime,
    ]);
  });
});

describe('InvocationProcessor: managed instances', () => {
  it('drives invocations from platform.start and synthesises runtimeDone from the report', () => {
    const t = setup({ managedInstances: true });
    t.p.onTelemetry([
      start('m1', 10),
      start('m2', 11),
      ev('platform.report', 90, {
        requestId: 'm1',
        status: 'success',
        metrics: { durationMs: 80 },
        spans: [{ name: 'responseLatency', start: iso(10), durationMs: 70 }],
      }),
      ev('platform.report', 95, { requestId: 'm2', status: 'timeout', metrics: { durationMs: 84 } }),
    ]);
    expect(t.named('invocations').map((s) => s.tags)).toEqual([[], []]);
    expect(t.named('runtime_duration').map((s) => s.value)).toEqual([70, 84]);
    expect(t.named('duration').map((s) => s.value)).toEqual([0.08, 0.084]);
    expect(t.named('billed_duration')).toEqual([]);
    expect(t.named('post_runtime_duration')).toEqual([]);
    expect(t.named('timeouts')).toHaveLength(1);
    expect(
      t.events.filter((e) => e.type === 'runtimeDone').map((e) => e.type === 'runtimeDone' && e.synthetic),
    ).toEqual([true, true]);
    expect(t.events.filter((e) => e.type === 'invocationStart')).toHaveLength(2);
  });
});

describe('InvocationProcessor: bounds', () => {
  it('keeps at most maxContexts open invocations, counting evictions', () => {
    const t = setup({ maxContexts: 3 });
    for (let i = 0; i < 5; i++) t.p.onInvoke(invoke(`r${i}`));
    expect(t.p.inFlight()).toEqual(['r2', 'r3', 'r4']);
    expect(t.p.stats.evictedContexts).toBe(2);
  });

  it('survives a throwing listener and a throwing submit', () => {
    const p = new InvocationProcessor({
      submit: () => {
        throw new Error('boom');
      },
      procEnhancedMetrics: false,
    });
    p.subscribe(() => {
      throw new Error('bad listener');
    });
    p.onInvoke(invoke('x'));
    p.onTelemetry([runtimeDone('x', 1, 1)]);
    expect(p.stats.submitErrors).toBeGreaterThan(0);
    expect(p.stats.listenerErrors).toBeGreaterThan(0);
  });
});

describe('InvocationProcessor: memory over many invocations', () => {
  it('keeps a bounded, small record of finished invocations, still deduping a late OOM of the latest', () => {
    const t = setup();
    t.p.onTelemetry([initStart(0)]);
    const n = 2000;
    for (let i = 0; i < n; i++) {
      const id = `r${i}`;
      const at = 1000 + i * 100;
      t.p.onInvoke(invoke(id));
      t.p.onTelemetry([start(id, at), runtimeDone(id, at + 20, 10)]);
      t.p.onTelemetry([
        report(id, at + 40, {
          durationMs: 12,
          billedDurationMs: 12,
          memorySizeMB: 1024,
          maxMemoryUsedMB: 80,
        }),
      ]);
    }
    expect(t.named('invocations')).toHaveLength(n);
    const kept = t.p.retained();
    expect(kept.open).toBe(0);
    expect(kept.finished).toBeGreaterThan(0);
    expect(kept.finished).toBeLessThanOrEqual(64);
    t.p.outOfMemoryDetected({ requestId: `r${n - 1}` });
    t.p.outOfMemoryDetected({ requestId: `r${n - 1}` });
    expect(t.named('out_of_memory')).toHaveLength(1);
    expect(t.named('out_of_memory')[0]?.tags).toContain('cold_start:false');
  });
});

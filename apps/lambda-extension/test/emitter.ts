// The emitter function (test/fixtures/emitter-function) and the bookkeeping around it: seeded
// random invocations whose every metric point, span and log line the test knows, and the check that
// all of it reached the intake, with duplicates only where a request the intake took was resent.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import {
  type DatadogIntake,
  LambdaSandbox,
  type LambdaSandboxOptions,
  type ShutdownResult,
  seededRandom,
  startIntake,
} from '@serverless-agent/testkit';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { APP_DIR, buildAndUnzipLayer, freePorts, scratch } from './helpers.js';

export const EMITTER_DIR = join(APP_DIR, 'test/fixtures/emitter-function');

export interface LayerAndIntake {
  /** The layer's `extensions/` folder, built and unzipped for this file. */
  readonly extensionsDir: string;
  readonly intake: DatadogIntake;
}

/**
 * Registers the file's hooks: build and unzip the layer and start an intake before its tests, clear
 * the intake's record and faults after each, stop and clean up after all.
 */
export function useLayerAndIntake(): LayerAndIntake {
  let work: ReturnType<typeof scratch> | undefined;
  let opt = '';
  let intake: DatadogIntake | undefined;
  beforeAll(async () => {
    work = scratch();
    opt = buildAndUnzipLayer(join(work.dir, 'zip'));
    intake = await startIntake();
  }, 120_000);
  afterEach(() => {
    intake?.clearFaults();
    intake?.clear();
  });
  afterAll(async () => {
    await intake?.stop();
    work?.cleanup();
  });
  return {
    get extensionsDir() {
      return join(opt, 'extensions');
    },
    get intake() {
      if (!intake) throw new Error('the intake is not started yet');
      return intake;
    },
  };
}

export interface EmitterMetric {
  type: 'd' | 'c';
  name: string;
  value: number;
  tags: string[];
}
export interface EmitterSpan {
  traceId: string;
  spanId: string;
  parentId?: string;
  name: string;
}
export interface EmitterEvent {
  n: number;
  metrics?: EmitterMetric[];
  spans?: EmitterSpan[];
  logs?: string[];
  /** Lines printed last, after `workMs`: they reach the extension with runtimeDone. */
  lateLogs?: string[];
  workMs?: number;
  hangMs?: number;
  exhaustMemory?: boolean;
  /** Call the extension's `/lambda/start-invocation` hook first, as a universal-instrumentation tracer. */
  startHook?: boolean;
  flood?: { datagrams: number; batch?: number };
}

const int = (rand: () => number, lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));

/** The log line token of invocation n, line k: `[zl n.k]`, never a prefix of another. */
export const logToken = (n: number, k: number) => `[zl ${n}.${k}]`;

/** One invocation's worth of random output: 0-4 distribution points, 0-2 counts, 0-3 spans, 0-4 lines. */
export function randomEvent(rand: () => number, n: number): EmitterEvent {
  const metrics: EmitterMetric[] = [];
  for (let i = int(rand, 0, 4); i > 0; i--) {
    metrics.push({ type: 'd', name: 'zl.dist', value: int(rand, 1, 10_000) / 100, tags: [`inv:${n}`] });
  }
  for (let i = int(rand, 0, 2); i > 0; i--) {
    metrics.push({ type: 'c', name: 'zl.count', value: int(rand, 1, 5), tags: [`inv:${n}`] });
  }
  const spans: EmitterSpan[] = [];
  const nSpans = int(rand, 0, 3);
  const traceId = String((BigInt(n + 1) << 32n) + BigInt(int(rand, 1, 1_000_000)));
  for (let k = 0; k < nSpans; k++) {
    const span: EmitterSpan = {
      traceId,
      spanId: String((BigInt(n + 1) << 8n) + BigInt(k + 1)),
      name: 'zl.span',
    };
    if (k > 0) span.parentId = spans[0]!.spanId;
    spans.push(span);
  }
  const logs: string[] = [];
  for (let k = int(rand, 0, 4); k > 0; k--) logs.push(`${logToken(n, k)} line ${k} of invocation ${n}`);
  return { n, metrics, spans, logs, workMs: int(rand, 0, 15) };
}

/** An invocation that emits some of everything: 2 distribution points, a count, 2 spans, 2 lines. */
export function fullEvent(n: number): EmitterEvent {
  const rand = seededRandom(n + 1);
  const e = randomEvent(rand, n);
  const traceId = String((BigInt(n + 1) << 32n) + 7n);
  const root = String((BigInt(n + 1) << 8n) + 1n);
  return {
    ...e,
    metrics: [
      { type: 'd', name: 'zl.dist', value: 1.5 + n, tags: [`inv:${n}`] },
      { type: 'd', name: 'zl.dist', value: 2.25, tags: [`inv:${n}`] },
      { type: 'c', name: 'zl.count', value: 3, tags: [`inv:${n}`] },
    ],
    spans: [
      { traceId, spanId: root, name: 'zl.span' },
      { traceId, spanId: String((BigInt(n + 1) << 8n) + 2n), parentId: root, name: 'zl.span' },
    ],
    logs: [`${logToken(n, 1)} first line of ${n}`, `${logToken(n, 2)} second line of ${n}`],
  };
}

/** How many items an event emits (what `checkDelivery` counts as missing when none arrived). */
export function checkedItems(e: EmitterEvent): number {
  const dists = (e.metrics ?? []).filter((m) => m.type === 'd').length;
  const counts = (e.metrics ?? []).some((m) => m.type === 'c') ? 1 : 0;
  return (
    (dists > 0 ? 2 : 0) + counts + (e.spans?.length ?? 0) + (e.logs?.length ?? 0) + (e.lateLogs?.length ?? 0)
  );
}

export interface DeliveryReport {
  /** Items the function emitted that the intake never accepted. */
  missing: string[];
  /** Copies beyond the first that no resent request explains. */
  unexplained: string[];
  /** Copies beyond the first, all from requests the intake had accepted before (so were retried). */
  duplicates: number;
  /** Requests the intake accepted but whose answer it lost (the `loseAnswer` fault). */
  lostAnswers: number;
  /** Accepted requests whose body the intake had already accepted once: a client's retries. */
  resent: number;
  /** Their intake request ids. */
  resentIds: ReadonlySet<number>;
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a), Math.abs(b));

/**
 * Checks that every item of `events` is at the intake. A request whose answer the client never saw
 * (the intake lost it, or a freeze cut the connection) is retried and so accepted twice, body for
 * body: for each item, the copies from first sendings are at most what was emitted, and with the
 * copies from those resent requests they are at least that.
 */
export function checkDelivery(intake: DatadogIntake, events: readonly EmitterEvent[]): DeliveryReport {
  const accepted = intake.requests().filter((r) => r.items > 0);
  const seen = new Set<string>();
  const resent = new Set<number>();
  for (const r of [...accepted].sort((a, b) => a.id - b.id)) {
    const key = `${r.path} ${createHash('sha1').update(r.body).digest('hex')}`;
    if (seen.has(key)) resent.add(r.id);
    else seen.add(key);
  }
  const report: DeliveryReport = {
    missing: [],
    unexplained: [],
    duplicates: 0,
    lostAnswers: accepted.filter((r) => r.fault?.includes('lost answer')).length,
    resent: resent.size,
    resentIds: resent,
  };
  type Tally = { first: number; resent: number };
  const bump = (m: Map<string, Tally>, key: string, requestId: number | undefined, by = 1) => {
    let t = m.get(key);
    if (!t) {
      t = { first: 0, resent: 0 };
      m.set(key, t);
    }
    if (requestId !== undefined && resent.has(requestId)) t.resent += by;
    else t.first += by;
  };
  const judge = (what: string, expected: number, t: Tally | undefined) => {
    const first = t?.first ?? 0;
    const total = first + (t?.resent ?? 0);
    if (total < expected && !close(total, expected)) report.missing.push(`${what}: ${total} of ${expected}`);
    else if (first > expected && !close(first, expected))
      report.unexplained.push(`${what}: ${first} copies of ${expected} in requests sent once`);
  };

  // Distributions: count and sum per invocation; counts: the summed value per invocation.
  const distCount = new Map<string, Tally>();
  const distSum = new Map<string, Tally>();
  for (const d of intake.distributions('zl.dist')) {
    const inv = d.tags.find((t) => t.startsWith('inv:')) ?? 'inv:?';
    bump(distCount, inv, d.requestId, d.count);
    bump(distSum, inv, d.requestId, d.sum);
  }
  const countSum = new Map<string, Tally>();
  for (const m of intake.metrics('zl.count')) {
    const inv = m.tags.find((t) => t.startsWith('inv:')) ?? 'inv:?';
    bump(countSum, inv, m.requestId, m.value);
  }
  const spans = new Map<string, Tally>();
  for (const s of intake.spans((x) => x.name === 'zl.span' || x.name === 'aws.lambda'))
    bump(spans, s.spanID.toString(), s.requestId);
  const lines = new Map<string, Tally>();
  for (const l of intake.logs(/\[zl \d+\.\d+\]/)) {
    const token = /\[zl \d+\.\d+\]/.exec(JSON.stringify(l))?.[0];
    if (token) bump(lines, token, l.$requestId);
  }

  let emitted = 0;
  for (const e of events) {
    const inv = `inv:${e.n}`;
    const dists = (e.metrics ?? []).filter((m) => m.type === 'd');
    const counts = (e.metrics ?? []).filter((m) => m.type === 'c');
    if (dists.length > 0) {
      judge(`zl.dist count ${inv}`, dists.length, distCount.get(inv));
      judge(
        `zl.dist sum ${inv}`,
        dists.reduce((a, m) => a + m.value, 0),
        distSum.get(inv),
      );
    }
    if (counts.length > 0)
      judge(
        `zl.count ${inv}`,
        counts.reduce((a, m) => a + m.value, 0),
        countSum.get(inv),
      );
    for (const s of e.spans ?? []) judge(`span ${s.spanId}`, 1, spans.get(s.spanId));
    for (const line of [...(e.logs ?? []), ...(e.lateLogs ?? [])]) {
      const token = /\[zl \d+\.\d+\]/.exec(line)![0];
      judge(`log ${token}`, 1, lines.get(token));
    }
    emitted +=
      dists.length +
      counts.length +
      (e.spans?.length ?? 0) +
      (e.logs?.length ?? 0) +
      (e.lateLogs?.length ?? 0);
  }
  // Item copies beyond the first (distribution points by count, spans, lines).
  const extra = (m: Map<string, Tally>, expected: (k: string) => number) => {
    let n = 0;
    for (const [k, t] of m) n += Math.max(0, t.first + t.resent - expected(k));
    return n;
  };
  const expectedDist = new Map<string, number>();
  for (const e of events)
    expectedDist.set(`inv:${e.n}`, (e.metrics ?? []).filter((m) => m.type === 'd').length);
  report.duplicates =
    extra(distCount, (k) => expectedDist.get(k) ?? 0) + extra(spans, () => 1) + extra(lines, () => 1);
  if (emitted === 0) report.missing.push('the events emitted nothing: the check would prove nothing');
  return report;
}

export interface EmitterSandbox {
  sandbox: LambdaSandbox;
  /** The extension's own log lines (stdout), as they came. */
  extensionLines: string[];
  ports: Awaited<ReturnType<typeof freePorts>>['ports'];
}

/** The emitter function with the layer at `extensionsDir`, on free ports, shipping to `intake`. */
export async function emitterSandbox(
  extensionsDir: string,
  intake: DatadogIntake,
  env: Record<string, string> = {},
  options: Partial<LambdaSandboxOptions> = {},
): Promise<EmitterSandbox> {
  const { ports, env: portEnv } = await freePorts();
  const extensionLines: string[] = [];
  const sandbox = new LambdaSandbox({
    taskRoot: EMITTER_DIR,
    handler: 'index.handler',
    extensionsDir,
    functionName: 'emitter-fn',
    // Generous: a cold start on a loaded machine takes seconds (see warmUp).
    timeoutMs: 10_000,
    ...options,
    env: { ...portEnv, ...intake.agentEnv(), DD_LOG_LEVEL: 'debug', ...env },
    onLog: (l) => {
      if (l.source === 'extension') extensionLines.push(l.line);
    },
  });
  return { sandbox, extensionLines, ports };
}

/**
 * One invocation that emits nothing, on a healthy intake: the sandbox freezes the extension right
 * after init, so its heavy components finish loading during the first invocation, and on a loaded
 * machine that takes seconds. Fault tests start after it, so they measure the fault.
 */
export async function warmUp(sandbox: LambdaSandbox): Promise<void> {
  const r = await sandbox.invoke({ n: -1 });
  if (r.status !== 'success') throw new Error(`the warm-up invocation ended ${r.status}`);
}

/** Shuts the sandbox down and expects the extension to have exited on its own, with 0. */
export async function shutdownCleanly(sandbox: LambdaSandbox): Promise<ShutdownResult> {
  const down = await sandbox.shutdown();
  expect(down.processes.find((p) => p.name === 'datadog-agent')).toMatchObject({ ended: 'exit', code: 0 });
  return down;
}

/** The extension's counters as it logs them at shutdown (`at shutdown: {...}`, debug level). */
export interface ExtensionStats {
  metrics?: Record<string, number>;
  forwarder?: {
    destinations?: { retries?: number; healthy?: boolean }[];
    dropped?: Record<string, { requests: number; items: number }>;
  };
  [part: string]: unknown;
}

export function shutdownStats(lines: readonly string[]): ExtensionStats | undefined {
  const line = lines.find((l) => l.includes('at shutdown: {'));
  return line ? JSON.parse(line.slice(line.indexOf('{'))) : undefined;
}

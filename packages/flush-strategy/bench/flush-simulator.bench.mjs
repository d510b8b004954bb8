// `pnpm bench flush`: replays invocation arrival patterns through every flush strategy, driving the
// built decision core with a virtual clock, and prints what each costs the user (post-runtime
// duration added per invocation) and what it costs the data (delay from production to delivery).
//
// The model (see the README for the assumptions):
// - Lambda routes each arrival to a warm, frozen sandbox (the most recently used) or starts a new
//   one; a sandbox idle for IDLE_SHUTDOWN_MS gets SHUTDOWN with a 2 s deadline.
// - A sandbox is frozen from the moment its extension is ready for the next event until the next
//   invocation: nothing runs while frozen, neither timers nor flushes in flight (they resume at the
//   thaw). The app's timer that came due while frozen fires right after the thaw.
// - Each invocation produces three items: one mid-handler, one at runtime done, and the platform
//   report, which arrives after runtime done (so after the end-of-invocation flush has started).
// - A flush carries everything buffered when it starts. It has two parts: connecting (TCP and TLS,
//   the extension keeps no pooled connection across a freeze) and uploading take three round trips
//   and need the sandbox awake; the intake's processing then runs on the intake's clock, frozen or
//   not. The data counts as delivered when the intake has processed it; the app sees the response at
//   the first moment it is awake after that. Nothing to send: 1 ms, awake. Flushes run concurrently.
//   The forwarder reports a destination unhealthy after a flush slower than 1 s and healthy again
//   after a faster one.
// - Every figure is the median over SEEDS runs with different random streams.
import { FlushCore, parseFlushStrategy } from '@serverless-agent/flush-strategy';
import { seededRandom } from '@serverless-agent/testkit';
import { median, printTable, quantile, ratio } from '../../../bench/stats.mjs';

const SEEDS = Number(process.env.FLUSH_SIM_SEEDS ?? 5);
const MARKDOWN = process.argv.includes('--md');
const TIMEOUT_MS = 3000;
const IDLE_SHUTDOWN_MS = 10 * 60_000;
const SHUTDOWN_GRACE_MS = 2000;
const RTT = { medianMs: 20, sigma: 0.3 };
const HEALTHY_INTAKE = { medianMs: 20, sigma: 0.6 };
const SLOW_INTAKE = { medianMs: 1500, sigma: 0.5 };
const HOUR = 3_600_000;

const normal = (rng) => Math.sqrt(-2 * Math.log(rng() || 1e-12)) * Math.cos(2 * Math.PI * rng());
const lognormal = (rng, medianMs, sigma) => medianMs * Math.exp(sigma * normal(rng));
const exponential = (rng, meanMs) => -Math.log(1 - rng()) * meanMs;

// ---- arrival patterns: arrays of arrival times (ms) over `hours` ----
const patterns = [
  { name: 'one per hour', hours: 24, arrivals: (rng) => every(HOUR, 24 * HOUR, rng, 30_000) },
  { name: 'one per minute', hours: 3, arrivals: (rng) => every(60_000, 3 * HOUR, rng, 2000) },
  { name: '1/s', hours: 1, arrivals: (rng) => poisson(1000, 0, HOUR, rng) },
  { name: '20/s', hours: 0.5, arrivals: (rng) => poisson(50, 0, HOUR / 2, rng) },
  {
    name: 'bursty (100 at 20/s every 5 min)',
    hours: 1,
    arrivals: (rng) => {
      const out = [];
      for (let t = 0; t < HOUR; t += 5 * 60_000) out.push(...poisson(50, t, t + 5000, rng).slice(0, 100));
      return out;
    },
  },
  {
    name: 'busy→idle (2/s for 20 min, then idle)',
    hours: 1,
    arrivals: (rng) => poisson(500, 0, HOUR / 3, rng),
  },
  { name: '1/s, slow intake', hours: 1, slow: true, arrivals: (rng) => poisson(1000, 0, HOUR, rng) },
  {
    name: 'one per minute, slow intake',
    hours: 3,
    slow: true,
    arrivals: (rng) => every(60_000, 3 * HOUR, rng, 2000),
  },
];

function every(period, end, rng, jitter) {
  const out = [];
  for (let t = 0; t < end; t += period) out.push(t + rng() * jitter);
  return out;
}
function poisson(meanGap, start, end, rng) {
  const out = [];
  for (let t = start + exponential(rng, meanGap); t < end; t += exponential(rng, meanGap)) out.push(t);
  return out;
}

const strategies = [
  { label: 'default', value: 'default' },
  { label: 'end', value: 'end' },
  { label: 'end,10000', value: 'end,10000' },
  { label: 'periodically,10000', value: 'periodically,10000' },
  { label: 'continuously,10000', value: 'continuously,10000' },
];

// ---- one sandbox: the app around the core, as apps/lambda-extension wires it ----
class Sandbox {
  constructor(strategy, variant, sim, at) {
    this.sim = sim;
    this.variant = variant;
    this.t = at;
    this.core = new FlushCore({ strategy, variant, clock: () => this.t });
    this.timerAt = null;
    this.buffer = [];
    this.flights = new Map();
    this.readyAt = at;
    this.unhealthy = false;
    this.apply(this.core.handle({ type: 'extension-started' }));
  }

  apply(decisions) {
    for (const d of decisions) {
      if (d.type === 'arm-timer') this.timerAt = d.at;
      else if (d.type === 'flush-blocking' || d.type === 'flush-background') this.startFlush(d);
    }
  }

  startFlush(d) {
    const items = this.buffer.splice(0);
    const { rng, intake } = this.sim;
    const awakeMs = items.length === 0 ? 1 : 3 * lognormal(rng, RTT.medianMs, RTT.sigma);
    const serverMs = items.length === 0 ? 0 : lognormal(rng, intake.medianMs, intake.sigma);
    if (items.length > 0) this.sim.requests++;
    this.flights.set(d.id, {
      items,
      awakeLeft: awakeMs,
      serverMs,
      serverDoneAt: null,
      slow: awakeMs + serverMs > 1000,
      started: this.t,
      blocking: d.type === 'flush-blocking',
      waitUntil: d.type === 'flush-blocking' ? this.t + d.budgetMs : this.t,
    });
  }

  /** The next moment something happens to this flight while awake. */
  nextFor(f) {
    return f.serverDoneAt === null ? this.t + f.awakeLeft : Math.max(this.t, f.serverDoneAt);
  }

  /** Runs awake until `until`, or until `stop()` holds after an event. */
  runAwake(until, stop = () => false) {
    while (true) {
      let nextId = null;
      let nextFlight = Number.POSITIVE_INFINITY;
      for (const [id, f] of this.flights)
        if (this.nextFor(f) < nextFlight) {
          nextFlight = this.nextFor(f);
          nextId = id;
        }
      const nextTimer = this.timerAt === null ? Number.POSITIVE_INFINITY : Math.max(this.t, this.timerAt);
      const next = Math.min(nextFlight, nextTimer);
      if (next > until) {
        this.progress(until);
        return;
      }
      this.progress(next);
      if (nextFlight <= nextTimer) {
        const f = this.flights.get(nextId);
        if (f.serverDoneAt === null) f.serverDoneAt = this.t + f.serverMs;
        else this.complete(nextId);
      } else {
        this.timerAt = null;
        this.apply(this.core.handle({ type: 'timer' }));
      }
      if (stop()) return;
    }
  }

  /** Awake time passes: connecting and uploading progress. */
  progress(to) {
    const dt = to - this.t;
    for (const f of this.flights.values()) if (f.serverDoneAt === null) f.awakeLeft -= dt;
    this.t = to;
  }

  complete(id) {
    const f = this.flights.get(id);
    this.flights.delete(id);
    for (const produced of f.items) this.sim.delays.push(f.serverDoneAt - produced);
    const took = this.t - f.started;
    this.apply(this.core.handle({ type: 'flush-finished', id, outcome: 'success', durationMs: took }));
    const slow = f.items.length > 0 && f.slow;
    if (f.items.length > 0 && slow !== this.unhealthy) {
      this.unhealthy = slow;
      this.apply(this.core.handle({ type: 'backend-health', healthy: !slow }));
    }
  }

  /**
   * Whether the app still holds `/event/next`. Ours waits, within a blocking decision's budget, for
   * every flush in flight (a background flush left running would freeze with the sandbox); Datadog's
   * blocking flush waits for itself only.
   */
  waiting() {
    let open = false;
    for (const f of this.flights.values()) if (f.blocking && f.waitUntil > this.t) open = true;
    if (!open) return false;
    if (this.variant === 'datadog') {
      for (const f of this.flights.values()) if (f.blocking && f.waitUntil > this.t) return true;
      return false;
    }
    return this.flights.size > 0;
  }

  waitLimit() {
    let limit = this.t;
    for (const f of this.flights.values()) if (f.blocking) limit = Math.max(limit, f.waitUntil);
    return limit;
  }

  invoke(start) {
    // thaw: the frozen time passes with nothing progressing
    this.t = start;
    const sim = this.sim;
    const handler = Math.min(lognormal(sim.rng, 40, 0.6), TIMEOUT_MS - 100);
    const deadline = start + TIMEOUT_MS;
    this.apply(this.core.handle({ type: 'invocation-started', deadlineMs: deadline }));
    this.runAwake(start + handler / 2);
    this.buffer.push(this.t);
    this.runAwake(start + handler);
    this.buffer.push(this.t);
    const done = this.t;
    this.apply(this.core.handle({ type: 'runtime-done' }));
    this.buffer.push(this.t); // the platform report arrives after runtime done
    while (this.waiting()) this.runAwake(this.waitLimit(), () => !this.waiting());
    sim.postRuntime.push(this.t - done);
    if (this.t > deadline) sim.timeouts++;
    sim.invocations++;
    this.readyAt = this.t; // frozen from here
  }

  shutdown(at) {
    this.t = Math.max(at, this.readyAt);
    const deadline = this.t + SHUTDOWN_GRACE_MS;
    const decisions = this.core.handle({ type: 'shutdown', deadlineMs: deadline });
    this.apply(decisions);
    const final = decisions.find((d) => d.type === 'flush-blocking');
    const exitBy = final ? Math.min(deadline, this.t + final.budgetMs) : deadline;
    this.runAwake(exitBy, () => this.flights.size === 0);
    let lost = this.buffer.length;
    for (const f of this.flights.values()) {
      // the intake may have it even if the process is gone before the response
      if (f.serverDoneAt !== null && f.serverDoneAt <= deadline)
        for (const produced of f.items) this.sim.delays.push(f.serverDoneAt - produced);
      else lost += f.items.length;
    }
    this.sim.lost += lost;
  }
}

function simulateLambda(pattern, strategyValue, variant, seed) {
  const rng = seededRandom(seed);
  const arrivals = pattern.arrivals(seededRandom(seed * 7919 + 1));
  const parsed = parseFlushStrategy(strategyValue);
  const strategy = parsed.ok ? parsed.value : { kind: 'default' };
  const sim = {
    rng,
    intake: pattern.slow ? SLOW_INTAKE : HEALTHY_INTAKE,
    requests: 0,
    delays: [],
    postRuntime: [],
    timeouts: 0,
    lost: 0,
    invocations: 0,
    sandboxes: 0,
  };
  let pool = [];
  for (const a of arrivals) {
    const alive = [];
    for (const sb of pool) {
      if (sb.readyAt + IDLE_SHUTDOWN_MS < a) sb.shutdown(sb.readyAt + IDLE_SHUTDOWN_MS);
      else alive.push(sb);
    }
    pool = alive;
    let chosen = null;
    for (const sb of pool)
      if (sb.readyAt <= a && (chosen === null || sb.readyAt > chosen.readyAt)) chosen = sb;
    if (chosen === null) {
      chosen = new Sandbox(strategy, variant, sim, a - 150);
      sim.sandboxes++;
      pool.push(chosen);
    }
    chosen.invoke(a);
  }
  for (const sb of pool) sb.shutdown(sb.readyAt + IDLE_SHUTDOWN_MS);
  return summarize(sim, pattern.hours);
}

// serverless-init: one always-on container; the 3 s timer flushes in the background.
function simulateContainer(pattern, seed) {
  const rng = seededRandom(seed);
  const arrivals = pattern.arrivals(seededRandom(seed * 7919 + 1));
  const intake = pattern.slow ? SLOW_INTAKE : HEALTHY_INTAKE;
  const sim = {
    requests: 0,
    delays: [],
    postRuntime: [],
    timeouts: 0,
    lost: 0,
    invocations: arrivals.length,
  };
  const box = { t: 0 };
  const core = new FlushCore({ strategy: { kind: 'timer', intervalMs: 3000 }, clock: () => box.t });
  let timerAt = null;
  let buffer = [];
  const flights = new Map();
  const apply = (ds) => {
    for (const d of ds) {
      if (d.type === 'arm-timer') timerAt = d.at;
      else if (d.type !== 'nothing') {
        const items = buffer;
        buffer = [];
        if (items.length > 0) sim.requests++;
        flights.set(d.id, {
          items,
          end:
            box.t +
            (items.length
              ? 3 * lognormal(rng, RTT.medianMs, RTT.sigma) + lognormal(rng, intake.medianMs, intake.sigma)
              : 1),
        });
      }
    }
  };
  const runUntil = (until) => {
    while (true) {
      let next = timerAt ?? Number.POSITIVE_INFINITY;
      let id = null;
      for (const [k, f] of flights)
        if (f.end < next) {
          next = f.end;
          id = k;
        }
      if (next > until) break;
      box.t = next;
      if (id !== null) {
        const f = flights.get(id);
        flights.delete(id);
        for (const p of f.items) sim.delays.push(box.t - p);
        apply(core.handle({ type: 'flush-finished', id, outcome: 'success', durationMs: 0 }));
      } else {
        timerAt = null;
        apply(core.handle({ type: 'timer' }));
      }
    }
    box.t = until;
  };
  apply(core.handle({ type: 'extension-started' }));
  for (const a of arrivals) {
    const handler = lognormal(rng, 40, 0.6);
    runUntil(a + handler / 2);
    buffer.push(box.t);
    runUntil(a + handler);
    buffer.push(box.t, box.t);
    sim.postRuntime.push(0);
  }
  runUntil(pattern.hours * HOUR);
  apply(core.handle({ type: 'shutdown', deadlineMs: box.t + 9500 }));
  runUntil(box.t + 9500);
  sim.lost = buffer.length + [...flights.values()].reduce((n, f) => n + f.items.length, 0);
  return summarize(sim, pattern.hours);
}

function summarize(sim, hours) {
  const mean = (xs) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
  return {
    prMean: mean(sim.postRuntime),
    prP99: quantile(sim.postRuntime, 0.99),
    delayMean: mean(sim.delays) / 1000,
    delayMax: sim.delays.length === 0 ? 0 : Math.max(...sim.delays) / 1000,
    perHour: sim.requests / hours,
    timeouts: sim.timeouts,
    lost: sim.lost,
  };
}

function medianOver(seeds, run) {
  const runs = seeds.map(run);
  const out = {};
  for (const k of Object.keys(runs[0])) out[k] = median(runs.map((r) => r[k]));
  return out;
}

const fmt = {
  ms: (x) => (x < 10 ? x.toFixed(1) : x.toFixed(0)),
  s: (x) => (x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0)),
  n: (x) => (x < 10 && x % 1 !== 0 ? x.toFixed(1) : Math.round(x).toString()),
};
const cells = (r) => [
  fmt.ms(r.prMean),
  fmt.ms(r.prP99),
  fmt.s(r.delayMean),
  fmt.s(r.delayMax),
  fmt.n(r.perHour),
  fmt.n(r.timeouts),
  fmt.n(r.lost),
];

const showRatio = (a, b) => (a === 0 && b === 0 ? 'equal (0)' : ratio(a, b).toFixed(2));

const header = [
  'pattern',
  'strategy',
  'post-runtime mean ms',
  'p99 ms',
  'delay mean s',
  'delay max s',
  'flushes/h',
  'timeouts',
  'lost items',
];
const rows = [];
const ratios = [];
const started = Date.now();
const seeds = Array.from({ length: SEEDS }, (_, i) => i + 1);
for (const pattern of patterns) {
  for (const s of strategies) {
    const ours = medianOver(seeds, (seed) => simulateLambda(pattern, s.value, 'aware', seed));
    const theirs = medianOver(seeds, (seed) => simulateLambda(pattern, s.value, 'datadog', seed));
    rows.push([pattern.name, s.label, ...cells(ours)]);
    const differs = cells(ours).join() !== cells(theirs).join();
    if (s.value === 'default' || differs)
      rows.push([pattern.name, `${s.label} (Datadog's rule)`, ...cells(theirs)]);
    if (s.value === 'default')
      ratios.push([
        pattern.name,
        showRatio(ours.prMean, theirs.prMean),
        showRatio(ours.prP99, theirs.prP99),
        showRatio(ours.delayMean, theirs.delayMean),
        `${ours.timeouts} vs ${theirs.timeouts}`,
        `${ours.lost} vs ${theirs.lost}`,
      ]);
  }
  const container = medianOver(seeds, (seed) => simulateContainer(pattern, seed));
  rows.push([pattern.name, 'serverless-init 3 s (never frozen)', ...cells(container)]);
}

console.log(
  `flush simulator: ${SEEDS} seeds, function timeout ${TIMEOUT_MS} ms, round trip median ${RTT.medianMs} ms, ` +
    `intake processing median ${HEALTHY_INTAKE.medianMs} ms (slow intake ${SLOW_INTAKE.medianMs} ms), ` +
    'medians over seeds\n',
);
if (MARKDOWN) {
  console.log(`| ${header.join(' | ')} |`);
  console.log(`|${header.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`);
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
} else printTable(header, rows);
console.log('\nours / Datadog for the default strategy (below 1: ours adds less, or delivers sooner)\n');
printTable(['pattern', 'post-runtime mean', 'post-runtime p99', 'delay mean', 'timeouts', 'lost'], ratios);
console.log(`\n(${((Date.now() - started) / 1000).toFixed(1)} s)`);

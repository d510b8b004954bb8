import { AliasTable } from './alias-table.js';
import { type Logger, noopLogger, RateLimitedWarn } from './logger.js';
import { MetricLine, type ParseSink, parseDatagram } from './parse.js';
import { SampleLog } from './sample-log.js';
import { nthSmallest } from './select.js';
import { AgentSketch } from './sketch.js';
import { mergeTags, normalizeTags, TagCache, type TagSet } from './tags.js';
import { type DogStatsDEvent, MetricType, type ServiceCheck } from './types.js';

/** Width of the agent's time buckets, seconds. */
export const BUCKET_SECONDS = 10;

/** The metric the Datadog libraries send for each invocation, which the extension counts itself. */
export const LIBRARY_INVOCATIONS_METRIC = 'aws.lambda.enhanced.invocations';
const LIBRARY_INVOCATIONS_BYTES = Buffer.from(LIBRARY_INVOCATIONS_METRIC, 'latin1');

export type HistogramAggregate = 'max' | 'min' | 'median' | 'avg' | 'sum' | 'count';
export const DEFAULT_HISTOGRAM_AGGREGATES: readonly HistogramAggregate[] = ['max', 'median', 'avg', 'count'];
export const DEFAULT_HISTOGRAM_PERCENTILES: readonly number[] = [0.95];
export const DEFAULT_MAX_CONTEXTS = 100_000;

/** Origin metadata on series and sketches (product / category / service numbers of the intake). */
export interface MetricOrigin {
  product: number;
  category: number;
  service: number;
}

export interface AggregatorOptions {
  /** Clock in milliseconds (injected for tests). */
  now?: () => number;
  logger?: Logger;
  /** Tags added to every metric, event and service check (DD_TAGS, env/service/version, platform tags). */
  globalTags?: readonly string[];
  /**
   * Tag keys removed from the global tags of custom metrics, i.e. those that arrive over
   * DogStatsD (DD_LAMBDA_CUSTOMER_METRICS_EXCLUDE_TAGS). Metrics given to `submit` keep them all,
   * and so does a context shared by both.
   */
  customMetricsExcludeTagKeys?: readonly string[];
  /** Prefix for custom metric names (DD_STATSD_METRIC_NAMESPACE); a `.` is added if missing. */
  namespace?: string;
  histogramAggregates?: readonly HistogramAggregate[];
  histogramPercentiles?: readonly number[];
  /** Live contexts across all buckets; samples for new contexts beyond it are dropped and counted. */
  maxContexts?: number;
  /** Drop `aws.lambda.enhanced.invocations` sent over DogStatsD, as the Lambda extension does. */
  dropLibraryInvocations?: boolean;
  /** Host of every metric context; '' (none) in serverless environments. */
  hostname?: string;
  /**
   * Let a metric's `host:` tag set its host, as the agent does outside serverless mode. Off by
   * default: in serverless mode the agent ignores the override (the tag is still taken out).
   */
  hostTagOverride?: boolean;
  maxEvents?: number;
  maxServiceChecks?: number;
  /** Longest stretch a flush runs before yielding to the event loop. */
  flushSliceMs?: number;
  /** Origin metadata for a metric, or undefined for none. */
  origin?: (name: string, tags: readonly string[]) => MetricOrigin | undefined;
}

export type SubmitType = 'count' | 'gauge' | 'histogram' | 'distribution' | 'set';

/** A sample produced in-process (enhanced metrics), bypassing UDP and the custom-metric rules. */
export interface Sample {
  name: string;
  value: number | string;
  type?: SubmitType;
  /** Unix seconds; defaults to now. Aggregated into the 10 s bucket of this time. */
  timestamp?: number;
  tags?: readonly string[];
  sampleRate?: number;
}

/** A series as /api/v2/series takes it (type 1 count, 2 rate, 3 gauge). */
export interface Serie {
  metric: string;
  type: 1 | 2 | 3;
  points: { timestamp: number; value: number }[];
  tags: string[];
  resources?: { type: string; name: string }[];
  interval?: number;
  metadata?: {
    origin: { origin_product: number; origin_sub_product: number; origin_product_detail: number };
  };
}

/** A distribution, ready for the SketchPayload encoder. */
export interface SketchEntry {
  metric: string;
  host: string;
  tags: string[];
  ts: number;
  sketch: AgentSketch;
  origin?: MetricOrigin;
}

export interface AggregatorStats {
  datagrams: number;
  bytes: number;
  lines: number;
  metricSamples: number;
  events: number;
  serviceChecks: number;
  parseErrors: number;
  contexts: number;
  contextsDropped: number;
  samplesDropped: number;
  eventsDropped: number;
  serviceChecksDropped: number;
  libraryInvocationsDropped: number;
  /** Datagrams the server could not hand to the parser (a bug guard; expected to stay 0). */
  datagramsDropped: number;
  flushes: number;
  /** Longest synchronous stretch of the last flush, ms. */
  lastFlushLongestSliceMs: number;
}

export interface FlushOptions {
  /**
   * Flush every bucket, the current one included (the end of an invocation, shutdown). Otherwise
   * only buckets whose 10 s have passed are flushed, as the agent's time sampler does.
   */
  all?: boolean;
}

export interface FlushVisitor {
  serie(s: Serie): void;
  sketch(s: SketchEntry): void;
  /**
   * When present, a flush that runs in a parser worker hands each sketch here already encoded
   * (`encodeSketch`'s bytes) instead of rebuilding it on this thread for `sketch()`.
   */
  sketchEncoded?(bytes: Uint8Array): void;
  /**
   * When present, series arrive here instead, already serialised as /api/v2/series JSON objects:
   * the flush then builds no Serie objects and serialises each tag list once.
   */
  serieJson?(json: string): void;
  /**
   * True when the visitor is done with a SketchEntry once `sketch()` returns (it encodes it at
   * once): the aggregator then empties and reuses the sketch for the context's next bucket
   * rather than allocating one, so a flush leaves less for the garbage collector.
   */
  consumesSketches?: boolean;
}

/**
 * An identity's tags merged with the global tags, and their JSON, computed at its first flush and
 * kept: a flush of 100k contexts then allocates almost nothing per context but its series, which
 * keeps the garbage collector's pauses short.
 */
interface FlushTags {
  /** Merged for a custom context (without the excluded global tags) or not. */
  custom: boolean;
  tags: string[];
  json: string | undefined;
  /** From `dd.internal.resource:<name>:<type>` tags; undefined when there are none. */
  resources: { type: string; name: string }[] | undefined;
  /** `resources` as JSON array items, without the brackets. */
  resourcesJson?: string;
}

const RESOURCE_TAG = 'dd.internal.resource:';

/**
 * The extension turns a metric's `dd.internal.resource:<name>:<type>` tags into series
 * resources (the tag itself stays), splitting the value at its first `:`.
 */
function resourcesOf(tags: readonly string[]): { type: string; name: string }[] | undefined {
  let out: { type: string; name: string }[] | undefined;
  for (const t of tags) {
    if (!t.startsWith(RESOURCE_TAG)) continue;
    const i = t.indexOf(':', RESOURCE_TAG.length);
    if (i < 0) continue;
    if (out === undefined) out = [];
    out.push({ type: t.slice(i + 1), name: t.slice(RESOURCE_TAG.length, i) });
  }
  return out;
}

export interface FlushedMetrics {
  series: Serie[];
  sketches: SketchEntry[];
  events: DogStatsDEvent[];
  serviceChecks: ServiceCheck[];
}

/**
 * What a context is, independent of time: name, tags, host, origin, and the type of its first
 * sample. Resolved once and reused by every bucket, so a new 10 s bucket costs one small object
 * per context.
 */
class Identity {
  /** Its place in the aggregator's list of identities (what the alias table and the sample log hold). */
  index = -1;
  /** The context of the bucket last used, so the common case skips the bucket's Map. */
  lastBucket: Bucket | undefined;
  lastCtx: Context | undefined;
  flushTags: FlushTags | undefined;
  /** Its context of a flushed bucket, kept for its next bucket instead of a new one. */
  spare: Context | undefined;

  constructor(
    readonly name: string,
    readonly type: MetricType,
    readonly tags: TagSet,
    readonly host: string,
    /** Only DogStatsD samples so far; one sample from `submit` makes it a non-custom context. */
    public custom: boolean,
  ) {}
}

class Context {
  value = 0;
  sum = 0;
  count = 0;
  sketch: AgentSketch | undefined;
  members: Set<string> | undefined;
  hValues: number[] | undefined;
  /** Per-sample weights, only once a sample with weight ≠ 1 arrived (sampled histograms). */
  hWeights: number[] | undefined;

  readonly name: string;
  readonly type: MetricType;
  readonly tags: TagSet;
  readonly host: string;

  constructor(readonly id: Identity) {
    this.name = id.name;
    this.type = id.type;
    this.tags = id.tags;
    this.host = id.host;
    const type = id.type;
    if (type === MetricType.Distribution) this.sketch = new AgentSketch();
    else if (type === MetricType.Set) this.members = new Set();
    else if (type === MetricType.Histogram) {
      this.hValues = [];
    }
  }

  /** Whether the flush handed the sketch out to a visitor that may keep it. */
  sketchHandedOut = false;

  /** Empties a flushed context for another bucket; a sketch handed out is replaced, not emptied. */
  reuse(): void {
    this.value = 0;
    this.sum = 0;
    this.count = 0;
    if (this.sketch !== undefined) {
      if (this.sketchHandedOut) this.sketch = new AgentSketch();
      else this.sketch.clear();
      this.sketchHandedOut = false;
    }
    this.members?.clear();
    if (this.hValues !== undefined) this.hValues.length = 0;
    this.hWeights = undefined;
  }
}

class Bucket {
  readonly contexts = new Map<Identity, Context>();
  constructor(readonly ts: number) {}
}

/** Bytes the hashes cover (name, type, tags; -1 for "no tags" so it differs from "#"). */
function rawLength(line: MetricLine): number {
  const tags = line.tagsStart < 0 ? -1 : line.tagsEnd - line.tagsStart;
  return line.nameEnd - line.nameStart + (line.typeEnd - line.typeStart) + tags;
}

/** Above this many unweighted samples, a histogram's order statistics are selected, not sorted. */
const SELECT_ABOVE = 4096;

const HISTOGRAM_AGGREGATES = new Set<string>(['max', 'min', 'median', 'avg', 'sum', 'count']);

function weightOf(rate: number): number {
  return rate > 0 && rate < 1 ? Math.trunc(1 / rate) : 1;
}

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Where an aggregator's work goes while a parser worker runs it (`ParseWorkerLink`): the worker
 * holds the contexts; this thread only queues datagrams and asks for flushes.
 */
export interface RemoteAggregation {
  push(buf: Buffer, length: number): void;
  submit(sample: Sample): boolean;
  /** The worker's counters as it last published them. */
  stats(): AggregatorStats;
  flushTo(visitor: FlushVisitor, options: FlushOptions): Promise<void>;
}

/** The options a parser worker rebuilds an aggregator from: everything but the functions. */
export type WorkerAggregatorOptions = Omit<AggregatorOptions, 'now' | 'logger' | 'origin'>;

/** Adds `from`'s counts to `into`'s; `contexts` and the flush's longest slice are readings, not counts. */
function addCounts(into: AggregatorStats, from: AggregatorStats): void {
  for (const k of Object.keys(into) as (keyof AggregatorStats)[]) {
    if (k !== 'contexts' && k !== 'lastFlushLongestSliceMs') into[k] += from[k];
  }
}

/**
 * Aggregates DogStatsD lines and in-process samples into 10 s buckets the way the Datadog agent
 * does, and flushes them as series and sketches in time slices.
 */
export class Aggregator {
  private readonly now: () => number;
  private readonly options: AggregatorOptions;
  private remote: RemoteAggregation | undefined;
  private readonly logger: Logger;
  private readonly badLineLog: RateLimitedWarn;
  private readonly dropLog: RateLimitedWarn;
  private readonly tagCache = new TagCache(50_000);
  private readonly line = new MetricLine();
  private readonly sink: ParseSink;
  private readonly namespace: string;
  private readonly globalAll: string[];
  private readonly globalCustom: string[];
  private readonly aggregates: readonly HistogramAggregate[];
  private readonly percentiles: readonly number[];
  private readonly maxContexts: number;
  private readonly dropLibraryInvocations: boolean;
  private readonly hostname: string;
  private readonly hostTagOverride: boolean;
  private readonly maxEvents: number;
  private readonly maxServiceChecks: number;
  private readonly flushSliceMs: number;
  private readonly origin: AggregatorOptions['origin'];

  private buckets = new Map<number, Bucket>();
  private lastBucket: Bucket | undefined;
  private liveContexts = 0;
  /** Parser hash → raw keys seen, so a repeated line costs no decoding, in any bucket. */
  /** Raw fingerprint → (identity index << 3 | type), so a repeated line reads no object. */
  private aliases = new AliasTable();
  /** Canonical key → identity: different raw spellings (tag order, duplicates) meet here. */
  private identities = new Map<string, Identity>();
  /** Identities by index. */
  private idList: Identity[] = [];
  /** Lines parsed but not yet aggregated; drained when full and before anything reads the contexts. */
  private readonly pending = new SampleLog();
  /** The clock read once per datagram. */
  private nowSec = 0;
  private events: DogStatsDEvent[] = [];
  private serviceChecks: ServiceCheck[] = [];
  private readonly counters: AggregatorStats = {
    datagrams: 0,
    bytes: 0,
    lines: 0,
    metricSamples: 0,
    events: 0,
    serviceChecks: 0,
    parseErrors: 0,
    contexts: 0,
    contextsDropped: 0,
    samplesDropped: 0,
    eventsDropped: 0,
    serviceChecksDropped: 0,
    libraryInvocationsDropped: 0,
    datagramsDropped: 0,
    flushes: 0,
    lastFlushLongestSliceMs: 0,
  };

  constructor(options: AggregatorOptions = {}) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? noopLogger;
    this.badLineLog = new RateLimitedWarn(this.logger, 10_000, this.now);
    this.dropLog = new RateLimitedWarn(this.logger, 10_000, this.now);
    const ns = options.namespace ?? '';
    this.namespace = ns === '' || ns.endsWith('.') ? ns : `${ns}.`;
    this.globalAll = normalizeTags(options.globalTags ?? []).tags as string[];
    const excluded = new Set(options.customMetricsExcludeTagKeys ?? []);
    this.globalCustom = this.globalAll.filter((t) => {
      const i = t.indexOf(':');
      return !excluded.has(i < 0 ? t : t.slice(0, i));
    });
    this.aggregates = (options.histogramAggregates ?? DEFAULT_HISTOGRAM_AGGREGATES).filter((a) =>
      HISTOGRAM_AGGREGATES.has(a),
    );
    this.percentiles = (options.histogramPercentiles ?? DEFAULT_HISTOGRAM_PERCENTILES).filter(
      (p) => p > 0 && p < 1,
    );
    this.maxContexts = options.maxContexts ?? DEFAULT_MAX_CONTEXTS;
    this.dropLibraryInvocations = options.dropLibraryInvocations ?? true;
    this.hostname = options.hostname ?? '';
    this.hostTagOverride = options.hostTagOverride ?? false;
    this.maxEvents = options.maxEvents ?? 10_000;
    this.maxServiceChecks = options.maxServiceChecks ?? 10_000;
    // Well under the 20 ms budget: a GC pause or a descheduled process adds to a slice's wall time.
    this.flushSliceMs = options.flushSliceMs ?? 5;
    this.origin = options.origin;
    this.sink = {
      metric: (line) => this.onMetric(line),
      event: (e) => this.addEvent(e),
      serviceCheck: (c) => this.addServiceCheck(c),
      invalid: (reason, buf, start, end) => this.onInvalid(reason, buf, start, end),
    };
  }

  /** Parses and aggregates one datagram (`buf[0, length)`). Never throws on bad input. */
  ingest(buf: Buffer, length = buf.length): void {
    const remote = this.remote;
    if (remote !== undefined) {
      remote.push(buf, length);
      return;
    }
    this.nowSec = Math.floor(this.now() / 1000);
    this.counters.datagrams++;
    this.counters.bytes += length;
    this.counters.lines += parseDatagram(buf, this.sink, this.line, length);
  }

  /** Aggregates a sample produced in-process; returns false when it was dropped. */
  submit(sample: Sample): boolean {
    if (this.remote !== undefined) return this.remote.submit(sample);
    this.drain();
    const type = submitType(sample.type ?? 'distribution');
    const nowSec = Math.floor(this.now() / 1000);
    const ts = sample.timestamp !== undefined && sample.timestamp > 0 ? Math.floor(sample.timestamp) : nowSec;
    const tags = normalizeTags(sample.tags ?? []);
    const id = this.identity(sample.name, type, tags, false);
    const ctx = id === undefined ? undefined : this.contextIn(id, this.bucketFor(Math.min(ts, nowSec)));
    if (ctx === undefined) return false;
    this.counters.metricSamples++;
    if (ctx.type === MetricType.Set) {
      ctx.members!.add(String(sample.value));
      return true;
    }
    const v = typeof sample.value === 'number' ? sample.value : Number(sample.value);
    if (!Number.isFinite(v)) return false;
    this.addValue(ctx, v, sample.sampleRate ?? 1);
    return true;
  }

  stats(): AggregatorStats {
    if (this.remote !== undefined) {
      // The worker's counters, plus what this thread counted itself (datagrams the full queue
      // dropped, events beyond the buffer).
      const merged = { ...this.remote.stats() };
      addCounts(merged, this.counters);
      return merged;
    }
    this.drain();
    return { ...this.counters, contexts: this.liveContexts };
  }

  /**
   * The options a parser worker needs, or undefined when this aggregator cannot run in one: an
   * `origin` function cannot cross to another thread, and samples it already holds would not
   * join the worker's contexts.
   */
  workerOptions(): WorkerAggregatorOptions | undefined {
    if (this.options.origin !== undefined) return undefined;
    // Contexts already here would meet the worker's only in the intake, as two points.
    this.drain();
    if (this.buckets.size > 0) return undefined;
    const { now: _now, logger: _logger, origin: _origin, ...rest } = this.options;
    return rest;
  }

  /** The clock and logger this aggregator was given (the worker's datagrams are stamped with the clock). */
  get clock(): () => number {
    return this.now;
  }

  get log(): Logger {
    return this.logger;
  }

  /**
   * Hands ingest, submit, stats and flushes to a parser worker (`remote`), or takes them back
   * (`undefined`), adding the counters the worker had published to this aggregator's own, so
   * none go backwards. The worker's contexts are not handed back.
   */
  delegate(remote: RemoteAggregation | undefined, counted?: AggregatorStats): void {
    if (remote === undefined && counted !== undefined) addCounts(this.counters, counted);
    this.remote = remote;
  }

  /** Events and service checks a parser worker parsed (tags already merged), within the buffers' bounds. */
  adoptEventsAndChecks(events: readonly DogStatsDEvent[], checks: readonly ServiceCheck[]): void {
    for (const e of events) {
      if (this.events.length >= this.maxEvents) {
        this.counters.eventsDropped++;
        this.dropLog.warn('dogstatsd: event buffer full, dropping events');
      } else this.events.push(e);
    }
    for (const c of checks) {
      if (this.serviceChecks.length >= this.maxServiceChecks) {
        this.counters.serviceChecksDropped++;
        this.dropLog.warn('dogstatsd: service check buffer full, dropping service checks');
      } else this.serviceChecks.push(c);
    }
  }

  /** Counts a datagram rejected before parsing (e.g. by the server). */
  countDroppedDatagram(): void {
    this.counters.datagramsDropped++;
  }

  private onInvalid(reason: string, buf: Buffer, start: number, end: number): void {
    this.counters.parseErrors++;
    const shown = buf.toString('utf8', start, Math.min(end, start + 200)).replace(/[^\x20-\x7e]/g, '?');
    this.badLineLog.warn(`dogstatsd: skipping invalid line (${reason}): "${shown}"`);
  }

  private addEvent(e: DogStatsDEvent): void {
    this.counters.events++;
    if (this.events.length >= this.maxEvents) {
      this.counters.eventsDropped++;
      this.dropLog.warn('dogstatsd: event buffer full, dropping events');
      return;
    }
    if (e.timestamp === 0) e.timestamp = Math.floor(this.now() / 1000);
    if (e.host === '') e.host = this.hostFromTags(e.tags);
    e.tags = mergeTags(normalizeTags(e.tags).tags, this.globalCustom);
    this.events.push(e);
  }

  private addServiceCheck(c: ServiceCheck): void {
    this.counters.serviceChecks++;
    if (this.serviceChecks.length >= this.maxServiceChecks) {
      this.counters.serviceChecksDropped++;
      this.dropLog.warn('dogstatsd: service check buffer full, dropping service checks');
      return;
    }
    if (c.timestamp === 0) c.timestamp = Math.floor(this.now() / 1000);
    if (c.host === '') c.host = this.hostFromTags(c.tags);
    c.tags = mergeTags(normalizeTags(c.tags).tags, this.globalCustom);
    this.serviceChecks.push(c);
  }

  private hostFromTags(tags: readonly string[]): string {
    for (const t of tags) if (t.startsWith('host:')) return t.slice(5);
    return this.hostname;
  }

  private bucketFor(ts: number): Bucket {
    const start = ts - (ts % BUCKET_SECONDS);
    const last = this.lastBucket;
    if (last !== undefined && last.ts === start) return last;
    let b = this.buckets.get(start);
    if (b === undefined) {
      b = new Bucket(start);
      this.buckets.set(start, b);
    }
    this.lastBucket = b;
    return b;
  }

  private onMetric(line: MetricLine): void {
    const buf = line.buf;
    const nameLen = line.nameEnd - line.nameStart;
    // The extension drops every line that starts with the name, not only the exact name.
    if (
      this.dropLibraryInvocations &&
      nameLen >= LIBRARY_INVOCATIONS_BYTES.length &&
      buf.compare(
        LIBRARY_INVOCATIONS_BYTES,
        0,
        LIBRARY_INVOCATIONS_BYTES.length,
        line.nameStart,
        line.nameStart + LIBRARY_INVOCATIONS_BYTES.length,
      ) === 0
    ) {
      this.counters.libraryInvocationsDropped++;
      return;
    }
    const nowSec = this.nowSec;
    // Timestamped samples go to their own bucket (future ones are clamped to now).
    const ts = line.timestamp > 0 && line.timestamp < nowSec ? line.timestamp : nowSec;
    // Look the raw bytes up by the parser's hash; decode and normalise only on a miss.
    const hash = line.hash;
    // Like the agent's 64-bit context keys, two independent hashes and the length identify the
    // bytes (a false match needs ~62 equal bits); the bytes themselves are decoded on first sight.
    const hash2 = line.hash2;
    const rawLen = rawLength(line);
    let alias = this.aliases.get(hash, hash2, rawLen);
    if (alias < 0) {
      const type = line.type === MetricType.Timing ? MetricType.Histogram : line.type;
      const found = this.identity(
        this.namespace + line.name(),
        type,
        this.tagCache.get(line.rawTags()),
        true,
      );
      if (found === undefined) return;
      alias = (found.index << 3) | found.type;
      if (this.aliases.size < this.maxContexts * 2) this.aliases.set(hash, hash2, rawLen, alias);
    }
    const n = line.valueCount;
    this.counters.metricSamples += n === 0 ? 1 : n;
    const index = alias >>> 3;
    if ((alias & 7) === MetricType.Set) {
      // Set members are strings: aggregated at once, after what is pending, to keep the order.
      this.drain();
      const ctx = this.contextIn(this.idList[index]!, this.bucketFor(ts));
      if (ctx !== undefined) ctx.members!.add(line.rawValue());
      return;
    }
    // Timestamped lines ignore the sample rate, as both the agent and the extension do.
    const rate = line.timestamp > 0 ? 1 : line.sampleRate;
    const values = line.values;
    const log = this.pending;
    if (!log.fits(n === 0 ? 1 : n)) {
      this.drain();
      if (!log.fits(n)) {
        // More packed values than the log holds: aggregated directly.
        const ctx = this.contextIn(this.idList[index]!, this.bucketFor(ts));
        if (ctx !== undefined) for (let i = 0; i < n; i++) this.addValue(ctx, values[i]!, rate);
        return;
      }
    }
    log.line(index, ts, rate);
    for (let i = 0; i < n; i++) log.value(values[i]!);
    // A set member joining a context of another type counts as the value 0, as in the agent.
    if (n === 0) log.value(0);
    log.end();
  }

  /** Aggregates the pending lines, in order: one context lookup per line, then its values. */
  private drain(): void {
    const log = this.pending;
    const count = log.length;
    if (count === 0) return;
    log.clear();
    const { ids, times, rates, starts, values } = log;
    const idList = this.idList;
    // Consecutive lines mostly share their second: their bucket is looked up once.
    let time = -1;
    let bucket: Bucket | undefined;
    for (let i = 0; i < count; i++) {
      const t = times[i]!;
      if (t !== time || bucket === undefined) {
        time = t;
        bucket = this.bucketFor(t);
      }
      const ctx = this.contextIn(idList[ids[i]!]!, bucket);
      if (ctx === undefined) continue;
      const rate = rates[i]!;
      const first = starts[i]!;
      const end = starts[i + 1]!;
      // The common types are aggregated here rather than through addValue: a call would box
      // each value and rate (a heap number each), which the garbage collector then pays for.
      const type = ctx.type;
      if (type === MetricType.Count) {
        let sum = ctx.value;
        const scaled = rate > 0 && rate < 1;
        for (let j = first; j < end; j++) sum += scaled ? values[j]! / rate : values[j]!;
        ctx.value = sum;
      } else if (type === MetricType.Gauge) {
        ctx.value = values[end - 1]!;
      } else if (type === MetricType.Distribution) {
        const sketch = ctx.sketch!;
        const weight = weightOf(rate);
        for (let j = first; j < end; j++) sketch.insert(values[j]!, weight);
      } else {
        for (let j = first; j < end; j++) this.addValue(ctx, values[j]!, rate);
      }
    }
  }

  /** undefined when the identity cache is full (a cardinality burst): the sample is dropped. */
  private identity(name: string, type: MetricType, tags: TagSet, custom: boolean): Identity | undefined {
    const host = this.hostTagOverride && tags.host !== '' ? tags.host : this.hostname;
    // The agent's context key: name, host and tags, whatever the type or the transport. The
    // first sample's type decides how later ones aggregate; distributions are kept apart, as the
    // agent keeps its sketches apart from its series.
    const kind = type === MetricType.Distribution ? 'd' : 's';
    const key = `${kind}\u0000${name}\u0000${tags.key}\u0000${host}`;
    let id = this.identities.get(key);
    if (id === undefined) {
      if (this.identities.size >= this.maxContexts * 2) {
        this.counters.contextsDropped++;
        this.counters.samplesDropped++;
        this.dropLog.warn('dogstatsd: too many distinct contexts since the last flush, dropping samples');
        return undefined;
      }
      id = new Identity(name, type, tags, host, custom);
      id.index = this.idList.length;
      this.idList.push(id);
      this.identities.set(key, id);
    } else if (!custom) {
      id.custom = false;
    }
    return id;
  }

  private contextIn(id: Identity, bucket: Bucket): Context | undefined {
    if (id.lastBucket === bucket) return id.lastCtx;
    let ctx = bucket.contexts.get(id);
    if (ctx !== undefined) {
      id.lastBucket = bucket;
      id.lastCtx = ctx;
      return ctx;
    }
    if (this.liveContexts >= this.maxContexts) {
      this.counters.contextsDropped++;
      this.counters.samplesDropped++;
      this.dropLog.warn(`dogstatsd: ${this.maxContexts} contexts reached, dropping samples of new contexts`);
      return undefined;
    }
    ctx = id.spare;
    if (ctx === undefined) {
      ctx = new Context(id);
    } else {
      id.spare = undefined;
      ctx.reuse();
    }
    bucket.contexts.set(id, ctx);
    id.lastBucket = bucket;
    id.lastCtx = ctx;
    this.liveContexts++;
    return ctx;
  }

  /**
   * Keeps the identity caches bounded: once they outgrow the context limit, they restart from
   * the identities the remaining buckets still use (spellings are then learned again).
   */
  private trimIdentities(): void {
    if (this.identities.size <= this.maxContexts && this.aliases.size <= this.maxContexts * 2) return;
    // Indexes are about to change: nothing pending may still refer to them.
    this.drain();
    const keep = new Set<Identity>();
    for (const b of this.buckets.values()) for (const id of b.contexts.keys()) keep.add(id);
    const identities = new Map<string, Identity>();
    const idList: Identity[] = [];
    for (const [key, id] of this.identities) {
      if (!keep.has(id)) continue;
      identities.set(key, id);
      id.index = idList.length;
      idList.push(id);
    }
    this.identities = identities;
    this.idList = idList;
    this.aliases = new AliasTable();
  }

  private addValue(ctx: Context, v: number, rate: number): void {
    switch (ctx.type) {
      case MetricType.Count:
        ctx.value += rate > 0 && rate < 1 ? v / rate : v;
        return;
      case MetricType.Gauge:
        ctx.value = v;
        return;
      case MetricType.Distribution:
        ctx.sketch!.insert(v, weightOf(rate));
        return;
      case MetricType.Histogram: {
        const w = weightOf(rate);
        const values = ctx.hValues!;
        if (w !== 1 && ctx.hWeights === undefined) ctx.hWeights = values.map(() => 1);
        values.push(v);
        ctx.hWeights?.push(w);
        ctx.count += w;
        ctx.sum += rate > 0 && rate < 1 ? v / rate : v;
        return;
      }
      default:
        return;
    }
  }

  /** Takes the buckets to flush out of the live store, so samples arriving meanwhile start new ones. */
  private detach(all: boolean): Bucket[] {
    const nowSec = Math.floor(this.now() / 1000);
    const out: Bucket[] = [];
    for (const [ts, b] of this.buckets) {
      if (all || ts + BUCKET_SECONDS <= nowSec) {
        out.push(b);
        this.buckets.delete(ts);
        this.liveContexts -= b.contexts.size;
        // Identities may still point at a detached bucket: never a match (it is no longer
        // live), and flushTo unlinks them slice by slice rather than in one walk here.
      }
    }
    this.lastBucket = undefined;
    this.trimIdentities();
    out.sort((a, b) => a.ts - b.ts);
    return out;
  }

  /** Takes the buffered events and service checks. */
  takeEventsAndChecks(): { events: DogStatsDEvent[]; serviceChecks: ServiceCheck[] } {
    const r = { events: this.events, serviceChecks: this.serviceChecks };
    this.events = [];
    this.serviceChecks = [];
    return r;
  }

  /**
   * Converts the flushed contexts to series and sketches, handing each to `visitor`, and yields
   * to the event loop whenever a slice has run `flushSliceMs`, so 100k contexts never stall
   * the socket for long.
   */
  async flushTo(visitor: FlushVisitor, options: FlushOptions = {}): Promise<void> {
    if (this.remote !== undefined) return this.remote.flushTo(visitor, options);
    return this.flushHere(visitor, options);
  }

  private async flushHere(visitor: FlushVisitor, options: FlushOptions): Promise<void> {
    // The first slice includes detaching, which walks every flushed context once.
    let sliceStart = performance.now();
    this.drain();
    const buckets = this.detach(options.all ?? false);
    this.counters.flushes++;
    let longest = 0;
    for (const bucket of buckets) {
      let i = 0;
      for (const ctx of bucket.contexts.values()) {
        // A flushed bucket must not stay reachable through the identities' caches.
        const id = ctx.id;
        if (id.lastBucket === bucket) {
          id.lastBucket = undefined;
          id.lastCtx = undefined;
        }
        this.emit(ctx, bucket.ts, visitor);
        id.spare = ctx;
        // A context can take tens of µs (a sketch to encode, a histogram to sort): check often.
        if ((++i & 7) === 0) {
          const elapsed = performance.now() - sliceStart;
          if (elapsed >= this.flushSliceMs) {
            if (elapsed > longest) longest = elapsed;
            await yieldToLoop();
            sliceStart = performance.now();
          }
        }
      }
    }
    const last = performance.now() - sliceStart;
    this.counters.lastFlushLongestSliceMs = Math.max(longest, last);
  }

  /** Flushes into plain arrays (series, sketches, events, service checks). */
  async flush(options: FlushOptions = {}): Promise<FlushedMetrics> {
    const series: Serie[] = [];
    const sketches: SketchEntry[] = [];
    await this.flushTo({ serie: (s) => series.push(s), sketch: (s) => sketches.push(s) }, options);
    return { series, sketches, ...this.takeEventsAndChecks() };
  }

  private tagsOf(ctx: Context): FlushTags {
    const id = ctx.id;
    const custom = id.custom;
    let t = id.flushTags;
    if (t === undefined || t.custom !== custom) {
      t = {
        custom,
        tags: mergeTags(ctx.tags.tags, custom ? this.globalCustom : this.globalAll),
        json: undefined,
        resources: resourcesOf(ctx.tags.tags),
      };
      id.flushTags = t;
    }
    return t;
  }

  private emit(ctx: Context, ts: number, visitor: FlushVisitor): void {
    const flushTags = this.tagsOf(ctx);
    const tags = flushTags.tags;
    const origin = this.origin?.(ctx.name, tags);
    if (ctx.type === MetricType.Distribution) {
      if (ctx.sketch!.isEmpty) return;
      const entry: SketchEntry = { metric: ctx.name, host: ctx.host, tags, ts, sketch: ctx.sketch! };
      if (origin !== undefined) entry.origin = origin;
      ctx.sketchHandedOut = visitor.consumesSketches !== true;
      visitor.sketch(entry);
      return;
    }
    const toJson = visitor.serieJson;
    if (toJson !== undefined) {
      if (flushTags.json === undefined) flushTags.json = JSON.stringify(tags);
      // Everything but the name, value and type is shared by the context's series.
      let tail = `}],"tags":${flushTags.json}`;
      const fromTags = flushTags.resources;
      if (ctx.host !== '' || fromTags !== undefined) {
        const host = ctx.host === '' ? '' : `{"type":"host","name":${JSON.stringify(ctx.host)}}`;
        if (fromTags !== undefined && flushTags.resourcesJson === undefined) {
          flushTags.resourcesJson = JSON.stringify(fromTags).slice(1, -1);
        }
        const rest = flushTags.resourcesJson ?? '';
        tail += `,"resources":[${host}${host !== '' && rest !== '' ? ',' : ''}${rest}]`;
      }
      if (origin !== undefined) {
        tail += `,"metadata":{"origin":{"origin_product":${origin.product},"origin_sub_product":${origin.category},"origin_product_detail":${origin.service}}}`;
      }
      const serieJson = (metric: string, type: 1 | 2 | 3, value: number, interval?: number): void => {
        // JSON has no Infinity or NaN; such a value (an overflowing sum) is not sent.
        if (!Number.isFinite(value)) return;
        const iv = interval === undefined ? '' : `,"interval":${interval}`;
        toJson.call(
          visitor,
          `{"metric":${JSON.stringify(metric)},"type":${type},"points":[{"timestamp":${ts},"value":${value}${tail}${iv}}`,
        );
      };
      this.emitSeries(ctx, serieJson);
      return;
    }
    const serie = (metric: string, type: 1 | 2 | 3, value: number, interval?: number): void => {
      if (!Number.isFinite(value)) return;
      const s: Serie = { metric, type, points: [{ timestamp: ts, value }], tags };
      const resources = resourcesFor(ctx.host, flushTags.resources);
      if (resources !== undefined) s.resources = resources;
      if (interval !== undefined) s.interval = interval;
      if (origin !== undefined) {
        s.metadata = {
          origin: {
            origin_product: origin.product,
            origin_sub_product: origin.category,
            origin_product_detail: origin.service,
          },
        };
      }
      visitor.serie(s);
    };
    this.emitSeries(ctx, serie);
  }

  private emitSeries(ctx: Context, serie: (m: string, t: 1 | 2 | 3, v: number, i?: number) => void): void {
    switch (ctx.type) {
      case MetricType.Count:
        serie(ctx.name, 1, ctx.value, BUCKET_SECONDS);
        return;
      case MetricType.Gauge:
        serie(ctx.name, 3, ctx.value);
        return;
      case MetricType.Set:
        serie(ctx.name, 3, ctx.members!.size);
        return;
      case MetricType.Histogram:
        this.emitHistogram(ctx, serie);
        return;
      default:
        return;
    }
  }

  private emitHistogram(ctx: Context, serie: (m: string, t: 1 | 2 | 3, v: number, i?: number) => void): void {
    const n = ctx.hValues!.length;
    if (n === 0) return;
    const count = ctx.count;
    let sorted: Float64Array;
    let sortedWeights: Float64Array | undefined;
    let select = false;
    if (ctx.hWeights === undefined) {
      // Unweighted (the usual case): a native numeric sort of a typed array, or, for a very large
      // context, a selection of each order statistic, so one context does not stall the flush.
      sorted = Float64Array.from(ctx.hValues!);
      if (n > SELECT_ABOVE) select = true;
      else sorted.sort();
    } else {
      const values = ctx.hValues!;
      const weights = ctx.hWeights;
      const order = Uint32Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a]! - values[b]!);
      sorted = new Float64Array(n);
      sortedWeights = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        sorted[i] = values[order[i]!]!;
        sortedWeights[i] = weights[order[i]!]!;
      }
    }
    const rank = (i: number): number => (select ? nthSmallest(sorted, i) : sorted[i]!);
    // The agent's weighted walk: the first sample whose cumulative weight passes the target.
    const at = (target: number): number => {
      if (sortedWeights === undefined) {
        const i = Math.floor(target);
        return rank(i < 0 ? 0 : i >= n ? n - 1 : i);
      }
      let cum = 0;
      for (let i = 0; i < n; i++) {
        cum += sortedWeights[i]!;
        if (cum > target) return sorted[i]!;
      }
      return sorted[n - 1]!;
    };
    for (const agg of this.aggregates) {
      const name = `${ctx.name}.${agg}`;
      if (agg === 'max') serie(name, 3, rank(n - 1));
      else if (agg === 'min') serie(name, 3, rank(0));
      else if (agg === 'median') serie(name, 3, at((count - 1) / 2));
      else if (agg === 'avg') serie(name, 3, ctx.sum / count);
      else if (agg === 'sum') serie(name, 3, ctx.sum);
      else if (agg === 'count') serie(name, 2, count / BUCKET_SECONDS, BUCKET_SECONDS);
    }
    for (const p of this.percentiles) {
      const pct = Math.trunc(p * 100 + 0.5);
      serie(`${ctx.name}.${pct}percentile`, 3, at((pct * count - 1) / 100));
    }
  }
}

/** The host resource first, as the agent writes it, then those from resource tags. */
function resourcesFor(
  host: string,
  fromTags: { type: string; name: string }[] | undefined,
): { type: string; name: string }[] | undefined {
  if (host === '') return fromTags;
  const hostResource = { type: 'host', name: host };
  return fromTags === undefined ? [hostResource] : [hostResource, ...fromTags];
}

function submitType(t: SubmitType): MetricType {
  switch (t) {
    case 'count':
      return MetricType.Count;
    case 'gauge':
      return MetricType.Gauge;
    case 'histogram':
      return MetricType.Histogram;
    case 'set':
      return MetricType.Set;
    default:
      return MetricType.Distribution;
  }
}

// Span processing for Lambda and serverless containers: normalisation, the extension's own filters,
// tags, obfuscation, top-level marking, chunk priority. One tracer request in, one TracerPayload out.
import { isZeroId } from './ids.js';
import { defaultObfuscationOptions, type ObfuscationOptions, Obfuscator } from './obfuscate.js';
import type {
  Id,
  Span,
  SpanProcessorHook,
  SpanTagStamp,
  TraceChunk,
  TracerHeaders,
  TracerPayload,
} from './types.js';

export interface ReplaceRule {
  /** Tag name, `resource.name`, or `*` for every tag and the resource. */
  name: string;
  pattern: RegExp;
  repl: string;
}

export interface TagFilter {
  key: string;
  /** Exact value; undefined means "the key is present". */
  value?: string;
  regex?: RegExp;
}

export interface ProcessorOptions {
  /** Tags of the function or container (function_arn, functionname, region, env, service, DD_TAGS...). */
  tags: Record<string, string>;
  /** DD_SERVICE, lower-cased; replaces the tracer's generic `aws.lambda` service. */
  service?: string;
  env?: string;
  version?: string;
  /** `_dd.origin` to stamp (`lambda`), none when undefined. */
  origin?: string;
  /** DD_LAMBDA_EXTENSION_COMPUTE_STATS: when false the backend computes them (`_dd.compute_stats: 1`). */
  computeStats: boolean;
  replaceTags: ReplaceRule[];
  filterTagsRequire: TagFilter[];
  filterTagsReject: TagFilter[];
  ignoreResources: RegExp[];
  obfuscation: ObfuscationOptions;
  /** Ports of the extension and the Runtime API, whose calls the tracer should not have traced. */
  internalPorts: number[];
  /** How many (trace id, span id) pairs the de-duplicator remembers. */
  dedupCapacity: number;
}

export const defaultProcessorOptions = (): ProcessorOptions => ({
  tags: {},
  origin: 'lambda',
  computeStats: false,
  replaceTags: [],
  filterTagsRequire: [],
  filterTagsReject: [],
  ignoreResources: [],
  obfuscation: defaultObfuscationOptions(),
  internalPorts: [8124, 8125, 8126, 9001],
  dedupCapacity: 100,
});

/** Resource of the tracer's placeholder span in universal instrumentation. */
export const PLACEHOLDER_RESOURCE = 'dd-tracer-serverless-span';

export interface ProcessorCounters {
  spansReceived: number;
  spansDropped: { invalid: number; duplicate: number; internal: number; placeholder: number };
  chunksFiltered: { filterTags: number; ignoreResources: number };
  metaTruncated: number;
}

/** What an invocation tracer sees of each chunk: it may add spans (cold start) and re-parent some. */
export interface ChunkObserver {
  onPlaceholder?(span: Span): void;
  onChunk?(spans: Span[]): Span[] | undefined;
  /**
   * Every meta key the two methods above read or write. An observer that lists them may be given
   * spans whose meta holds only those keys (and others'); one that does not always gets whole spans.
   */
  readonly metaKeys?: readonly string[];
}

/** The meta keys the processing reads or writes itself (the obfuscator's, filters' and stamps' aside). */
const PROCESSING_META_KEYS = [
  'http.url',
  'tcp.remote.host',
  'out.host',
  'network.destination.name',
  'tcp.remote.port',
  'out.port',
  'network.destination.port',
  'dns.address',
  'dns.hostname',
  '_inferred_span.tag_source',
  '_dd.base_service',
  '_dd.origin',
];

const MAX_NAME = 100;
const MAX_SERVICE = 100;
const MAX_TYPE = 100;
const MAX_RESOURCE = 5000;
const MAX_META_KEY = 200;
const MAX_META_VALUE = 25000;
const PRIORITY_NONE = -128;

function truncate(s: string, n: number): string {
  return s.length > n ? s.slice(0, n) : s;
}

/** Ids as Map keys: one BigInt per value whatever width the tracer used. */
const idK = (id: Id): bigint => (typeof id === 'bigint' ? id : BigInt(id));

class DedupSet {
  // span id → trace id: a span id alone almost never repeats across traces, so one lookup decides
  private readonly map = new Map<bigint, bigint>();
  // the map's keys in insertion order, as a ring: the oldest is evicted without an iterator
  private readonly order: bigint[] = [];
  private next = 0;
  constructor(private readonly capacity: number) {}
  seen(span: Span): boolean {
    if (this.capacity <= 0) return false;
    const sid = idK(span.span_id);
    const tid = idK(span.trace_id);
    const known = this.map.get(sid);
    if (known === tid) return true;
    this.map.set(sid, tid);
    if (known !== undefined) return false;
    if (this.order.length < this.capacity) this.order.push(sid);
    else {
      this.map.delete(this.order[this.next]!);
      this.order[this.next] = sid;
      this.next = (this.next + 1) % this.capacity;
    }
    return false;
  }
}

export function rootOf(spans: Span[]): Span | undefined {
  if (spans.length === 0) return undefined;
  const ids = new Set<bigint>();
  for (const s of spans) ids.add(idK(s.span_id));
  return rootAmong(spans, ids);
}

/** rootOf with the chunk's span ids already collected. */
function rootAmong(spans: Span[], ids: { has(id: bigint): boolean }): Span | undefined {
  if (spans.length === 0) return undefined;
  let candidate: Span | undefined;
  for (const s of spans) {
    if (isZeroId(s.parent_id)) return s;
    if (!candidate && !ids.has(idK(s.parent_id))) candidate = s;
  }
  return candidate ?? spans[spans.length - 1];
}

function matchesFilter(span: Span, f: TagFilter): boolean {
  let v: string | undefined;
  if (f.key === 'name') v = span.name;
  else if (f.key === 'service') v = span.service;
  else if (f.key === 'resource') v = span.resource;
  else if (f.key === 'type') v = span.type;
  else v = span.meta[f.key] ?? (span.metrics[f.key] !== undefined ? String(span.metrics[f.key]) : undefined);
  if (v === undefined) return false;
  if (f.regex) return f.regex.test(v);
  return f.value === undefined || f.value === v;
}

export class SpanProcessor {
  readonly counters: ProcessorCounters = {
    spansReceived: 0,
    spansDropped: { invalid: 0, duplicate: 0, internal: 0, placeholder: 0 },
    chunksFiltered: { filterTags: 0, ignoreResources: 0 },
    metaTruncated: 0,
  };
  private readonly dedup: DedupSet;
  private readonly obfuscator: Obfuscator;
  private readonly hooks: SpanProcessorHook[] = [];
  private readonly observers: ChunkObserver[] = [];
  private readonly internalUrl: RegExp;
  private readonly functionTags: string;
  private readonly stamp: SpanTagStamp;
  /** watchedMetaKeys(), once known (null: not yet, or an observer came since). */
  private watched: string[] | undefined | null = null;

  constructor(private readonly opts: ProcessorOptions) {
    this.dedup = new DedupSet(opts.dedupCapacity);
    this.obfuscator = new Obfuscator(opts.obfuscation);
    const ports = opts.internalPorts.join('|');
    this.internalUrl = new RegExp(`^https?://(127\\.0\\.0\\.1|localhost|0\\.0\\.0\\.0):(${ports})(/|$)`);
    this.functionTags = Object.entries(opts.tags)
      .map(([k, v]) => `${k}:${v}`)
      .join(',');
    // tags every span gets, written at encoding rather than copied into each span's meta
    const always: Record<string, string> = {};
    if (opts.origin) {
      always['_dd.origin'] = opts.origin;
      always['origin'] = opts.origin;
    }
    if (!opts.computeStats) always['_dd.compute_stats'] = '1';
    const ifAbsent: Record<string, string> = {};
    if (opts.env) ifAbsent['env'] = opts.env;
    if (opts.version) ifAbsent['version'] = opts.version;
    Object.assign(ifAbsent, opts.tags);
    this.stamp = { always, ifAbsent };
  }

  /** The tags the encoder adds to every span (see TraceChunk.spanTags). */
  get spanTags(): SpanTagStamp {
    return this.stamp;
  }

  addHook(hook: SpanProcessorHook): void {
    this.hooks.push(hook);
  }

  addObserver(o: ChunkObserver): void {
    this.observers.push(o);
    this.watched = null;
  }

  /** Whether an app added a hook: hooks see whole spans. */
  get hasHooks(): boolean {
    return this.hooks.length > 0;
  }

  /**
   * Every meta key processing reads or writes, when processing can work on spans whose meta holds
   * only those (a transcoder copies the other entries as they are): undefined when it cannot (a
   * replace rule on every tag, an observer that does not list its keys). Entries outside these keys
   * that processing changes all the same are those `rewritesMeta` names; the tags the encoder adds
   * (`spanTags`) are the encoder's business.
   */
  watchedMetaKeys(): string[] | undefined {
    if (this.watched === null) this.watched = this.collectWatchedKeys();
    return this.watched;
  }

  private collectWatchedKeys(): string[] | undefined {
    const o = this.opts;
    if (o.replaceTags.some((r) => r.name === '*')) return undefined;
    const keys = [...PROCESSING_META_KEYS, ...this.obfuscator.metaKeys];
    for (const f of [...o.filterTagsRequire, ...o.filterTagsReject]) keys.push(f.key);
    for (const r of o.replaceTags) if (r.name !== 'resource.name') keys.push(r.name);
    for (const ob of this.observers) {
      if (!ob.metaKeys) return undefined;
      keys.push(...ob.metaKeys);
    }
    return keys;
  }

  /** Whether processing rewrites this meta entry although its key is not watched (a card number). */
  rewritesMeta(key: string, value: string): boolean {
    return this.obfuscator.scrubsCard(key, value);
  }

  get sqlParseErrors(): number {
    return this.obfuscator.sqlErrors.count;
  }

  /** A call the tracer made to the extension itself or to the Runtime API (and its DNS lookup). */
  isInternal(span: Span): boolean {
    const m = span.meta;
    const url = m['http.url'];
    if (url !== undefined && this.internalUrl.test(url)) return true;
    const host = m['tcp.remote.host'] ?? m['out.host'] ?? m['network.destination.name'];
    const port = Number(
      m['tcp.remote.port'] ??
        m['out.port'] ??
        m['network.destination.port'] ??
        // dd-trace 5 sends the port as a metric
        span.metrics['network.destination.port'] ??
        span.metrics['out.port'],
    );
    if (
      host !== undefined &&
      /^(127\.0\.0\.1|localhost|0\.0\.0\.0)$/.test(host) &&
      this.opts.internalPorts.includes(port)
    ) {
      return true;
    }
    const dns = m['dns.address'];
    if (dns !== undefined && /^(0\.0\.0\.0|127\.0\.0\.1|169\.254\.79\.129)/.test(dns)) return true;
    if (span.name === 'dns.lookup') {
      const h = m['dns.hostname'];
      if (
        h === 'localhost' ||
        h === '127.0.0.1' ||
        h === '0.0.0.0' ||
        h === 'sandbox' ||
        h === '169.254.79.129'
      )
        return true;
    }
    return false;
  }

  private normalize(span: Span): boolean {
    if (isZeroId(span.trace_id) || isZeroId(span.span_id)) return false;
    if (span.name === '') span.name = 'unnamed_operation';
    else if (span.name.length > MAX_NAME) span.name = truncate(span.name, MAX_NAME);
    if (span.service === '')
      span.service = this.opts.service ?? this.opts.tags['functionname'] ?? 'unnamed-service';
    else if (span.service.length > MAX_SERVICE) span.service = truncate(span.service, MAX_SERVICE);
    if (span.resource === '') span.resource = span.name;
    else if (span.resource.length > MAX_RESOURCE) span.resource = truncate(span.resource, MAX_RESOURCE);
    if (span.type.length > MAX_TYPE) span.type = truncate(span.type, MAX_TYPE);
    if (typeof span.duration === 'bigint' ? span.duration < 0n : span.duration < 0) span.duration = 0;
    const meta = span.meta;
    for (const k in meta) {
      const v = meta[k]!;
      if (k.length > MAX_META_KEY) {
        delete meta[k];
        meta[`${truncate(k, MAX_META_KEY)}...`] =
          v.length > MAX_META_VALUE ? `${truncate(v, MAX_META_VALUE)}...` : v;
        this.counters.metaTruncated++;
      } else if (v.length > MAX_META_VALUE) {
        meta[k] = `${truncate(v, MAX_META_VALUE)}...`;
        this.counters.metaTruncated++;
      }
    }
    for (const k in span.metrics) if (!Number.isFinite(span.metrics[k]!)) delete span.metrics[k];
    return true;
  }

  private rejectedByFilters(root: Span): boolean {
    const o = this.opts;
    if (o.filterTagsReject.some((f) => matchesFilter(root, f))) return true;
    if (o.filterTagsRequire.length > 0 && !o.filterTagsRequire.every((f) => matchesFilter(root, f)))
      return true;
    return false;
  }

  private applyReplace(span: Span): void {
    for (const r of this.opts.replaceTags) {
      if (r.name === '*' || r.name === 'resource.name')
        span.resource = span.resource.replace(r.pattern, r.repl);
      if (r.name === '*') {
        for (const k in span.meta) span.meta[k] = span.meta[k]!.replace(r.pattern, r.repl);
      } else if (r.name !== 'resource.name' && span.meta[r.name] !== undefined) {
        span.meta[r.name] = span.meta[r.name]!.replace(r.pattern, r.repl);
      }
    }
  }

  /** Processes one tracer request; returns undefined when nothing is left to send. */
  process(traces: Span[][], header: TracerHeaders): TracerPayload | undefined {
    const chunks: TraceChunk[] = [];
    for (const trace of traces) {
      const chunk = this.processChunk(trace, header);
      if (chunk) chunks.push(chunk);
    }
    if (chunks.length === 0) return undefined;
    const payload: TracerPayload = { header, chunks, tags: {} };
    if (this.functionTags !== '') payload.tags!['_dd.tags.function'] = this.functionTags;
    if (this.opts.env) payload.env = this.opts.env;
    if (this.opts.version) payload.appVersion = this.opts.version;
    for (const chunk of chunks) for (const h of this.hooks) h(chunk, payload);
    return payload;
  }

  /** Processes spans the extension made itself (aws.lambda, inferred, cold start): tags, no filters. */
  processOwn(spans: Span[], header: TracerHeaders): TracerPayload | undefined {
    return this.process([spans], header);
  }

  private processChunk(trace: Span[], header: TracerHeaders): TraceChunk | undefined {
    const c = this.counters;
    c.spansReceived += trace.length;
    let spans: Span[] = [];
    for (const span of trace) {
      if (!this.normalize(span)) {
        c.spansDropped.invalid++;
        continue;
      }
      // before de-duplication: the span we build from it reuses its ids
      if (span.resource === PLACEHOLDER_RESOURCE) {
        c.spansDropped.placeholder++;
        for (const o of this.observers) o.onPlaceholder?.(span);
        continue;
      }
      if (this.dedup.seen(span)) {
        c.spansDropped.duplicate++;
        continue;
      }
      if (this.isInternal(span)) {
        c.spansDropped.internal++;
        continue;
      }
      spans.push(span);
    }
    if (spans.length === 0) return undefined;
    for (const o of this.observers) {
      const extra = o.onChunk?.(spans);
      if (extra && extra.length > 0) spans = spans.concat(extra.filter((s) => this.normalize(s)));
    }
    // span id → span: finds the root here and each span's parent below
    const byId = new Map<bigint, Span>();
    for (const s of spans) byId.set(idK(s.span_id), s);
    const root = rootAmong(spans, byId)!;
    if (this.rejectedByFilters(root)) {
      c.chunksFiltered.filterTags++;
      return undefined;
    }
    if (this.opts.ignoreResources.some((re) => re.test(root.resource))) {
      c.chunksFiltered.ignoreResources++;
      return undefined;
    }
    const o = this.opts;
    const topLevel = !header.clientComputedTopLevel;
    let priority = PRIORITY_NONE;
    let origin = '';
    for (const span of spans) {
      const meta = span.meta;
      if (span.service === 'aws.lambda' && o.service) span.service = o.service;
      if (meta['_inferred_span.tag_source'] !== undefined && meta['_dd.base_service'] === undefined) {
        const base = o.service ?? o.tags['functionname'];
        if (base) meta['_dd.base_service'] = base;
      }
      this.obfuscator.obfuscate(span);
      if (o.replaceTags.length > 0) this.applyReplace(span);
      if (topLevel) {
        const parent = isZeroId(span.parent_id) ? undefined : byId.get(idK(span.parent_id));
        if (!parent || parent.service !== span.service) span.metrics['_top_level'] = 1;
        else if (span.metrics['_top_level'] !== undefined) delete span.metrics['_top_level'];
      }
      const p = span.metrics['_sampling_priority_v1'];
      if (p !== undefined && (priority === PRIORITY_NONE || span === root)) priority = p | 0;
      if (origin === '' && meta['_dd.origin']) origin = meta['_dd.origin'];
    }
    if (o.origin) origin = o.origin;
    return { priority, origin, spans, spanTags: this.stamp };
  }
}

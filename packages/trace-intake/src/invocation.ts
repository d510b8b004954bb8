// Universal instrumentation: tracers that call the extension's start/end-invocation hooks (Java, .NET,
// Go, Ruby) get their `aws.lambda` span, inferred trigger spans and cold-start span from us. For tracers
// that make `aws.lambda` themselves (Node, Python), only the cold-start span is ours.
import { hex16, idKey, parseU64, randomId } from './ids.js';
import { capturePayloadTags } from './payload-capture.js';
import type { ChunkObserver } from './processor.js';
import type { SpanContext } from './propagation.js';
import {
  type ExtractedContext,
  extractInvocationContext,
  type InferredSpanSpec,
  type TriggerOptions,
} from './triggers.js';
import type { Span } from './types.js';

type Headers = Record<string, string | string[] | undefined>;

export interface InvocationTracerOptions extends Omit<TriggerOptions, 'nowNs'> {
  functionName: string;
  /** Service of the spans we make: DD_SERVICE, else the function name. */
  service?: string;
  capturePayload: boolean;
  capturePayloadMaxDepth: number;
  /** Tags only the `aws.lambda` span gets (runtime, ...). */
  invocationTags?: Record<string, string>;
  nowNs: () => number;
  newId?: () => bigint;
  /** Spans ready to be sent: the app feeds them to the trace pipeline. */
  emit: (spans: Span[]) => void;
}

export interface StartInvocationInput {
  requestId?: string;
  headers: Headers;
  /** The invocation event: parsed JSON, raw text, or nothing. */
  event: unknown;
  timeNs?: number;
}

/** The error a tracer reported at end-invocation, its headers already decoded (base64 or raw). */
export interface InvocationErrorInput {
  message?: string;
  type?: string;
  stack?: string;
}

export interface EndInvocationInput {
  requestId?: string;
  headers: Headers;
  /** The handler's response: parsed JSON, raw text, or nothing. */
  response: unknown;
  /** The `x-datadog-invocation-error*` headers as the hooks decoded them; absent when no error. */
  error?: InvocationErrorInput;
  timeNs?: number;
  /**
   * Hold the spans until `runtimeDone` for the request gives the span its duration (and
   * `platform.start` its start), as the Datadog extension builds `aws.lambda` from Telemetry.
   */
  awaitRuntimeDone?: boolean;
}

/** What the lifecycle knows of an invocation at its INVOKE. */
export interface InvocationFlags {
  coldStart: boolean;
  proactiveInitialization?: boolean;
  /** Tags for that invocation's `aws.lambda` (`runtime`, ...). */
  tags?: Record<string, string>;
}

export interface ColdStartInfo {
  /**
   * `aws.lambda.cold_start` (init), or `aws.lambda.snapstart_restore` (a SnapStart restore: it
   * replaces the cold start, whose init ran when the snapshot was taken).
   */
  name?: 'aws.lambda.cold_start' | 'aws.lambda.snapstart_restore';
  /** platform.initStart (or restoreStart) time, ns since the epoch. */
  startNs: number;
  durationMs: number;
  /** The first invocation's request id, when known. */
  requestId?: string;
}

interface Pending {
  requestId: string | undefined;
  startNs: number;
  extracted: ExtractedContext;
  context: SpanContext | undefined;
  event: unknown;
  coldStart: boolean;
}

const header = (h: Headers, name: string): string | undefined => {
  const v = h[name] ?? h[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
};

/** `error.*` tags of an end-invocation error (the hooks decode its headers). */
export function errorTags(e: InvocationErrorInput): Record<string, string> {
  const tags: Record<string, string> = {};
  if (e.message !== undefined) tags['error.msg'] = e.message;
  if (e.type !== undefined) tags['error.type'] = e.type;
  if (e.stack !== undefined) tags['error.stack'] = e.stack;
  return tags;
}

/** A three-digit 5xx, as the Datadog extension reads `statusCode` (600+ is no HTTP status). */
export const isServerError = (code: number): boolean => code >= 500 && code <= 599;

function parseTagsHeader(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (raw ?? '').split(',')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).startsWith('_dd.p.')) out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

/** An invocation's spans, built at end-invocation, waiting for `runtimeDone` to time `aws.lambda`. */
interface Finished {
  requestId: string | undefined;
  spans: Span[];
  lambda: Span;
  /** Inferred spans with their specs: their timing follows the invocation's. */
  inferred: Array<{ span: Span; spec: InferredSpanSpec }>;
}

interface RuntimeDoneInfo {
  timeNs: number;
  durationMs?: number;
}

const MAX_TRACKED = 64;

/**
 * Epoch ns held in a double are ~256 ns coarse: rounded to the microsecond, Telemetry's millisecond
 * times come out exact.
 */
const toMicrosNs = (ns: number): bigint => BigInt(Math.round(ns / 1e3)) * 1000n;

function remember<K, V>(m: Map<K, V>, k: K, v: V): void {
  m.delete(k);
  m.set(k, v);
  if (m.size > MAX_TRACKED) m.delete(m.keys().next().value as K);
}

export class InvocationTracer implements ChunkObserver {
  private readonly pending: Pending[] = [];
  private readonly newId: () => bigint;
  private coldStartInfo: ColdStartInfo | undefined;
  /** The first invocation's `aws.lambda` span, once seen (ours or the tracer's). */
  private firstInvocation:
    | {
        traceId: bigint | number;
        /** The cold start's parent: the tracer's `aws.lambda` (Node, Python), or ours's parent. */
        parentId: bigint | number;
        traceIdHigh?: string;
        service: string;
        requestId?: string;
        coldStartSpanId: bigint;
      }
    | undefined;
  private coldStartSent = false;
  private sawFirstInvocation = false;
  private placeholders = new Map<string, Span>();
  private readonly platformStarts = new Map<string, number>();
  private readonly flags = new Map<string, InvocationFlags>();
  private readonly runtimeDones = new Map<string, RuntimeDoneInfo>();
  private readonly finished: Finished[] = [];
  invocationsTraced = 0;

  constructor(private readonly opts: InvocationTracerOptions) {
    this.newId = opts.newId ?? (() => randomId());
  }

  private get service(): string {
    return this.opts.service ?? this.opts.functionName;
  }

  /** The hook's answer to /lambda/start-invocation: response headers carrying the trace context. */
  startInvocation(input: StartInvocationInput): { headers: Record<string, string>; context?: SpanContext } {
    const now = input.timeNs ?? this.opts.nowNs();
    const extracted = extractInvocationContext(input.event, input.headers, { ...this.opts, nowNs: now });
    let context = extracted.context;
    if (!context && extracted.trigger && extracted.trigger.inferredSpans.length > 0) {
      // an inferred span starts the trace: make one the function's own spans can join
      const high = BigInt(Math.floor(now / 1e9)) << 32n;
      context = {
        traceId: this.newId(),
        traceIdHigh: high,
        spanId: 0n,
        tags: { '_dd.p.tid': hex16(high) },
        source: 'generated',
      };
    }
    const coldStart = !this.sawFirstInvocation;
    this.sawFirstInvocation = true;
    this.pending.push({
      requestId: input.requestId,
      startNs: now,
      extracted,
      context,
      event: input.event,
      coldStart,
    });
    if (this.pending.length > MAX_TRACKED) this.pending.shift();
    const headers: Record<string, string> = {};
    if (context) {
      headers['x-datadog-trace-id'] = context.traceId.toString();
      if (context.samplingPriority !== undefined)
        headers['x-datadog-sampling-priority'] = String(context.samplingPriority);
      if (context.traceIdHigh !== undefined)
        headers['x-datadog-tags'] = `_dd.p.tid=${hex16(context.traceIdHigh)}`;
    }
    const out: { headers: Record<string, string>; context?: SpanContext } = { headers };
    if (context) out.context = context;
    return out;
  }

  /**
   * A start-invocation that came without a request id, paired (first in, first out) with its
   * INVOKE afterwards: the oldest such start gets the id.
   */
  pairRequestId(requestId: string): void {
    if (this.pending.some((p) => p.requestId === requestId)) return;
    const p = this.pending.find((x) => x.requestId === undefined);
    if (p) p.requestId = requestId;
  }

  /** The lifecycle's view of an invocation at its INVOKE: cold start, proactive init, runtime. */
  invocationStarted(requestId: string, flags: InvocationFlags): void {
    remember(this.flags, requestId, flags);
  }

  /**
   * Telemetry `platform.start` of a request: the `aws.lambda` span starts there (as the extension's
   * does) rather than when the tracer called start-invocation.
   */
  platformStart(requestId: string, timeNs: number): void {
    remember(this.platformStarts, requestId, timeNs);
    const f = this.finished.find((x) => x.requestId === requestId);
    if (f) this.retime(f);
  }

  /**
   * Telemetry `platform.runtimeDone`: `aws.lambda` lasts the runtime's `durationMs`; spans held for it
   * go now.
   */
  runtimeDone(requestId: string, timeNs: number, durationMs: number | undefined): Span[] {
    const info: RuntimeDoneInfo = { timeNs };
    if (durationMs !== undefined) info.durationMs = durationMs;
    remember(this.runtimeDones, requestId, info);
    const i = this.finished.findIndex((x) => x.requestId === requestId);
    if (i < 0) return [];
    return this.release(this.finished.splice(i, 1)[0]!);
  }

  /** Emits every span still waiting for its runtimeDone (shutdown, or no Telemetry). */
  releaseAll(): Span[] {
    return this.finished.splice(0).flatMap((f) => this.release(f));
  }

  private takePending(requestId: string | undefined): Pending | undefined {
    const i = requestId === undefined ? -1 : this.pending.findIndex((p) => p.requestId === requestId);
    if (i >= 0) return this.pending.splice(i, 1)[0];
    // first in, first out: the oldest start whose request is not known otherwise
    const j = this.pending.findIndex((p) => p.requestId === undefined);
    return this.pending.splice(Math.max(j, 0), 1)[0];
  }

  /** /lambda/end-invocation: builds and emits `aws.lambda`, the inferred spans and the cold start. */
  endInvocation(input: EndInvocationInput): Span[] {
    const end = input.timeNs ?? this.opts.nowNs();
    const p = this.takePending(input.requestId) ?? {
      requestId: input.requestId,
      startNs: end,
      extracted: {},
      context: undefined,
      event: undefined,
      coldStart: !this.sawFirstInvocation,
    };
    this.sawFirstInvocation = true;
    const h = input.headers;
    const requestId = input.requestId ?? p.requestId;
    let ctx = p.context;
    const placeholder = requestId ? this.placeholders.get(requestId) : undefined;
    if (requestId) this.placeholders.delete(requestId);
    if (!ctx || ctx.source === 'generated') {
      // Only when start-invocation extracted nothing do the end headers (or the placeholder) decide. A
      // context we made up ourselves is no extraction: the tracer's priority and tags count.
      const tid =
        parseU64(header(h, 'x-datadog-trace-id')) ?? (placeholder ? BigInt(placeholder.trace_id) : undefined);
      if (tid !== undefined && tid !== 0n) {
        const tags = parseTagsHeader(header(h, 'x-datadog-tags'));
        const prio = header(h, 'x-datadog-sampling-priority');
        const fromHeaders: SpanContext = {
          traceId: tid,
          spanId:
            parseU64(header(h, 'x-datadog-parent-id')) ?? (placeholder ? BigInt(placeholder.parent_id) : 0n),
          tags,
          source: 'headers',
        };
        if (prio !== undefined && /^-?\d+$/.test(prio)) fromHeaders.samplingPriority = Number(prio);
        const high = tags['_dd.p.tid'] ? parseU64(tags['_dd.p.tid'], 16) : undefined;
        if (high !== undefined) fromHeaders.traceIdHigh = high;
        if (ctx && ctx.traceId === tid) {
          // the tracer joined the trace we started: ours, with its priority and tags
          fromHeaders.source = 'generated';
          fromHeaders.spanId = ctx.spanId;
          fromHeaders.traceIdHigh ??= ctx.traceIdHigh;
          fromHeaders.tags = { ...ctx.tags, ...tags };
        }
        if (fromHeaders.traceIdHigh === undefined) delete fromHeaders.traceIdHigh;
        ctx = fromHeaders;
      }
    }
    const traceId = ctx?.traceId ?? this.newId();
    const spanId =
      parseU64(header(h, 'x-datadog-span-id')) ?? (placeholder ? BigInt(placeholder.span_id) : this.newId());
    const trigger = p.extracted.trigger;
    // inferred spans, outermost first, each parenting the next
    const inferred: Finished['inferred'] = [];
    let parent = ctx?.spanId ?? 0n;
    for (const spec of trigger?.inferredSpans ?? []) {
      const s = this.inferredSpan(spec, traceId, parent, p.startNs, end);
      inferred.push({ span: s, spec });
      parent = BigInt(s.span_id);
    }
    const flags = requestId ? this.flags.get(requestId) : undefined;
    if (requestId) this.flags.delete(requestId);
    const coldStart = flags ? flags.coldStart : p.coldStart;
    const meta: Record<string, string> = {
      'span.kind': 'server',
      cold_start: String(coldStart),
      function_arn: this.opts.functionArn ?? '',
      functionname: this.opts.functionName,
      resource_names: this.opts.functionName,
      ...this.opts.invocationTags,
      ...flags?.tags,
      ...trigger?.tags,
    };
    if (flags?.proactiveInitialization) meta['proactive_initialization'] = 'true';
    if (!meta['function_arn']) delete meta['function_arn'];
    if (requestId) meta['request_id'] = requestId;
    if (ctx && ctx.source !== 'generated')
      meta['_dd.parent_source'] = ctx.source === 'headers' ? 'headers' : 'event';
    const metrics: Record<string, number> = {};
    if (ctx?.samplingPriority !== undefined) metrics['_sampling_priority_v1'] = ctx.samplingPriority;
    const span: Span = {
      service: this.service,
      name: 'aws.lambda',
      resource: this.opts.functionName,
      trace_id: traceId,
      span_id: spanId,
      parent_id: parent,
      start: BigInt(Math.round(p.startNs)),
      duration: Math.max(0, Math.round(end - p.startNs)),
      error: 0,
      meta,
      metrics,
      type: 'serverless',
    };
    if (input.error) {
      span.error = 1;
      Object.assign(meta, errorTags(input.error));
    }
    const response = input.response;
    if (
      response &&
      typeof response === 'object' &&
      Number.isInteger((response as Record<string, unknown>)['statusCode'])
    ) {
      const code = (response as Record<string, number>)['statusCode']!;
      meta['http.status_code'] = String(code);
      if (isServerError(code)) span.error = 1;
      for (const { span: s } of inferred) {
        if (s.meta['_inferred_span.synchronicity'] === 'sync') {
          s.meta['http.status_code'] = String(code);
          if (isServerError(code)) s.error = 1;
        }
      }
    }
    if (this.opts.capturePayload) {
      Object.assign(meta, capturePayloadTags(p.event, 'function.request', this.opts.capturePayloadMaxDepth));
      Object.assign(
        meta,
        capturePayloadTags(response, 'function.response', this.opts.capturePayloadMaxDepth),
      );
    }
    const spans = [...inferred.map((x) => x.span), span];
    // The trace's propagation tags, and the 128-bit trace id's high half, go on its root: the
    // outermost inferred span when there is one.
    const root = spans[0]!;
    if (ctx) {
      for (const [k, v] of Object.entries(ctx.tags))
        if (k.startsWith('_dd.p.') && k !== '_dd.p.tid') root.meta[k] = v;
    }
    if (ctx?.traceIdHigh !== undefined) root.meta['_dd.p.tid'] = hex16(ctx.traceIdHigh);
    if (ctx?.samplingPriority !== undefined)
      for (const { span: s } of inferred) s.metrics['_sampling_priority_v1'] = ctx.samplingPriority;
    this.invocationsTraced++;
    if (p.coldStart || coldStart) this.noteFirstInvocation(span, requestId, ctx?.traceIdHigh, parent, false);
    const cold = this.maybeColdStartSpan();
    if (cold) spans.push(cold);
    const f: Finished = { requestId, spans, lambda: span, inferred };
    const done = requestId ? this.runtimeDones.get(requestId) : undefined;
    if (input.awaitRuntimeDone && !done) {
      this.finished.push(f);
      // without Telemetry nothing would let the older ones go
      while (this.finished.length > 2) this.release(this.finished.shift()!);
      return spans;
    }
    return this.release(f);
  }

  /** `aws.lambda` timed as the Datadog extension times it: platform.start, runtimeDone.durationMs. */
  private retime(f: Finished): void {
    const rid = f.requestId;
    if (rid === undefined) return;
    const start = this.platformStarts.get(rid);
    const done = this.runtimeDones.get(rid);
    const s = f.lambda;
    const oldStart = Number(s.start);
    const oldEnd = oldStart + Number(s.duration);
    let startNs = oldStart;
    let endNs = oldEnd;
    if (start !== undefined) startNs = start;
    if (done?.durationMs !== undefined) endNs = startNs + done.durationMs * 1e6;
    else if (start !== undefined && start > oldStart) endNs = Math.max(oldEnd, start);
    if (startNs === oldStart && endNs === oldEnd) return;
    s.start = toMicrosNs(startNs);
    s.duration = Math.max(0, Math.round(endNs - startNs));
    for (const { span, spec } of f.inferred) {
      const e = spec.synchronicity === 'async' ? startNs : endNs;
      const st = Math.min(spec.startNs || startNs, e);
      span.start = toMicrosNs(st);
      span.duration = Math.max(0, Math.round(e - st));
    }
  }

  private release(f: Finished): Span[] {
    this.retime(f);
    if (f.requestId) {
      this.platformStarts.delete(f.requestId);
      this.runtimeDones.delete(f.requestId);
    }
    this.opts.emit(f.spans);
    return f.spans;
  }

  private inferredSpan(
    spec: InferredSpanSpec,
    traceId: bigint,
    parent: bigint,
    invStart: number,
    invEnd: number,
  ): Span {
    const endNs = spec.synchronicity === 'async' ? invStart : invEnd;
    const startNs = Math.min(spec.startNs || invStart, endNs);
    return {
      service: spec.service,
      name: spec.name,
      resource: spec.resource,
      trace_id: traceId,
      span_id: this.newId(),
      parent_id: parent,
      start: BigInt(Math.round(startNs)),
      duration: Math.max(0, Math.round(endNs - startNs)),
      error: 0,
      meta: { ...spec.meta },
      metrics: {},
      type: spec.type,
    };
  }

  /** platform.initStart + initReport: the cold start to attach to the first invocation's trace. */
  setColdStart(info: ColdStartInfo): Span[] {
    this.coldStartInfo = info;
    const cold = this.maybeColdStartSpan();
    if (cold) {
      this.opts.emit([cold]);
      return [cold];
    }
    return [];
  }

  /**
   * The first invocation's trace. The cold start hangs under the tracer's own `aws.lambda` (Node,
   * Python); beside ours (under its parent) as the Datadog extension places it in universal mode.
   */
  private noteFirstInvocation(
    span: Span,
    requestId: string | undefined,
    traceIdHigh: bigint | string | undefined,
    parentId: bigint | number,
    underSpan: boolean,
  ): void {
    if (this.firstInvocation) return;
    if (this.coldStartInfo?.requestId && requestId && this.coldStartInfo.requestId !== requestId) return;
    this.firstInvocation = {
      traceId: span.trace_id,
      parentId: underSpan ? span.span_id : parentId,
      service: span.service,
      coldStartSpanId: this.newId(),
    };
    if (traceIdHigh !== undefined)
      this.firstInvocation.traceIdHigh = typeof traceIdHigh === 'bigint' ? hex16(traceIdHigh) : traceIdHigh;
    if (requestId) this.firstInvocation.requestId = requestId;
  }

  private maybeColdStartSpan(): Span | undefined {
    const f = this.firstInvocation;
    const info = this.coldStartInfo;
    if (!f || !info || this.coldStartSent) return undefined;
    if (info.requestId && f.requestId && info.requestId !== f.requestId) return undefined;
    this.coldStartSent = true;
    const span: Span = {
      service: f.service,
      name: info.name ?? 'aws.lambda.cold_start',
      resource: this.opts.functionName,
      trace_id: f.traceId,
      span_id: f.coldStartSpanId,
      parent_id: f.parentId,
      start: BigInt(Math.round(info.startNs)),
      duration: Math.max(0, Math.round(info.durationMs * 1e6)),
      error: 0,
      meta: { 'span.kind': 'server', functionname: this.opts.functionName, cold_start: 'true' },
      metrics: {},
      type: 'serverless',
    };
    if (f.requestId) span.meta['request_id'] = f.requestId;
    // It may travel in a chunk of its own: the trace id's high half goes with it.
    if (f.traceIdHigh) span.meta['_dd.p.tid'] = f.traceIdHigh;
    return span;
  }

  // ------------------------------------------------------------------ ChunkObserver (tracer chunks)

  /** The meta keys onPlaceholder and onChunk read (ChunkObserver). */
  readonly metaKeys: readonly string[] = ['request_id', 'cold_start', '_dd.p.tid'];

  onPlaceholder(span: Span): void {
    const rid = span.meta['request_id'];
    if (rid) remember(this.placeholders, rid, span);
  }

  /**
   * A tracer request carrying `aws.lambda.load` before the cold start (init start and duration) is
   * known: worth holding back until it is, so that span can hang under `aws.lambda.cold_start`.
   */
  wantsColdStartFirst(traces: Span[][]): boolean {
    if (this.coldStartInfo || this.coldStartSent) return false;
    return traces.some((t) => t.some((s) => s.name === 'aws.lambda.load'));
  }

  /** Whether the cold start (init start and duration) has been given. */
  get coldStartKnown(): boolean {
    return this.coldStartInfo !== undefined;
  }

  /** Links the tracer's first `aws.lambda` span to the cold start and re-parents `aws.lambda.load`. */
  onChunk(spans: Span[]): Span[] | undefined {
    if (this.coldStartSent && !this.firstInvocation) return undefined;
    if (!this.firstInvocation) {
      const inv = spans.find(
        (s) =>
          s.name === 'aws.lambda' &&
          s.meta['cold_start'] === 'true' &&
          (!this.coldStartInfo?.requestId || s.meta['request_id'] === this.coldStartInfo.requestId),
      );
      if (!inv) return undefined;
      this.sawFirstInvocation = true;
      const tid =
        inv.meta['_dd.p.tid'] ??
        spans.find((s) => s.meta['_dd.p.tid'] && idKey(s.trace_id) === idKey(inv.trace_id))?.meta[
          '_dd.p.tid'
        ];
      this.noteFirstInvocation(inv, inv.meta['request_id'], tid, 0, true);
    }
    const f = this.firstInvocation;
    if (!f) return undefined;
    const cold = this.maybeColdStartSpan();
    // Only under a cold-start span that exists: without one (no init report, or not this trace's),
    // the tracer's own parent is the only parent there is.
    if (this.coldStartSent && this.firstInvocation === f) {
      for (const s of spans) {
        if (s.name === 'aws.lambda.load' && idKey(s.trace_id) === idKey(f.traceId))
          s.parent_id = f.coldStartSpanId;
      }
    }
    return cold ? [cold] : undefined;
  }
}

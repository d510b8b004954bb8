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

export interface EndInvocationInput {
  requestId?: string;
  headers: Headers;
  /** The handler's response: parsed JSON, raw text, or nothing. */
  response: unknown;
  timeNs?: number;
}

export interface ColdStartInfo {
  /** platform.initStart time, ns since the epoch. */
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

function decodeMaybeBase64(v: string): string {
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(v) && v.length % 4 === 0) {
    const d = Buffer.from(v, 'base64').toString('utf8');
    // only accept printable decodings: raw values like "Error" are valid base64 too
    if (d.length > 0 && !/[\u0000-\u0008\u000e-\u001f\ufffd]/.test(d)) return d;
  }
  return v;
}

export function errorTagsFromHeaders(h: Headers): Record<string, string> | undefined {
  const flag = header(h, 'x-datadog-invocation-error');
  const msg = header(h, 'x-datadog-invocation-error-msg');
  const type = header(h, 'x-datadog-invocation-error-type');
  const stack = header(h, 'x-datadog-invocation-error-stack');
  const isError =
    flag?.toLowerCase() === 'true' || msg !== undefined || type !== undefined || stack !== undefined;
  if (!isError) return undefined;
  const tags: Record<string, string> = {};
  if (msg !== undefined) tags['error.msg'] = decodeMaybeBase64(msg);
  if (type !== undefined) tags['error.type'] = decodeMaybeBase64(type);
  if (stack !== undefined) tags['error.stack'] = decodeMaybeBase64(stack);
  return tags;
}

function parseTagsHeader(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (raw ?? '').split(',')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).startsWith('_dd.p.')) out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

export class InvocationTracer implements ChunkObserver {
  private readonly pending: Pending[] = [];
  private readonly newId: () => bigint;
  private coldStartInfo: ColdStartInfo | undefined;
  /** The first invocation's `aws.lambda` span, once seen (ours or the tracer's). */
  private firstInvocation:
    | {
        traceId: bigint | number;
        spanId: bigint | number;
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
    if (this.pending.length > 64) this.pending.shift();
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
   * Telemetry `platform.start` of a request: the `aws.lambda` span starts there (as the extension's
   * does) rather than when the tracer called start-invocation.
   */
  platformStart(requestId: string, timeNs: number): void {
    this.platformStarts.set(requestId, timeNs);
    if (this.platformStarts.size > 64)
      this.platformStarts.delete(this.platformStarts.keys().next().value as string);
  }

  private takePending(requestId: string | undefined): Pending | undefined {
    const i = requestId === undefined ? -1 : this.pending.findIndex((p) => p.requestId === requestId);
    if (i >= 0) return this.pending.splice(i, 1)[0];
    return this.pending.shift();
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
    const platformStart = requestId ? this.platformStarts.get(requestId) : undefined;
    if (requestId) this.platformStarts.delete(requestId);
    if (platformStart !== undefined && platformStart <= p.startNs) p.startNs = platformStart;
    let ctx = p.context;
    const placeholder = requestId ? this.placeholders.get(requestId) : undefined;
    if (requestId) this.placeholders.delete(requestId);
    if (!ctx) {
      // only when start-invocation found nothing do the end headers (or the placeholder) decide
      const tid =
        parseU64(header(h, 'x-datadog-trace-id')) ?? (placeholder ? BigInt(placeholder.trace_id) : undefined);
      if (tid !== undefined && tid !== 0n) {
        const tags = parseTagsHeader(header(h, 'x-datadog-tags'));
        const prio = header(h, 'x-datadog-sampling-priority');
        ctx = {
          traceId: tid,
          spanId:
            parseU64(header(h, 'x-datadog-parent-id')) ?? (placeholder ? BigInt(placeholder.parent_id) : 0n),
          tags,
          source: 'headers',
        };
        if (prio !== undefined && /^-?\d+$/.test(prio)) ctx.samplingPriority = Number(prio);
        const high = tags['_dd.p.tid'] ? parseU64(tags['_dd.p.tid'], 16) : undefined;
        if (high !== undefined) ctx.traceIdHigh = high;
      }
    }
    const traceId = ctx?.traceId ?? this.newId();
    const spanId =
      parseU64(header(h, 'x-datadog-span-id')) ?? (placeholder ? BigInt(placeholder.span_id) : this.newId());
    const trigger = p.extracted.trigger;
    // inferred spans, outermost first, each parenting the next
    const inferred: Span[] = [];
    let parent = ctx?.spanId ?? 0n;
    for (const spec of trigger?.inferredSpans ?? []) {
      const s = this.inferredSpan(spec, traceId, parent, p.startNs, end);
      inferred.push(s);
      parent = BigInt(s.span_id);
    }
    const meta: Record<string, string> = {
      'span.kind': 'server',
      cold_start: String(p.coldStart),
      function_arn: this.opts.functionArn ?? '',
      functionname: this.opts.functionName,
      resource_names: this.opts.functionName,
      ...this.opts.invocationTags,
      ...trigger?.tags,
    };
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
    const errTags = errorTagsFromHeaders(h);
    if (errTags) {
      span.error = 1;
      Object.assign(meta, errTags);
    }
    const response = input.response;
    if (
      response &&
      typeof response === 'object' &&
      Number.isInteger((response as Record<string, unknown>)['statusCode'])
    ) {
      const code = (response as Record<string, number>)['statusCode']!;
      meta['http.status_code'] = String(code);
      if (code >= 500) span.error = 1;
      for (const s of inferred) {
        if (s.meta['_inferred_span.synchronicity'] === 'sync') {
          s.meta['http.status_code'] = String(code);
          if (code >= 500) s.error = 1;
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
    if (ctx) {
      for (const [k, v] of Object.entries(ctx.tags))
        if (k.startsWith('_dd.p.') && k !== '_dd.p.tid') meta[k] = v;
    }
    const spans = [...inferred, span];
    // 128-bit trace ids travel as `_dd.p.tid` on the first span of the chunk
    if (ctx?.traceIdHigh !== undefined) spans[0]!.meta['_dd.p.tid'] = hex16(ctx.traceIdHigh);
    if (ctx?.samplingPriority !== undefined)
      for (const s of inferred) s.metrics['_sampling_priority_v1'] = ctx.samplingPriority;
    this.invocationsTraced++;
    if (p.coldStart) this.noteFirstInvocation(span, requestId);
    const cold = this.maybeColdStartSpan();
    if (cold) spans.push(cold);
    this.opts.emit(spans);
    return spans;
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

  private noteFirstInvocation(span: Span, requestId: string | undefined): void {
    if (this.firstInvocation) return;
    if (this.coldStartInfo?.requestId && requestId && this.coldStartInfo.requestId !== requestId) return;
    this.firstInvocation = {
      traceId: span.trace_id,
      spanId: span.span_id,
      service: span.service,
      coldStartSpanId: this.newId(),
    };
    if (span.meta['_dd.p.tid']) this.firstInvocation.traceIdHigh = span.meta['_dd.p.tid'];
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
      name: 'aws.lambda.cold_start',
      resource: this.opts.functionName,
      trace_id: f.traceId,
      span_id: f.coldStartSpanId,
      parent_id: f.spanId,
      start: BigInt(Math.round(info.startNs)),
      duration: Math.max(0, Math.round(info.durationMs * 1e6)),
      error: 0,
      meta: { 'span.kind': 'server', functionname: this.opts.functionName, cold_start: 'true' },
      metrics: {},
      type: 'serverless',
    };
    if (f.requestId) span.meta['request_id'] = f.requestId;
    return span;
  }

  // ------------------------------------------------------------------ ChunkObserver (tracer chunks)

  onPlaceholder(span: Span): void {
    const rid = span.meta['request_id'];
    if (rid) {
      this.placeholders.set(rid, span);
      if (this.placeholders.size > 64)
        this.placeholders.delete(this.placeholders.keys().next().value as string);
    }
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
      this.noteFirstInvocation(inv, inv.meta['request_id']);
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

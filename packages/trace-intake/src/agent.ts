// The trace pipeline behind the receiver: decode results in, processed and encoded payloads out.
// Holds a bounded buffer of encoded tracer payloads between flushes; the app decides when to flush.

import { ChunkArena } from './chunk-arena.js';
import type { TraceIntakeOptions } from './config.js';
import { DecodeError, decodeV04 } from './decode.js';
import { type EncodedTracerPayload, encodeAgentPayloads, encodeTracerPayloadChunks } from './encode.js';
import { type ColdStartInfo, InvocationTracer } from './invocation.js';
import { defaultProcessorOptions, SpanProcessor } from './processor.js';
import { stampOrder } from './span-writer.js';
import { type ClientStatsPayload, encodeStatsPayloads, StatsConcentrator } from './stats.js';
import { V04Transcoder } from './transcode-v04.js';
import type {
  Logger,
  OutgoingPayload,
  Span,
  SpanProcessorHook,
  TracerHeaders,
  TracerPayload,
} from './types.js';
import { noopLogger } from './types.js';

const MAX_HELD_REQUESTS = 16;
/** How many buffered invocations watchInvocation remembers between flushes. */
const MAX_REMEMBERED_INVOCATIONS = 16;

export interface TraceAgentOptions extends TraceIntakeOptions {
  logger?: Logger;
  /** Our version, sent as AgentPayload.agentVersion and `Datadog-Agent-Version`. */
  agentVersion?: string;
  hostname?: string;
  /** Set for Lambda: enables the invocation tracer (aws.lambda, inferred and cold-start spans). */
  functionName?: string;
  functionArn?: string;
  region?: string;
  accountId?: string;
  /** Tags only the extension's `aws.lambda` span gets (runtime, ...). */
  invocationTags?: Record<string, string>;
  /**
   * Ports, beyond 8124-8126 and 9001, whose loopback calls are the tracer's own (the Runtime API's port
   * from `AWS_LAMBDA_RUNTIME_API`, the extension's ports when moved): their spans are dropped.
   */
  internalPorts?: number[];
  nowNs?: () => number;
}

export interface TraceAgentCounters {
  requests: number;
  /** v0.3/v0.4 msgpack requests transcoded (the others of them were decoded). */
  requestsTranscoded: number;
  tracesReceived: number;
  decodeErrors: number;
  tooLarge: number;
  spansBufferDropped: number;
  chunksDroppedByPriority: number;
  clientStatsReceived: number;
  proxyRequests: number;
}

/** Header values from a tracer request (D.2 truthiness for the Client-Computed flags). */
export function tracerHeadersFrom(h: Record<string, string | string[] | undefined>): TracerHeaders {
  const g = (n: string) => {
    const v = h[n];
    return (Array.isArray(v) ? v[0] : v) ?? '';
  };
  const truthy = (v: string) => v !== '' && !['0', 'f', 'F', 'false', 'False', 'FALSE'].includes(v);
  return {
    lang: g('datadog-meta-lang'),
    langVersion: g('datadog-meta-lang-version'),
    langInterpreter: g('datadog-meta-lang-interpreter'),
    langInterpreterVendor: g('datadog-meta-lang-interpreter-vendor'),
    tracerVersion: g('datadog-meta-tracer-version'),
    containerId: g('datadog-container-id'),
    clientComputedStats: truthy(g('datadog-client-computed-stats')),
    clientComputedTopLevel: truthy(g('datadog-client-computed-top-level')),
    droppedP0Traces: Number(g('datadog-client-dropped-p0-traces')) || 0,
    droppedP0Spans: Number(g('datadog-client-dropped-p0-spans')) || 0,
  };
}

const OWN_HEADER: TracerHeaders = {
  lang: '',
  langVersion: '',
  langInterpreter: '',
  langInterpreterVendor: '',
  tracerVersion: '',
  containerId: '',
  clientComputedStats: false,
  clientComputedTopLevel: false,
  droppedP0Traces: 0,
  droppedP0Spans: 0,
};

/** Logs one line per key per interval, with how many were suppressed. */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();
  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}
  warn(key: string, msg: string): void {
    const t = this.now();
    const e = this.last.get(key);
    if (e && t - e.at < this.intervalMs) {
      e.suppressed++;
      return;
    }
    const extra = e && e.suppressed > 0 ? ` (${e.suppressed} similar suppressed)` : '';
    this.last.set(key, { at: t, suppressed: 0 });
    this.logger.warn(msg + extra);
  }
}

export class TraceAgent {
  readonly processor: SpanProcessor;
  readonly concentrator: StatsConcentrator | undefined;
  readonly invocations: InvocationTracer | undefined;
  readonly counters: TraceAgentCounters = {
    requests: 0,
    requestsTranscoded: 0,
    tracesReceived: 0,
    decodeErrors: 0,
    tooLarge: 0,
    spansBufferDropped: 0,
    chunksDroppedByPriority: 0,
    clientStatsReceived: 0,
    proxyRequests: 0,
  };
  readonly log: RateLimitedLog;
  private buffer: EncodedTracerPayload[] = [];
  /** The bytes of the buffered chunks, carved again after each flush. */
  private readonly arena = new ChunkArena();
  /** Tracer requests waiting for the cold start to be known (released by it, or by the next flush). */
  private held: Array<{ traces: Span[][]; header: TracerHeaders; spans: number }> = [];
  private heldSpans = 0;
  private bufferedSpans = 0;
  private clientStats: ClientStatsPayload[] = [];
  private readonly nowNs: () => number;
  readonly agentVersion: string;
  private transcoder: { keys: string[]; t: V04Transcoder } | undefined;
  /** The invocation whose `aws.lambda` span is awaited, and who hears of it (watchInvocation). */
  private watched: { requestId: string; onBuffered: () => void } | undefined;
  /**
   * The request ids of the last `aws.lambda` spans buffered since the last flush (bounded): a watch
   * set after its invocation's trace arrived hears of it at once.
   */
  private bufferedInvocations: string[] = [];

  constructor(readonly opts: TraceAgentOptions) {
    const logger = opts.logger ?? noopLogger;
    this.log = new RateLimitedLog(logger);
    this.nowNs = opts.nowNs ?? (() => Date.now() * 1e6);
    this.agentVersion = opts.agentVersion ?? '0.1.0';
    const tags = { ...opts.tags };
    const p = defaultProcessorOptions();
    this.processor = new SpanProcessor({
      ...p,
      tags,
      service: opts.service,
      env: opts.env,
      version: opts.version,
      origin: opts.origin,
      computeStats: opts.computeStats,
      replaceTags: opts.replaceTags,
      filterTagsRequire: opts.filterTagsRequire,
      filterTagsReject: opts.filterTagsReject,
      ignoreResources: opts.ignoreResources,
      obfuscation: opts.obfuscation,
      internalPorts: [
        ...new Set([...p.internalPorts, opts.port, ...(opts.internalPorts ?? [])].filter((x) => x > 0)),
      ],
    });
    if (opts.computeStats && !opts.statsDisabled) {
      this.concentrator = new StatsConcentrator({
        env: opts.env ?? '',
        version: opts.version ?? '',
        hostname: opts.hostname ?? '',
      });
    }
    if (opts.functionName) {
      const inv = new InvocationTracer({
        functionName: opts.functionName,
        functionArn: opts.functionArn,
        service: opts.service,
        region: opts.region,
        accountId: opts.accountId,
        invocationService: opts.service ?? opts.functionName,
        propagation: { extract: opts.propagationExtract, extractFirst: opts.propagationExtractFirst },
        serviceMapping: opts.serviceMapping,
        awsServiceRepresentation: opts.awsServiceRepresentation,
        capturePayload: opts.capturePayload,
        capturePayloadMaxDepth: opts.capturePayloadMaxDepth,
        invocationTags: opts.invocationTags,
        nowNs: this.nowNs,
        emit: (spans) => this.handleOwnSpans(spans),
      });
      this.invocations = inv;
      this.processor.addObserver(inv);
    }
  }

  addSpanProcessorHook(hook: SpanProcessorHook): void {
    this.processor.addHook(hook);
  }

  get buffered(): { payloads: number; spans: number } {
    return { payloads: this.buffer.length, spans: this.bufferedSpans + this.heldSpans };
  }

  /** The transcoder for the current processing, or undefined when processing needs whole spans. */
  private transcoderNow(): V04Transcoder | undefined {
    if (this.processor.hasHooks) return undefined;
    const processing = this.processor.watchedMetaKeys();
    if (processing === undefined) return undefined;
    if (this.transcoder?.keys !== processing) {
      const keys = {
        // `request_id`: read for watchInvocation, whatever the processing needs.
        read: [...processing, 'request_id', ...(this.concentrator?.metaKeys ?? [])],
        ...stampOrder(this.processor.spanTags),
      };
      this.transcoder = {
        keys: processing,
        t: new V04Transcoder(keys, (k, v) => this.processor.rewritesMeta(k, v)),
      };
    }
    return this.transcoder.t;
  }

  /**
   * The v0.3/v0.4 msgpack body of one tracer request: transcoded (transcode-v04.ts) when processing
   * allows it and the body is of the usual shapes, decoded otherwise, with the same result. Throws a
   * DecodeError for a body that is not a trace payload; returns as handleTraces does. `lent`: the
   * bytes are reused once this returns. Transcoding keeps nothing of them; decoded spans may hold
   * views into their body (meta_struct) and may wait for the cold start, so they decode a copy.
   */
  handleV04(body: Uint8Array, header: TracerHeaders, lent = false): boolean {
    const t = this.transcoderNow();
    const traces = t?.transcode(body);
    if (traces !== undefined && !this.invocations?.wantsColdStartFirst(traces)) {
      this.counters.requestsTranscoded++;
      return this.accept(traces, header, t!.staged);
    }
    let decoded: Span[][];
    try {
      decoded = decodeV04(lent ? Uint8Array.prototype.slice.call(body) : body);
    } catch (err) {
      throw err instanceof DecodeError ? err : new DecodeError(`decode failed: ${(err as Error).message}`);
    }
    return this.accept(decoded, header);
  }

  /** Decoded traces of one tracer request. Returns false when the buffer was full and they were dropped. */
  handleTraces(traces: Span[][], header: TracerHeaders): boolean {
    return this.accept(traces, header);
  }

  /** `staged`: the stage of transcoded traces, which are processed at once (they cannot wait). */
  private accept(traces: Span[][], header: TracerHeaders, staged?: Uint8Array): boolean {
    this.counters.tracesReceived += traces.length;
    let incoming = 0;
    for (const t of traces) incoming += t.length;
    if (this.bufferedSpans + this.heldSpans + incoming > this.opts.maxBufferedSpans) {
      this.counters.spansBufferDropped += incoming;
      this.log.warn(
        'buffer-full',
        `trace buffer full (${this.bufferedSpans} spans): dropped ${incoming} spans`,
      );
      return false;
    }
    // The first invocation's trace, with its `aws.lambda.load`, often beats the init report: it waits
    // (bounded) for the cold start, so that span gets its parent.
    if (
      staged === undefined &&
      this.held.length < MAX_HELD_REQUESTS &&
      this.invocations?.wantsColdStartFirst(traces)
    ) {
      this.held.push({ traces, header, spans: incoming });
      this.heldSpans += incoming;
      return true;
    }
    this.process(traces, header, staged);
    return true;
  }

  /** The cold start of this environment: `aws.lambda.cold_start`, and what waited for it. */
  setColdStart(info: ColdStartInfo): void {
    this.invocations?.setColdStart(info);
    this.releaseHeld();
  }

  private releaseHeld(): void {
    const held = this.held;
    if (held.length === 0) return;
    this.held = [];
    this.heldSpans = 0;
    for (const h of held) this.process(h.traces, h.header);
  }

  /** Room was made for these spans when they arrived. */
  private process(traces: Span[][], header: TracerHeaders, staged?: Uint8Array): void {
    const payload = this.processor.process(traces, header);
    if (!payload) return;
    if (this.concentrator && !header.clientComputedStats) {
      this.concentrator.add(payload);
      // with stats computed here, unsampled chunks have served their purpose
      const before = payload.chunks.length;
      payload.chunks = payload.chunks.filter((c) => c.priority > 0 || c.priority === -128);
      this.counters.chunksDroppedByPriority += before - payload.chunks.length;
      if (payload.chunks.length === 0) return;
    }
    const enc = encodeTracerPayloadChunks(payload, staged, this.arena);
    this.buffer.push(enc);
    for (const n of enc.spansPerChunk) this.bufferedSpans += n;
    this.noticeInvocations(payload);
  }

  /**
   * Calls `onBuffered` once, when an `aws.lambda` span whose `request_id` is `requestId` has been
   * buffered (the tracer's, or ours for a tracer on the invocation hooks): the invocation's trace
   * is then ready to flush; at once (synchronously) when it was buffered since the last flush,
   * before the watch was set. One invocation is watched at a time; a new call replaces the last, and
   * `watchInvocation(undefined)` stops watching.
   */
  watchInvocation(requestId: string | undefined, onBuffered?: () => void): void {
    this.watched = undefined;
    if (requestId === undefined || !onBuffered) return;
    if (this.bufferedInvocations.includes(requestId)) onBuffered();
    else this.watched = { requestId, onBuffered };
  }

  private noticeInvocations(payload: TracerPayload): void {
    for (const chunk of payload.chunks) {
      for (const span of chunk.spans) {
        if (span.name !== 'aws.lambda') continue;
        const requestId = span.meta['request_id'];
        if (requestId === undefined) continue;
        if (this.bufferedInvocations.length >= MAX_REMEMBERED_INVOCATIONS) this.bufferedInvocations.shift();
        this.bufferedInvocations.push(requestId);
        const w = this.watched;
        if (w !== undefined && w.requestId === requestId) {
          this.watched = undefined;
          w.onBuffered();
        }
      }
    }
  }

  /** Spans the extension made (aws.lambda, inferred, cold start). */
  handleOwnSpans(spans: Span[]): void {
    this.handleTraces([spans], OWN_HEADER);
  }

  handleClientStats(p: ClientStatsPayload): void {
    this.counters.clientStatsReceived++;
    if (this.clientStats.length >= 1000) {
      this.log.warn('stats-full', 'client stats buffer full: dropped one payload');
      return;
    }
    this.clientStats.push(p);
  }

  /**
   * Everything buffered as payloads for the forwarder. `force` also closes open stats buckets.
   * `keepHeld`: the requests waiting for the cold start keep waiting (a flush that another follows
   * soon); otherwise they are processed and go too.
   */
  flush(force = false, options: { keepHeld?: boolean } = {}): OutgoingPayload[] {
    // Nothing waits past a flush: a cold start not known by now may never be.
    if (!options.keepHeld) this.releaseHeld();
    this.bufferedInvocations = [];
    const out: OutgoingPayload[] = [];
    if (this.buffer.length > 0) {
      const o: Parameters<typeof encodeAgentPayloads>[1] = {
        agentVersion: this.agentVersion,
        targetTPS: 60,
        errorTPS: 60,
      };
      if (this.opts.env) o.env = this.opts.env;
      if (this.opts.hostname) o.hostName = this.opts.hostname;
      out.push(...encodeAgentPayloads(this.buffer, o));
      this.buffer = [];
      this.bufferedSpans = 0;
      // every chunk is in the payloads' bodies now, and nothing else reads them
      this.arena.reset();
    }
    const statsBase = { agentHostname: '', agentEnv: this.opts.env ?? '', agentVersion: this.agentVersion };
    if (this.clientStats.length > 0) {
      out.push(...encodeStatsPayloads(this.clientStats, { ...statsBase, clientComputed: true }));
      this.clientStats = [];
    }
    if (this.concentrator) {
      const computed = this.concentrator.flush(this.nowNs(), force);
      if (computed.length > 0)
        out.push(...encodeStatsPayloads(computed, { ...statsBase, clientComputed: false }));
    }
    return out;
  }
}

import { randomBytes } from 'node:crypto';

/** The shapes of the trace receiver's spans this module touches (structural; no import across packages). */
export interface JobSpanLike {
  service: string;
  name: string;
  resource: string;
  trace_id: bigint | number;
  span_id: bigint | number;
  parent_id: bigint | number;
  start: bigint | number;
  duration: bigint | number;
  error: number;
  meta: Record<string, string>;
  metrics: Record<string, number>;
  type: string;
}

export interface ChunkLike {
  spans: JobSpanLike[];
}

const USER_KEEP = 2;
const TID = '_dd.p.tid';

function randomId(): bigint {
  // Non-zero, 63 bits, as tracers make them.
  return (randomBytes(8).readBigUInt64BE() >> 1n) | 1n;
}

export interface JobSpanOptions {
  /** DD_SERVICE, else the job's name. */
  service: string;
  job: string;
  /** When the task started, ms since the epoch. */
  startMs: number;
  tags: Record<string, string>;
}

/**
 * Cloud Run Jobs: one `gcp.run.job.task` span for the whole task. The application's root spans
 * become its children; it takes the trace id of the first root seen, and later traces are moved
 * into that trace so the task reads as one tree.
 */
export class JobSpan {
  readonly spanId = randomId();
  private traceId: bigint = randomId();
  private traceHigh: string | undefined;
  private adopted = false;
  reparented = 0;

  constructor(private readonly options: JobSpanOptions) {}

  /** A span-processor hook: runs on every chunk the tracer sends. */
  readonly hook = (chunk: ChunkLike): void => {
    // The task span itself passes through the same hook when it is submitted.
    if (chunk.spans.some((s) => BigInt(s.span_id) === this.spanId)) return;
    const roots = chunk.spans.filter((s) => BigInt(s.parent_id) === 0n);
    if (roots.length === 0) return;
    const first = chunk.spans[0]!;
    const high = chunk.spans.find((s) => s.meta[TID] !== undefined)?.meta[TID];
    if (!this.adopted) {
      this.adopted = true;
      this.traceId = BigInt(first.trace_id);
      this.traceHigh = high;
    } else if (BigInt(first.trace_id) !== this.traceId || high !== this.traceHigh) {
      for (const s of chunk.spans) {
        s.trace_id = this.traceId;
        if (this.traceHigh !== undefined) s.meta[TID] = this.traceHigh;
        else delete s.meta[TID];
      }
    }
    for (const root of roots) {
      root.parent_id = this.spanId;
      this.reparented++;
    }
  };

  /** The finished span, at shutdown: an error when the command failed. */
  finish(endMs: number, exitCode: number, errorMessage?: string): JobSpanLike {
    const o = this.options;
    const meta: Record<string, string> = { ...o.tags, '_dd.origin': 'cloudrunjobs' };
    if (this.traceHigh !== undefined) meta[TID] = this.traceHigh;
    const span: JobSpanLike = {
      service: o.service,
      name: 'gcp.run.job.task',
      resource: o.job,
      trace_id: this.traceId,
      span_id: this.spanId,
      parent_id: 0n,
      start: BigInt(Math.round(o.startMs * 1e6)),
      duration: BigInt(Math.max(0, Math.round((endMs - o.startMs) * 1e6))),
      error: 0,
      meta,
      metrics: { _sampling_priority_v1: USER_KEEP, _top_level: 1 },
      type: '',
    };
    if (exitCode !== 0) {
      span.error = 1;
      span.meta['error.msg'] = errorMessage ?? `the task exited with code ${exitCode}`;
      span.meta.exit_code = String(exitCode);
    }
    return span;
  }
}

// What this package tells the rest of the agent. Apps route these to trace-intake, logs and the
// flush strategy; nothing here knows those packages.
import type { IncomingHttpHeaders } from 'node:http';
import type { TracingHeader } from '../extensions-client.js';
import type { ReportMetrics, Span, Status, TelemetryEvent, TraceContext } from '../telemetry/events.js';

export type OutOfMemoryDetector = 'log-line' | 'runtime-done' | 'report';

/** The trace context the injected extractor found in an event or its headers. */
export interface SpanContext {
  /** Full trace id (up to 128 bits). */
  traceId: bigint;
  parentId?: bigint;
  samplingPriority?: number;
  /** Propagation tags (`_dd.p.*`). */
  tags?: Record<string, string>;
}

export interface InvocationError {
  message?: string;
  type?: string;
  stack?: string;
}

export type LifecycleEvent =
  | {
      type: 'invocationStart';
      requestId: string;
      time: number;
      deadlineMs?: number;
      invokedFunctionArn?: string;
      tracing?: TracingHeader;
      coldStart: boolean;
      proactiveInitialization: boolean;
      snapStartRestore: boolean;
    }
  | { type: 'platformStart'; requestId: string; time: number; version?: string; tracing?: TraceContext }
  | {
      type: 'runtimeDone';
      requestId: string;
      time: number;
      status: Status;
      errorType?: string;
      durationMs?: number;
      producedBytes?: number;
      timedOut: boolean;
      spans?: Span[];
      /** Synthesised from `platform.report` (managed instances), not delivered by Lambda. */
      synthetic: boolean;
    }
  | {
      type: 'report';
      requestId: string;
      time: number;
      status: Status;
      errorType?: string;
      metrics: ReportMetrics;
      postRuntimeDurationMs?: number;
      /** Arrived after a later invocation had already started (delivered after a thaw). */
      late: boolean;
    }
  | { type: 'outOfMemory'; requestId?: string; time: number; detector: OutOfMemoryDetector }
  | {
      type: 'initStart';
      time: number;
      initializationType: string;
      phase: string;
      runtimeVersion?: string;
      runtimeVersionArn?: string;
      /** Init re-run inside the first invoke after a failed or timed-out init. */
      suppressed: boolean;
    }
  | {
      type: 'initReport';
      time: number;
      initializationType: string;
      phase: string;
      status: Status;
      errorType?: string;
      durationMs: number;
      suppressed: boolean;
    }
  | { type: 'restoreStart'; time: number }
  | { type: 'restoreReport'; time: number; status: Status; errorType?: string; durationMs?: number }
  | { type: 'telemetry'; events: TelemetryEvent[] }
  | {
      type: 'universalStart';
      requestId?: string;
      time: number;
      /** The invocation event as the tracer sent it (`{}` when the body was unusable). */
      event: unknown;
      headers: IncomingHttpHeaders;
      spanContext?: SpanContext;
    }
  | {
      type: 'universalEnd';
      requestId?: string;
      time: number;
      response: unknown;
      headers: IncomingHttpHeaders;
      statusCode?: number;
      error?: InvocationError;
      /** From start-invocation if it extracted one, else from these headers. */
      spanContext?: SpanContext;
      spanId?: bigint;
    }
  | { type: 'shutdown'; time: number; reason: string; deadlineMs: number; inFlight: string[] };

export type LifecycleEventType = LifecycleEvent['type'];

export type LifecycleListener = (event: LifecycleEvent) => void;

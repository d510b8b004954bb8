// Telemetry API event schemas (2022-12-13 / 2025-01-29), parsed one event at a time so that one
// unknown or malformed event costs only itself, never its batch.

export type InitType =
  | 'on-demand'
  | 'provisioned-concurrency'
  | 'snap-start'
  | 'lambda-managed-instances'
  | string;
export type InitPhase = 'init' | 'invoke' | string;
export type Status = 'success' | 'error' | 'failure' | 'timeout' | string;

export interface TraceContext {
  spanId?: string;
  type: string;
  value: string;
}

export interface Span {
  name: string;
  start: string;
  durationMs: number;
}

export interface InitStartRecord {
  initializationType: InitType;
  phase: InitPhase;
  runtimeVersion?: string;
  runtimeVersionArn?: string;
  functionName?: string;
  functionVersion?: string;
  instanceId?: string;
  instanceMaxMemory?: number;
}

export interface InitRuntimeDoneRecord {
  initializationType: InitType;
  phase?: InitPhase;
  status: Status;
  errorType?: string;
  spans?: Span[];
}

export interface InitReportRecord {
  initializationType: InitType;
  phase: InitPhase;
  metrics: { durationMs: number };
  status?: Status;
  errorType?: string;
  spans?: Span[];
}

export interface StartRecord {
  requestId: string;
  version?: string;
  tracing?: TraceContext;
}

export interface RuntimeDoneRecord {
  requestId: string;
  status: Status;
  errorType?: string;
  metrics?: { durationMs: number; producedBytes?: number };
  tracing?: TraceContext;
  spans?: Span[];
}

export interface ReportMetrics {
  durationMs: number;
  billedDurationMs?: number;
  memorySizeMB?: number;
  maxMemoryUsedMB?: number;
  initDurationMs?: number;
  restoreDurationMs?: number;
}

export interface ReportRecord {
  requestId: string;
  status: Status;
  errorType?: string;
  metrics: ReportMetrics;
  tracing?: TraceContext;
  spans?: Span[];
}

export interface ExtensionRecord {
  name: string;
  state: string;
  events: string[];
  errorType?: string;
}

export interface TelemetrySubscriptionRecord {
  name: string;
  state: string;
  types: string[];
}

export interface LogsDroppedRecord {
  reason: string;
  droppedRecords: number;
  droppedBytes: number;
}

export interface RestoreStartRecord {
  runtimeVersion?: string;
  runtimeVersionArn?: string;
  functionName?: string;
  functionVersion?: string;
  instanceId?: string;
  instanceMaxMemory?: number;
}

export interface RestoreRuntimeDoneRecord {
  status: Status;
  errorType?: string;
  spans?: Span[];
}

export interface RestoreReportRecord {
  status: Status;
  errorType?: string;
  metrics?: { durationMs: number };
  spans?: Span[];
}

interface Base<T extends string, R> {
  type: T;
  /** Epoch milliseconds of the event's `time`. */
  time: number;
  record: R;
}

export type TelemetryEvent =
  | Base<'platform.initStart', InitStartRecord>
  | Base<'platform.initRuntimeDone', InitRuntimeDoneRecord>
  | Base<'platform.initReport', InitReportRecord>
  | Base<'platform.start', StartRecord>
  | Base<'platform.runtimeDone', RuntimeDoneRecord>
  | Base<'platform.report', ReportRecord>
  | Base<'platform.extension', ExtensionRecord>
  | Base<'platform.telemetrySubscription', TelemetrySubscriptionRecord>
  | Base<'platform.logsDropped', LogsDroppedRecord>
  | Base<'platform.restoreStart', RestoreStartRecord>
  | Base<'platform.restoreRuntimeDone', RestoreRuntimeDoneRecord>
  | Base<'platform.restoreReport', RestoreReportRecord>
  | Base<'function', string | Record<string, unknown>>
  | Base<'extension', string | Record<string, unknown>>;

export type TelemetryEventType = TelemetryEvent['type'];

export type ParseResult =
  | { ok: true; event: TelemetryEvent }
  | { ok: false; reason: 'unknown-type' | 'malformed'; type?: string };

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

class Malformed extends Error {}

function reqStr(o: Obj, k: string): string {
  const v = o[k];
  if (!isStr(v)) throw new Malformed(k);
  return v;
}
function reqNum(o: Obj, k: string): number {
  const v = o[k];
  if (!isNum(v)) throw new Malformed(k);
  return v;
}
function optStr(o: Obj, k: string, into: Obj): void {
  if (isStr(o[k])) into[k] = o[k];
}
function optNum(o: Obj, k: string, into: Obj): void {
  if (isNum(o[k])) into[k] = o[k];
}
function tracing(o: Obj, into: Obj): void {
  const t = o['tracing'];
  if (isObj(t) && isStr(t['value'])) {
    const tc: TraceContext = { type: isStr(t['type']) ? t['type'] : 'X-Amzn-Trace-Id', value: t['value'] };
    if (isStr(t['spanId'])) tc.spanId = t['spanId'];
    into['tracing'] = tc;
  }
}
function spans(o: Obj, into: Obj): void {
  const s = o['spans'];
  if (!Array.isArray(s)) return;
  into['spans'] = s
    .filter((x): x is Obj => isObj(x) && isStr(x['name']) && isNum(x['durationMs']))
    .map((x) => ({
      name: x['name'] as string,
      start: isStr(x['start']) ? x['start'] : '',
      durationMs: x['durationMs'] as number,
    }));
}
function status(o: Obj, into: Obj, required: boolean): void {
  if (isStr(o['status'])) into['status'] = o['status'];
  else if (required) throw new Malformed('status');
  optStr(o, 'errorType', into);
}
function strList(o: Obj, k: string): string[] {
  const v = o[k];
  return Array.isArray(v) ? v.filter(isStr) : [];
}

type RecordParser = (r: Obj) => Obj;

const recordParsers: Record<string, RecordParser> = {
  'platform.initStart': (r) => {
    const out: Obj = {
      initializationType: reqStr(r, 'initializationType'),
      phase: isStr(r['phase']) ? r['phase'] : 'init',
    };
    for (const k of ['runtimeVersion', 'runtimeVersionArn', 'functionName', 'functionVersion', 'instanceId'])
      optStr(r, k, out);
    optNum(r, 'instanceMaxMemory', out);
    tracing(r, out);
    return out;
  },
  'platform.initRuntimeDone': (r) => {
    const out: Obj = {
      initializationType: isStr(r['initializationType']) ? r['initializationType'] : 'on-demand',
    };
    optStr(r, 'phase', out);
    status(r, out, true);
    spans(r, out);
    return out;
  },
  'platform.initReport': (r) => {
    const m = r['metrics'];
    if (!isObj(m)) throw new Malformed('metrics');
    const out: Obj = {
      initializationType: isStr(r['initializationType']) ? r['initializationType'] : 'on-demand',
      phase: isStr(r['phase']) ? r['phase'] : 'init',
      metrics: { durationMs: reqNum(m, 'durationMs') },
    };
    status(r, out, false);
    spans(r, out);
    return out;
  },
  'platform.start': (r) => {
    const out: Obj = { requestId: reqStr(r, 'requestId') };
    optStr(r, 'version', out);
    tracing(r, out);
    return out;
  },
  'platform.runtimeDone': (r) => {
    const out: Obj = { requestId: reqStr(r, 'requestId') };
    status(r, out, true);
    const m = r['metrics'];
    if (isObj(m)) {
      const metrics: Obj = { durationMs: reqNum(m, 'durationMs') };
      optNum(m, 'producedBytes', metrics);
      out['metrics'] = metrics;
    }
    tracing(r, out);
    spans(r, out);
    return out;
  },
  'platform.report': (r) => {
    const out: Obj = { requestId: reqStr(r, 'requestId') };
    status(r, out, false);
    if (!isStr(out['status'])) out['status'] = 'success';
    const m = r['metrics'];
    if (!isObj(m)) throw new Malformed('metrics');
    const metrics: Obj = { durationMs: reqNum(m, 'durationMs') };
    for (const k of [
      'billedDurationMs',
      'memorySizeMB',
      'maxMemoryUsedMB',
      'initDurationMs',
      'restoreDurationMs',
    ]) {
      optNum(m, k, metrics);
    }
    out['metrics'] = metrics;
    tracing(r, out);
    spans(r, out);
    return out;
  },
  'platform.extension': (r) => {
    const out: Obj = {
      name: reqStr(r, 'name'),
      state: isStr(r['state']) ? r['state'] : '',
      events: strList(r, 'events'),
    };
    optStr(r, 'errorType', out);
    return out;
  },
  'platform.telemetrySubscription': (r) => ({
    name: reqStr(r, 'name'),
    state: isStr(r['state']) ? r['state'] : '',
    types: strList(r, 'types'),
  }),
  'platform.logsDropped': (r) => ({
    reason: isStr(r['reason']) ? r['reason'] : '',
    droppedRecords: isNum(r['droppedRecords']) ? r['droppedRecords'] : 0,
    droppedBytes: isNum(r['droppedBytes']) ? r['droppedBytes'] : 0,
  }),
  'platform.restoreStart': (r) => {
    const out: Obj = {};
    for (const k of ['runtimeVersion', 'runtimeVersionArn', 'functionName', 'functionVersion', 'instanceId'])
      optStr(r, k, out);
    optNum(r, 'instanceMaxMemory', out);
    return out;
  },
  'platform.restoreRuntimeDone': (r) => {
    const out: Obj = {};
    status(r, out, true);
    spans(r, out);
    return out;
  },
  'platform.restoreReport': (r) => {
    const out: Obj = {};
    status(r, out, true);
    const m = r['metrics'];
    if (isObj(m)) out['metrics'] = { durationMs: reqNum(m, 'durationMs') };
    spans(r, out);
    return out;
  },
};

/** Validates one raw event of a delivered batch. */
export function parseTelemetryEvent(raw: unknown): ParseResult {
  if (!isObj(raw) || !isStr(raw['type'])) return { ok: false, reason: 'malformed' };
  const type = raw['type'];
  const time = isStr(raw['time']) ? Date.parse(raw['time']) : Number.NaN;
  if (Number.isNaN(time)) return { ok: false, reason: 'malformed', type };
  const record = raw['record'];
  if (type === 'function' || type === 'extension') {
    if (!isStr(record) && !isObj(record)) return { ok: false, reason: 'malformed', type };
    return { ok: true, event: { type, time, record } as TelemetryEvent };
  }
  const parser = recordParsers[type];
  if (!parser) return { ok: false, reason: 'unknown-type', type };
  if (!isObj(record)) return { ok: false, reason: 'malformed', type };
  try {
    return { ok: true, event: { type, time, record: parser(record) } as unknown as TelemetryEvent };
  } catch (err) {
    if (err instanceof Malformed) return { ok: false, reason: 'malformed', type };
    throw err;
  }
}

import type { LogStatus } from './types.js';

/** A platform event rendered as the line Datadog shows for it. */
export interface PlatformLine {
  message: string;
  status: LogStatus;
  requestId: string | null;
}

type Rec = Record<string, unknown>;

function obj(v: unknown): Rec | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Rec) : undefined;
}
function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}
/** Rust's `{:.2}`. */
function f2(v: number): string {
  return v.toFixed(2);
}
/** Integers as Rust prints a `u64`. */
function int(v: number | undefined): string {
  return v === undefined ? '0' : Number.isInteger(v) ? String(v) : f2(v);
}

function failureSuffix(status: unknown, errorType: unknown, durationMs: number | undefined): string {
  if (status === 'timeout') {
    return durationMs === undefined
      ? ' Task timed out'
      : ` Task timed out after ${f2(durationMs / 1000)} seconds`;
  }
  if (status === 'error' || status === 'failure') {
    const type = str(errorType);
    return type ? ` Task failed: ${type}` : ' Task failed with an unknown error';
  }
  return '';
}

/**
 * Renders a `platform.*` event, or returns `undefined` for the events that have no line
 * (subscription notices, successful init phases, ...). `runtimeDurationMs` is the
 * `platform.runtimeDone` duration seen for the report's request, if any; `managedInstance`
 * selects the managed-instance REPORT shape.
 */
export function renderPlatformEvent(
  type: string,
  record: unknown,
  runtimeDurationMs: (requestId: string) => number | undefined,
  managedInstance = false,
): PlatformLine | undefined {
  const r = obj(record);
  if (!r) return undefined;
  switch (type) {
    case 'platform.initStart':
      return {
        message: `INIT_START Runtime Version: ${str(r['runtimeVersion']) ?? '?'} Runtime Version ARN: ${str(r['runtimeVersionArn']) ?? '?'}`,
        status: 'info',
        requestId: null,
      };
    case 'platform.start': {
      const id = str(r['requestId']);
      if (!id) return undefined;
      return {
        message: `START RequestId: ${id} Version: ${str(r['version']) ?? '$LATEST'}`,
        status: 'info',
        requestId: id,
      };
    }
    case 'platform.runtimeDone': {
      const id = str(r['requestId']);
      if (!id) return undefined;
      const duration = num(obj(r['metrics'])?.['durationMs']);
      const suffix = failureSuffix(r['status'], r['errorType'], duration);
      return { message: `END RequestId: ${id}${suffix}`, status: suffix ? 'error' : 'info', requestId: id };
    }
    case 'platform.report': {
      const id = str(r['requestId']);
      if (!id) return undefined;
      const m = obj(r['metrics']) ?? {};
      const duration = num(m['durationMs']) ?? 0;
      if (managedInstance || m['billedDurationMs'] === undefined) {
        const suffix = failureSuffix(r['status'], r['errorType'], duration);
        return {
          message: `REPORT RequestId: ${id} Runtime Duration: ${f2(duration)} ms${suffix}`,
          status: suffix ? 'error' : 'info',
          requestId: id,
        };
      }
      const runtime = runtimeDurationMs(id);
      const post = runtime !== undefined && runtime > 0 ? duration - runtime : 0;
      let message =
        `REPORT RequestId: ${id} Duration: ${f2(duration)} ms Runtime Duration: ${f2(runtime ?? 0)} ms` +
        ` Post Runtime Duration: ${f2(post)} ms Billed Duration: ${int(num(m['billedDurationMs']))} ms` +
        ` Memory Size: ${int(num(m['memorySizeMB']))} MB Max Memory Used: ${int(num(m['maxMemoryUsedMB']))} MB`;
      const init = num(m['initDurationMs']);
      if (init !== undefined) message += ` Init Duration: ${f2(init)} ms`;
      const restore = num(m['restoreDurationMs']);
      if (restore !== undefined) message += ` Restore Duration: ${f2(restore)} ms`;
      return { message, status: 'info', requestId: id };
    }
    case 'platform.initReport':
    case 'platform.initRuntimeDone': {
      // Init errors and timeouts: the line CloudWatch shows, so failed cold starts are visible.
      const status = r['status'];
      if (status === undefined || status === 'success') return undefined;
      if (type === 'platform.initRuntimeDone') return undefined; // the initReport that follows carries the figures
      const duration = num(obj(r['metrics'])?.['durationMs']);
      let message = 'INIT_REPORT';
      if (duration !== undefined) message += ` Init Duration: ${f2(duration)} ms`;
      message += ` Phase: ${str(r['phase']) ?? 'init'} Status: ${String(status)}`;
      const errorType = str(r['errorType']);
      if (errorType) message += ` Error Type: ${errorType}`;
      return { message, status: 'error', requestId: null };
    }
    case 'platform.restoreStart':
      return {
        message: `RESTORE_START Runtime Version: ${str(r['runtimeVersion']) ?? '?'} Runtime Version ARN: ${str(r['runtimeVersionArn']) ?? '?'}`,
        status: 'info',
        requestId: null,
      };
    case 'platform.restoreReport': {
      const duration = num(obj(r['metrics'])?.['durationMs']);
      const failed = r['status'] !== undefined && r['status'] !== 'success';
      let message = 'RESTORE_REPORT';
      if (duration !== undefined) message += ` Restore Duration: ${f2(duration)} ms`;
      if (failed) {
        message += ` Status: ${String(r['status'])}`;
        const errorType = str(r['errorType']);
        if (errorType) message += ` Error Type: ${errorType}`;
      }
      return { message, status: failed ? 'error' : 'info', requestId: null };
    }
    case 'platform.logsDropped':
      return {
        message: `Lambda dropped ${int(num(r['droppedRecords']))} log records (${int(num(r['droppedBytes']))} bytes): ${str(r['reason']) ?? 'no reason given'}`,
        status: 'warn',
        requestId: null,
      };
    default:
      return undefined;
  }
}

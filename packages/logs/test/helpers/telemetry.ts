import { readFileSync } from 'node:fs';
import type { TelemetryEvent } from '../../src/index.js';

export function fixture<T = unknown>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')) as T;
}

export const ARN = 'arn:aws:lambda:us-east-1:123456789012:function:my-function';

let clock = Date.parse('2024-05-01T12:00:00.000Z');
export function at(offsetMs = 1): string {
  clock += offsetMs;
  return new Date(clock).toISOString();
}

export function fn(record: unknown, time = at()): TelemetryEvent {
  return { time, type: 'function', record };
}

export function ext(record: unknown, time = at()): TelemetryEvent {
  return { time, type: 'extension', record };
}

export function invocation(requestId: string, logs: unknown[] = [], status = 'success'): TelemetryEvent[] {
  return [
    { time: at(), type: 'platform.start', record: { requestId, version: '$LATEST' } },
    ...logs.map((l) => fn(l)),
    {
      time: at(),
      type: 'platform.runtimeDone',
      record: { requestId, status, metrics: { durationMs: 12.5, producedBytes: 10 } },
    },
    {
      time: at(),
      type: 'platform.report',
      record: {
        requestId,
        status,
        metrics: { durationMs: 15.25, billedDurationMs: 16, memorySizeMB: 128, maxMemoryUsedMB: 70 },
      },
    },
  ];
}

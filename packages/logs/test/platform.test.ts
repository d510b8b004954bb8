import { describe, expect, it } from 'vitest';
import { LambdaLogs, type TelemetryEvent } from '../src/index.js';
import { decodeAll } from './helpers/intake-schema.js';
import { ARN, fixture } from './helpers/telemetry.js';

const ID = '6d68ca91-49c9-448d-89b8-7ca3e6dc66aa';

function variants(requestId: string): TelemetryEvent[] {
  return fixture<TelemetryEvent[]>('telemetry-variants.json').map((e, i) => ({
    ...e,
    time: new Date(Date.parse('2024-05-01T12:00:01.000Z') + i).toISOString(),
    record:
      e.record && typeof e.record === 'object' && 'requestId' in e.record
        ? { ...(e.record as object), requestId }
        : e.record,
  }));
}

describe('platform events as Datadog shows them', () => {
  it('renders the cold-start invocation of the reference, in order, each with its request id', () => {
    const logs = new LambdaLogs({ functionArn: ARN, service: 'my-function' });
    logs.ingest(fixture('telemetry-cold-start.json'));
    const events = decodeAll(logs.flush());
    expect(events.map((e) => [e.message, e.status, e.lambda!.request_id])).toEqual([
      [`START RequestId: ${ID} Version: $LATEST`, 'info', ID],
      // INIT_START waited for the first request id, as the real extension holds it.
      [
        'INIT_START Runtime Version: nodejs:20.v22 Runtime Version ARN: arn:aws:lambda:us-east-1::runtime:0cdcfbdefbc5e7d3343f73c2e2dd3cba17d61dea0686b404502a0c9ce83931b9',
        'info',
        ID,
      ],
      [`2024-05-01T12:00:00.431Z\t${ID}\tINFO\thello`, 'info', ID],
      [`END RequestId: ${ID}`, 'info', ID],
      [
        `REPORT RequestId: ${ID} Duration: 129.81 ms Runtime Duration: 99.60 ms Post Runtime Duration: 30.21 ms Billed Duration: 130 ms Memory Size: 1024 MB Max Memory Used: 86 MB Init Duration: 321.50 ms`,
        'info',
        ID,
      ],
    ]);
    // The extension's own line (`DD_EXTENSION | DEBUG | flushing`) is not shipped back.
    expect(logs.stats().ownLinesSkipped).toBe(1);
    expect(events[0]!.timestamp).toBe(Date.parse('2024-05-01T12:00:00.430Z'));
  });

  it('renders errors, timeouts, failures, OOM, restores and dropped logs', () => {
    const logs = new LambdaLogs({ functionArn: ARN });
    logs.ingest({ time: '2024-05-01T12:00:00.900Z', type: 'platform.start', record: { requestId: 'r1' } });
    logs.ingest(variants('r1'));
    const lines = decodeAll(logs.flush({ final: true })).map((e) => [e.message, e.status]);
    expect(lines).toEqual([
      ['START RequestId: r1 Version: $LATEST', 'info'],
      ['END RequestId: r1 Task failed: TypeError', 'error'],
      [
        'REPORT RequestId: r1 Duration: 15.00 ms Runtime Duration: 12.30 ms Post Runtime Duration: 2.70 ms Billed Duration: 15 ms Memory Size: 1024 MB Max Memory Used: 90 MB',
        'info',
      ],
      ['END RequestId: r1 Task timed out after 3.00 seconds', 'error'],
      [
        'REPORT RequestId: r1 Duration: 3000.12 ms Runtime Duration: 3000.00 ms Post Runtime Duration: 0.12 ms Billed Duration: 3000 ms Memory Size: 128 MB Max Memory Used: 128 MB',
        'info',
      ],
      ['END RequestId: r1 Task failed: Runtime.ExitError', 'error'],
      ['END RequestId: r1 Task failed: Runtime.OutOfMemory', 'error'],
      [
        'REPORT RequestId: r1 Duration: 512.00 ms Runtime Duration: 510.00 ms Post Runtime Duration: 2.00 ms Billed Duration: 512 ms Memory Size: 128 MB Max Memory Used: 128 MB',
        'info',
      ],
      // The JSON-format record carries its own request id.
      ['hello', 'info'],
      // These have no request id of their own and none is current after the report: final flush ships them.
      [
        'Lambda dropped 123 log records (12345 bytes): Some logs were dropped because the downstream consumer is slower than the logs production rate',
        'warn',
      ],
      ['RESTORE_START Runtime Version: java:21.v10 Runtime Version ARN: arn:…', 'info'],
      ['RESTORE_REPORT Restore Duration: 220.40 ms', 'info'],
    ]);
    expect(logs.stats().droppedByLambda).toBe(123);
  });

  it('shows init errors and timeouts', () => {
    const logs = new LambdaLogs({ functionArn: ARN });
    logs.ingest([
      { time: at(0), type: 'platform.initStart', record: { initializationType: 'on-demand', phase: 'init' } },
      {
        time: at(1),
        type: 'function',
        record: `2024-05-01T12:00:00.101Z\tundefined\tERROR\tUncaught Exception \t{"errorType":"Runtime.ImportModuleError","errorMessage":"Error: Cannot find module 'index'"}\n`,
      },
      {
        time: at(2),
        type: 'platform.initRuntimeDone',
        record: {
          initializationType: 'on-demand',
          phase: 'init',
          status: 'error',
          errorType: 'Runtime.ImportModuleError',
        },
      },
      {
        time: at(3),
        type: 'platform.initReport',
        record: {
          initializationType: 'on-demand',
          phase: 'init',
          status: 'error',
          errorType: 'Runtime.ImportModuleError',
          metrics: { durationMs: 251.33 },
        },
      },
      {
        time: at(4),
        type: 'platform.initReport',
        record: {
          initializationType: 'on-demand',
          phase: 'invoke',
          status: 'timeout',
          metrics: { durationMs: 3000 },
        },
      },
      {
        time: at(5),
        type: 'platform.initReport',
        record: {
          initializationType: 'on-demand',
          phase: 'init',
          status: 'success',
          metrics: { durationMs: 2 },
        },
      },
    ]);
    // No invocation ever started (issue #133): the final flush still ships the init failure.
    expect(logs.flush()).toEqual([]);
    const events = decodeAll(logs.flush({ final: true }));
    expect(events.map((e) => [e.message, e.status, e.lambda!.request_id])).toEqual([
      ['INIT_START Runtime Version: ? Runtime Version ARN: ?', 'info', null],
      [expect.stringContaining('Runtime.ImportModuleError'), 'error', null],
      [
        'INIT_REPORT Init Duration: 251.33 ms Phase: init Status: error Error Type: Runtime.ImportModuleError',
        'error',
        null,
      ],
      ['INIT_REPORT Init Duration: 3000.00 ms Phase: invoke Status: timeout', 'error', null],
    ]);
  });

  it('uses the managed-instance REPORT shape and ships logs without inferring ids', () => {
    const logs = new LambdaLogs({ functionArn: ARN, managedInstance: true });
    logs.ingest([
      { time: at(0), type: 'platform.start', record: { requestId: 'm1' } },
      { time: at(1), type: 'function', record: 'no id here\n' },
      { time: at(2), type: 'function', record: { level: 'INFO', requestId: 'm1', message: 'has id' } },
      {
        time: at(3),
        type: 'platform.report',
        record: { requestId: 'm1', status: 'success', metrics: { durationMs: 41.234 } },
      },
      {
        time: at(4),
        type: 'platform.report',
        record: { requestId: 'm2', status: 'timeout', metrics: { durationMs: 5000 } },
      },
      {
        time: at(5),
        type: 'platform.report',
        record: { requestId: 'm3', status: 'error', errorType: 'Boom', metrics: { durationMs: 1 } },
      },
    ]);
    const events = decodeAll(logs.flush());
    expect(events.map((e) => [e.message, e.status, e.lambda!.request_id])).toEqual([
      ['START RequestId: m1 Version: $LATEST', 'info', 'm1'],
      ['no id here', 'info', null],
      ['has id', 'info', 'm1'],
      ['REPORT RequestId: m1 Runtime Duration: 41.23 ms', 'info', 'm1'],
      ['REPORT RequestId: m2 Runtime Duration: 5000.00 ms Task timed out after 5.00 seconds', 'error', 'm2'],
      ['REPORT RequestId: m3 Runtime Duration: 1.00 ms Task failed: Boom', 'error', 'm3'],
    ]);
  });
});

let t0 = Date.parse('2024-05-01T12:00:00.000Z');
function at(ms: number): string {
  t0 += ms;
  return new Date(t0).toISOString();
}

import { describe, expect, it } from 'vitest';
import { LambdaLogs, OOM_PATTERNS, type OutOfMemoryReport, type TelemetryEvent } from '../src/index.js';
import { decodeAll } from './helpers/intake-schema.js';
import { ARN, ext, fn, invocation } from './helpers/telemetry.js';

describe('LambdaLogs', () => {
  it('ships 100 000 records of one invocation, in order, none lost, each with its request id', () => {
    const logs = new LambdaLogs({ functionArn: ARN, service: 'bulk', tags: 'env:load' });
    const id = '3f2c9d1e-5b6a-4e7f-8a9b-0c1d2e3f4a5b';
    logs.ingest({ time: '2024-05-01T12:00:00.000Z', type: 'platform.start', record: { requestId: id } });
    // Lambda delivers telemetry in batches of at most 1000 events.
    for (let b = 0; b < 100; b++) {
      const batch: TelemetryEvent[] = [];
      for (let i = 0; i < 1000; i++) {
        const n = b * 1000 + i;
        batch.push(
          n % 2 === 0
            ? fn(`2024-05-01T12:00:00.431Z\t${id}\tINFO\trecord ${n}\n`, '2024-05-01T12:00:01.000Z')
            : fn(
                { timestamp: '2024-05-01T12:00:01.000Z', level: 'DEBUG', message: `record ${n}` },
                '2024-05-01T12:00:01.000Z',
              ),
        );
      }
      logs.ingest(batch);
    }
    logs.ingest([
      {
        time: '2024-05-01T12:00:02.000Z',
        type: 'platform.runtimeDone',
        record: { requestId: id, status: 'success', metrics: { durationMs: 2000 } },
      },
    ]);
    const payloads = logs.flush({ final: true });
    const events = decodeAll(payloads);
    expect(events).toHaveLength(100_002);
    expect(payloads.every((p) => (p.items ?? 0) <= 1000 && p.body.byteLength <= 5 * 1024 * 1024)).toBe(true);
    const records = events.slice(1, -1);
    const wrong = records.filter(
      (e, n) =>
        !e.message.endsWith(`record ${n}`) ||
        e.lambda!.request_id !== id ||
        e.status !== (n % 2 === 0 ? 'info' : 'debug'),
    );
    expect(wrong).toEqual([]);
    expect(logs.stats()).toMatchObject({
      received: 100_002,
      buffered: 100_002,
      flushed: 100_002,
      dropped: 0,
    });
    expect(logs.pending).toBe(0);
  });

  it('ties lines without an id to the current invocation, and earlier ones to the next START', () => {
    const logs = new LambdaLogs({ functionArn: ARN });
    logs.ingest([fn('init: connecting\n'), ext('other-extension: ready\n')]);
    expect(logs.flush()).toEqual([]); // orphans wait for a request id
    logs.ingest(invocation('req-a', ['during a\n']));
    logs.ingest(invocation('req-b', ['during b\n']));
    const events = decodeAll(logs.flush());
    const byMessage = Object.fromEntries(events.map((e) => [e.message, e.lambda!.request_id]));
    expect(byMessage).toMatchObject({
      'init: connecting': 'req-a',
      'other-extension: ready': 'req-a',
      'during a': 'req-a',
      'during b': 'req-b',
      'END RequestId: req-b': 'req-b',
    });
    expect(logs.requestId).toBeNull();
  });

  it('ships everything at SHUTDOWN: the final flush includes lines still waiting for an id', () => {
    const logs = new LambdaLogs({ functionArn: ARN });
    logs.ingest(invocation('req-1', ['a\n']));
    logs.ingest(ext('after the last invocation\n'));
    const periodic = decodeAll(logs.flush());
    expect(periodic.map((e) => e.message)).not.toContain('after the last invocation');
    expect(logs.pending).toBe(1);
    const final = decodeAll(logs.flush({ final: true }));
    expect(final.map((e) => [e.message, e.lambda!.request_id])).toEqual([
      ['after the last invocation', null],
    ]);
    expect(logs.pending).toBe(0);
  });

  it('never holds more orphans than allowed: the oldest go out without an id', () => {
    const logs = new LambdaLogs({ functionArn: ARN, maxOrphans: 3 });
    logs.ingest(['o1', 'o2', 'o3', 'o4', 'o5'].map((m) => fn(m)));
    expect(decodeAll(logs.flush()).map((e) => [e.message, e.lambda!.request_id])).toEqual([
      ['o1', null],
      ['o2', null],
    ]);
    expect(logs.pending).toBe(3);
  });

  it("leaves out this extension's own lines unless configured, other extensions' lines ship", () => {
    const own = 'DD_EXTENSION | WARN | flush took 120ms';
    const quiet = new LambdaLogs({ functionArn: ARN });
    quiet.ingest(invocation('r', []));
    quiet.ingest([ext(own), ext('[my-ext] ready\n')]);
    expect(decodeAll(quiet.flush({ final: true })).map((e) => e.message)).not.toContain(own);
    expect(quiet.stats().ownLinesSkipped).toBe(1);

    const loud = new LambdaLogs({ functionArn: ARN, shipOwnLogs: true });
    loud.ingest([ext(own)]);
    const [e] = decodeAll(loud.flush({ final: true }));
    expect(e).toMatchObject({ message: own, status: 'warn' });
  });

  it('reports every runtime OOM line to the hook, with its request id, and ships the line', () => {
    const reports: OutOfMemoryReport[] = [];
    const logs = new LambdaLogs({ functionArn: ARN, onOutOfMemory: (r) => reports.push(r) });
    const lines = [
      'fatal error: runtime: out of memory\n\ngoroutine 1 [running]:\nruntime.throw(...)\n',
      'Exception in thread "main" java.lang.OutOfMemoryError: Java heap space\n\tat Handler.handleRequest(Handler.java:12)\n',
      'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n',
      'RequestId: 9b1c Error: Runtime exited with error: signal: killed\nRuntime.ExitError\n',
      '[ERROR] MemoryError\nTraceback (most recent call last):\n  File "/var/task/app.py", line 3, in handler\n',
      "/var/task/app.rb:3:in `handler': failed to allocate memory (NoMemoryError)\n",
      "Unhandled exception. System.OutOfMemoryException: Exception of type 'System.OutOfMemoryException' was thrown.\n",
    ];
    logs.ingest({ time: '2024-05-01T12:00:00.000Z', type: 'platform.start', record: { requestId: 'oom-1' } });
    logs.ingest(lines.map((l) => fn(l, '2024-05-01T12:00:01.000Z')));
    logs.ingest(
      fn({
        level: 'ERROR',
        requestId: 'oom-2',
        errorType: 'Runtime.OutOfMemory',
        stackTrace: ['java.lang.OutOfMemoryError: Metaspace'],
      }),
    );
    logs.ingest(ext('other-ext: JavaScript heap out of memory\n'));
    logs.ingest(fn('2024-05-01T12:00:00.431Z\tabc\tINFO\tmemory usage at 40%\n'));
    expect(reports.map((r) => r.pattern)).toEqual([
      ...OOM_PATTERNS,
      'java.lang.OutOfMemoryError',
      'JavaScript heap out of memory',
    ]);
    expect(reports.map((r) => r.requestId)).toEqual([...lines.map(() => 'oom-1'), 'oom-2', 'oom-1']);
    expect(reports[0]!.timestamp).toBe(Date.parse('2024-05-01T12:00:01.000Z'));
    expect(logs.stats().outOfMemory).toBe(9);
    const shipped = decodeAll(logs.flush()).map((e) => e.message);
    expect(shipped).toHaveLength(1 + lines.length + 3);
  });

  it('spots every OOM pattern anywhere in a long stack trace, and nothing in one without', () => {
    const reports: OutOfMemoryReport[] = [];
    const logs = new LambdaLogs({ functionArn: ARN, onOutOfMemory: (r) => reports.push(r) });
    const frames = '    at Object.handler (/var/task/index.js:1234:56)\n'.repeat(40);
    const lines = OOM_PATTERNS.flatMap((p) => [`${p}\n${frames}`, `Error\n${frames}${p}\n${frames}`]);
    logs.ingest(lines.map((l) => fn(`2024-05-01T12:00:00.431Z\toom-3\tERROR\t${l}`)));
    logs.ingest(fn(`2024-05-01T12:00:00.431Z\toom-3\tERROR\tError: memo ry, skil l\n${frames}`));
    expect(reports.map((r) => r.pattern)).toEqual(OOM_PATTERNS.flatMap((p) => [p, p]));
    expect(lines.every((l) => l.length > 1024)).toBe(true);
  });

  it('with logs disabled ships nothing, yet still spots OOM lines and tracks invocations', () => {
    const reports: OutOfMemoryReport[] = [];
    const logs = new LambdaLogs({ functionArn: ARN, enabled: false, onOutOfMemory: (r) => reports.push(r) });
    logs.ingest(invocation('off-1', ['JavaScript heap out of memory\n', 'hello\n']));
    expect(logs.flush({ final: true })).toEqual([]);
    expect(reports).toHaveLength(1);
    expect(reports[0]!.requestId).toBe('off-1');
  });

  it('survives a throwing OOM hook', () => {
    const logs = new LambdaLogs({
      functionArn: ARN,
      onOutOfMemory: () => {
        throw new Error('hook bug');
      },
    });
    expect(() => logs.ingest(fn('MemoryError\n'))).not.toThrow();
    expect(decodeAll(logs.flush({ final: true }))).toHaveLength(1);
  });

  it('honours service, tags, source and the function ARN on every event', () => {
    const logs = new LambdaLogs({
      functionArn: ARN,
      service: 'orders',
      tags: { env: 'prod', version: '1.2.3', functionname: 'my-function' },
      source: 'lambda',
    });
    logs.ingest(invocation('t-1', ['x\n']));
    for (const e of decodeAll(logs.flush())) {
      expect(e).toMatchObject({
        hostname: ARN,
        service: 'orders',
        ddsource: 'lambda',
        ddtags: 'env:prod,version:1.2.3,functionname:my-function',
      });
      expect(e.lambda).toEqual({ arn: ARN, request_id: 't-1' });
    }
  });

  it('sends the exact intake JSON of the real extension', () => {
    const logs = new LambdaLogs({ functionArn: ARN, service: 'svc', tags: 'a:b' });
    logs.ingest(fn(`2024-05-01T12:00:00.431Z\tr-9\tINFO\thi\n`, '2024-05-01T12:00:00.431Z'));
    const [p] = logs.flush();
    expect(Buffer.from(p!.body).toString()).toBe(
      `[{"message":{"message":"2024-05-01T12:00:00.431Z\\tr-9\\tINFO\\thi","lambda":{"arn":"${ARN}","request_id":"r-9"},"timestamp":1714564800431,"status":"info"},"hostname":"${ARN}","service":"svc","ddtags":"a:b","ddsource":"lambda"}]`,
    );
    expect(p).toMatchObject({
      kind: 'logs',
      contentType: 'application/json',
      headers: { 'DD-PROTOCOL': 'agent-json' },
      items: 1,
    });
  });
});

describe('parseIsoMillis', () => {
  it('agrees with Date.parse on the Telemetry API format and falls back to it otherwise', async () => {
    const { parseIsoMillis } = await import('../src/lambda.js');
    for (const t of [
      '2024-05-01T12:00:00.431Z',
      '1999-12-31T23:59:59.999Z',
      '2024-02-29T00:00:00.000Z',
      '2030-01-01T00:00:00.001Z',
    ]) {
      expect(parseIsoMillis(t)).toBe(Date.parse(t));
    }
    for (const t of [
      '2024-05-01T12:00:00Z',
      '2024-05-01T12:00:00.431+02:00',
      '2024-13-01T12:00:00.000Z',
      'garbage',
      '2024-05-01T12:00:00.4a1Z',
    ]) {
      expect(Object.is(parseIsoMillis(t), Date.parse(t))).toBe(true);
    }
  });
});

describe('event timestamps', () => {
  it('are the telemetry times in ms, across minutes, hours and odd formats', () => {
    const logs = new LambdaLogs({ functionArn: ARN, now: () => 1_700_000_000_000 });
    const times = [
      '2024-05-01T12:00:59.999Z',
      '2024-05-01T12:01:00.000Z',
      '2024-05-01T12:00:30.500Z',
      '2024-05-01T23:59:59.999Z',
      '2024-05-02T00:00:00.001Z',
      '2024-05-02T00:00:00Z',
      '2024-05-02T02:00:00.250+02:00',
    ];
    logs.ingest({ time: times[0]!, type: 'platform.start', record: { requestId: 'ts' } });
    logs.ingest(times.map((t) => fn('x', t)));
    logs.ingest(fn('y', 'not a time'));
    // Events parsed upstream carry epoch milliseconds.
    logs.ingest({ time: 1714564800431, type: 'function', record: 'z' });
    const got = decodeAll(logs.flush()).map((e) => e.timestamp);
    expect(got).toEqual([
      Date.parse(times[0]!),
      ...times.map((t) => Date.parse(t)),
      1_700_000_000_000,
      1714564800431,
    ]);
  });
});

import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ChildOutputLogs, compileRules, fromEnv, LogPipeline, type LogStatus } from '../src/index.js';
import { decodeAll } from './helpers/intake-schema.js';

function collect(): { lines: [string, LogStatus][]; out: ChildOutputLogs } {
  const lines: [string, LogStatus][] = [];
  return { lines, out: new ChildOutputLogs((l, s) => lines.push([l, s])) };
}

const CLOUD_RUN_TAGS = {
  origin: 'cloudrun',
  '_dd.origin': 'cloudrun',
  service_name: 'orders',
  revision_name: 'orders-00042-abc',
  location: 'us-central1',
  project_id: 'my-project',
};

describe('a child process output as logs (serverless-init)', () => {
  it('splits stdout on newlines, holding a partial line until its newline', () => {
    const { lines, out } = collect();
    out.stdout('first\nsec');
    out.stdout('ond\r\n\nthird');
    expect(lines).toEqual([
      ['first', 'info'],
      ['second', 'info'],
    ]);
    out.end();
    expect(lines.at(-1)).toEqual(['third', 'info']);
  });

  it('keeps each stderr write whole, so a stack trace is one event', () => {
    const { lines, out } = collect();
    const trace = 'Error: boom\n    at handler (/app/index.js:3:9)\n    at process (node:internal/x:1:1)\n';
    out.stderr(trace);
    out.stderr('second write\n');
    expect(lines).toEqual([
      [trace.trimEnd(), 'error'],
      ['second write', 'error'],
    ]);
  });

  it('does not split a UTF-8 character cut across two chunks', () => {
    const { lines, out } = collect();
    const bytes = Buffer.from('prix: 10 €\n');
    out.stdout(bytes.subarray(0, bytes.length - 3));
    out.stdout(bytes.subarray(bytes.length - 3));
    expect(lines).toEqual([['prix: 10 €', 'info']]);
  });

  it('ships a line that never ends once it passes the size limit', () => {
    const lines: string[] = [];
    const out = new ChildOutputLogs((l) => lines.push(l), 100);
    out.stdout('a'.repeat(150));
    expect(lines).toEqual(['a'.repeat(150)]);
  });

  it('turns a real child process output into Cloud Run log events', async () => {
    const cfg = fromEnv(
      {
        DD_LOGS_ENABLED: 'true',
        DD_SERVICE: 'Orders',
        DD_LOGS_CONFIG_PROCESSING_RULES:
          '[{"type":"exclude_at_match","name":"no_health","pattern":"GET /healthz"}]',
      },
      undefined,
      { target: 'serverless-init' },
    );
    expect(cfg.enabled).toBe(true);
    const pipeline = new LogPipeline({
      source: cfg.source ?? 'cloudrun',
      service: cfg.service,
      hostname: 'none',
      tags: CLOUD_RUN_TAGS,
      rules: cfg.rules,
    });
    const out = new ChildOutputLogs((line, status) => pipeline.submit(line, status));
    const script = [
      "process.stdout.write('listening on 8080\\nGET /healthz 200\\n');",
      "process.stdout.write(JSON.stringify({level:'warn',message:'slow query',ms:812})+'\\n');",
      "process.stderr.write(new Error('kaput').stack+'\\n');",
      "process.stdout.write('tail without newline');",
    ].join('');
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (c: Buffer) => out.stdout(c));
    child.stderr.on('data', (c: Buffer) => out.stderr(c));
    await new Promise<void>((resolve) => child.on('close', () => resolve()));
    out.end();

    const events = decodeAll(pipeline.flush());
    const stack = events.find((e) => e.message.startsWith('Error: kaput'));
    expect(stack?.status).toBe('error');
    expect(stack!.message.split('\n').length).toBeGreaterThan(2);
    expect(events.filter((e) => e.status !== 'error').map((e) => [e.message, e.status])).toEqual([
      ['listening on 8080', 'info'],
      ['{"level":"warn","message":"slow query","ms":812}', 'warn'],
      ['tail without newline', 'info'],
    ]);
    for (const e of events) {
      expect(e).toMatchObject({
        ddsource: 'cloudrun',
        service: 'orders',
        hostname: 'none',
        ddtags:
          'origin:cloudrun,_dd.origin:cloudrun,service_name:orders,revision_name:orders-00042-abc,location:us-central1,project_id:my-project',
      });
      expect(e.lambda).toBeUndefined();
    }
    expect(pipeline.stats()).toMatchObject({ received: 5, excluded: 1, buffered: 4, flushed: 4 });
  });

  it('uses DD_SOURCE, lower-cased, and masks before shipping', () => {
    const cfg = fromEnv({ DD_SOURCE: 'NodeJS', DD_LOGS_ENABLED: 'TRUE' }, undefined, {
      target: 'serverless-init',
    });
    const pipeline = new LogPipeline({
      source: cfg.source!,
      rules: compileRules([
        { type: 'mask_sequences', name: 'k', pattern: 'key=\\w+', replace_placeholder: 'key=***' },
      ]),
    });
    pipeline.submit('auth key=hunter2', 'info', 1714564800431);
    const [e] = decodeAll(pipeline.flush());
    expect(e).toMatchObject({
      message: 'auth key=***',
      ddsource: 'nodejs',
      timestamp: 1714564800431,
      service: '',
    });
  });
});

// End to end on the testkit's Lambda sandbox: a real Node runtime writes its log lines (Lambda's text
// and JSON formats), a real extension process subscribes to the Telemetry API, the events it gets
// go through LambdaLogs, and the payloads are POSTed to the fake Datadog intake.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DatadogIntake, LambdaSandbox, startIntake } from '@serverless-agent/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LambdaLogs, type OutgoingPayload, type TelemetryEvent } from '../src/index.js';

const ARN = 'arn:aws:lambda:us-east-1:123456789012:function:logs-e2e';

const EXTENSION = `#!/usr/bin/env node
'use strict';
const http = require('node:http');
const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
function call(method, path, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
(async () => {
  const reg = await call('POST', '/2020-01-01/extension/register', { 'Lambda-Extension-Name': 'datadog-agent' },
    JSON.stringify({ events: ['INVOKE', 'SHUTDOWN'] }));
  const id = reg.headers['lambda-extension-identifier'];
  await call('PUT', '/2022-07-01/telemetry', { 'Lambda-Extension-Identifier': id, 'Content-Type': 'application/json' },
    JSON.stringify({ schemaVersion: '2022-12-13', types: ['platform', 'function', 'extension'],
      destination: { protocol: 'HTTP', URI: 'http://sandbox:' + process.env.LOGS_TEST_TELEMETRY_PORT + '/' },
      buffering: { maxItems: 1000, maxBytes: 262144, timeoutMs: 25 } }));
  console.log('DD_EXTENSION | INFO | ready');
  for (;;) {
    const r = await call('GET', '/2020-01-01/extension/event/next', { 'Lambda-Extension-Identifier': id });
    if (JSON.parse(r.body).eventType === 'SHUTDOWN') process.exit(0);
  }
})();
`;

const FUNCTION = `
console.log('cold start: loading config');
export const handler = async (event) => {
  console.log('hello', event.n);
  console.warn('slow downstream');
  console.error(new Error('boom'));
  console.info(JSON.stringify({ level: 'debug', message: 'structured', cart: 3 }));
  if (event.fail) throw new TypeError('bad input');
  return { ok: true };
};
`;

let intake: DatadogIntake;
beforeAll(async () => {
  intake = await startIntake();
});
afterAll(async () => {
  await intake.stop();
});

let dir: string | undefined;
let receiver: Server | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
  receiver?.closeAllConnections();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function runSandbox(
  logFormat: 'Text' | 'JSON',
): Promise<{ events: TelemetryEvent[]; requestIds: string[] }> {
  dir = mkdtempSync(join(tmpdir(), 'logs-e2e-'));
  const extensions = join(dir, 'extensions');
  const task = join(dir, 'task');
  mkdirSync(extensions);
  mkdirSync(task);
  writeFileSync(join(extensions, 'datadog-agent'), EXTENSION);
  chmodSync(join(extensions, 'datadog-agent'), 0o755);
  writeFileSync(join(task, 'index.mjs'), FUNCTION);

  const events: TelemetryEvent[] = [];
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      events.push(...(JSON.parse(Buffer.concat(chunks).toString('utf8')) as TelemetryEvent[]));
      res.end();
    });
  });
  await new Promise<void>((r) => receiver!.listen(0, '127.0.0.1', r));
  const port = (receiver.address() as AddressInfo).port;

  const sandbox = new LambdaSandbox({
    taskRoot: task,
    handler: 'index.handler',
    extensionsDir: extensions,
    functionName: 'logs-e2e',
    logFormat,
    env: { LOGS_TEST_TELEMETRY_PORT: String(port) },
  });
  const requestIds: string[] = [];
  try {
    await sandbox.start();
    for (const payload of [{ n: 1 }, { n: 2, fail: true }]) {
      const r = await sandbox.invoke(payload);
      requestIds.push((r.report as { requestId: string }).requestId);
    }
  } finally {
    await sandbox.shutdown();
  }
  const deadline = Date.now() + 10_000;
  while (events.filter((e) => e.type === 'platform.report').length < 2 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  return { events, requestIds };
}

async function ship(payloads: OutgoingPayload[]): Promise<void> {
  for (const p of payloads) {
    const res = await fetch(`${intake.url}/api/v2/logs`, {
      method: 'POST',
      headers: { 'DD-API-KEY': intake.apiKey, 'Content-Type': p.contentType, ...p.headers },
      body: p.body,
    });
    await res.arrayBuffer();
    expect(res.status).toBe(202);
  }
}

type Shipped = {
  message: { message: string; status: string; lambda: { request_id: string | null } };
} & Record<string, unknown>;

describe.each(['Text', 'JSON'] as const)(
  'sandbox → telemetry → LambdaLogs → intake (%s log format)',
  (format) => {
    it('ships every function line with its status and request id, and the platform lines', async () => {
      const { events, requestIds } = await runSandbox(format);
      const [first, second] = requestIds;
      const logs = new LambdaLogs({ functionArn: ARN, service: 'e2e', tags: 'env:test' });
      logs.ingest(events);
      intake.clear();
      await ship(logs.flush({ final: true }));
      const got = (await intake.waitForLogs(1)) as unknown as Shipped[];
      const lines = (intake.logs() as unknown as Shipped[]).map((e) => e.message);
      const find = (text: string, id: string | undefined) =>
        lines.find((l) => l.message.includes(text) && l.lambda.request_id === id);

      expect(find('cold start: loading config', first)).toBeDefined(); // an init line, stamped with the first invoke
      for (const id of [first, second]) {
        expect(find('hello', id)?.status).toBe('info');
        expect(find('slow downstream', id)?.status).toBe('warn');
        const boom = find('boom', id);
        expect(boom?.status).toBe('error');
        expect(boom!.message).toMatch(/Error: boom\n\s+at /); // the stack trace stays one event
        expect(find('structured', id)?.status).toBe('debug');
        expect(find(`START RequestId: ${id}`, id)).toBeDefined();
        expect(find(`REPORT RequestId: ${id} Duration: `, id)).toBeDefined();
      }
      expect(find(`END RequestId: ${first}`, first)?.status).toBe('info');
      expect(find('bad input', second)?.status).toBe('error');
      expect(find(`END RequestId: ${second} Task failed: `, second)?.status).toBe('error');
      expect(lines.some((l) => l.message.includes('DD_EXTENSION'))).toBe(false);
      expect(got.length).toBeGreaterThan(0);
      expect(logs.stats()).toMatchObject({ invalid: 0, dropped: 0 });
    });
  },
);

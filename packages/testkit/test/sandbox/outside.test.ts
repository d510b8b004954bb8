import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LambdaSandbox, type TelemetryEvent } from '../../src/index.js';
import { type Scratch, scratch, writeFunction } from './helpers.js';

let s: Scratch;
let sandbox: LambdaSandbox | undefined;
afterEach(async () => {
  await sandbox?.shutdown();
  sandbox = undefined;
  s?.cleanup();
});

describe('an extension client running outside the sandbox', () => {
  it('registers from the test process, gets INVOKE and SHUTDOWN, and TCP telemetry', async () => {
    s = scratch();
    writeFunction(
      s.task,
      'index.mjs',
      'export const handler = async () => { console.log("hi"); return 1; };\n',
    );
    // A TCP telemetry destination: newline-delimited JSON events.
    const lines: TelemetryEvent[] = [];
    let onLine = () => {};
    const tcp = createServer((sock) => {
      let rest = '';
      sock.setEncoding('utf8');
      sock.on('data', (c: string) => {
        rest += c;
        for (let i = rest.indexOf('\n'); i >= 0; i = rest.indexOf('\n')) {
          lines.push(JSON.parse(rest.slice(0, i)));
          rest = rest.slice(i + 1);
        }
        onLine();
      });
    });
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    const tcpPort = (tcp.address() as AddressInfo).port;

    sandbox = new LambdaSandbox({ taskRoot: s.task, outsideExtensions: ['datadog-agent'] });
    const api = await sandbox.listen();
    const started = sandbox.start();
    const reg = await fetch(`http://${api}/2020-01-01/extension/register`, {
      method: 'POST',
      headers: { 'Lambda-Extension-Name': 'datadog-agent', 'Lambda-Extension-Accept-Feature': 'accountId' },
      body: JSON.stringify({ events: ['INVOKE', 'SHUTDOWN'] }),
    });
    expect(reg.status).toBe(200);
    const id = reg.headers.get('lambda-extension-identifier')!;
    const headers = { 'Lambda-Extension-Identifier': id };
    const sub = await fetch(`http://${api}/2022-07-01/telemetry`, {
      method: 'PUT',
      headers,
      body: JSON.stringify({
        schemaVersion: '2022-12-13',
        destination: { protocol: 'TCP', port: tcpPort },
        types: ['platform', 'function'],
        buffering: { timeoutMs: 25 },
      }),
    });
    expect(sub.status).toBe(200);
    const next = () =>
      fetch(`http://${api}/2020-01-01/extension/event/next`, { headers }).then((r) => r.json());
    const first = next();
    expect((await started).status).toBe('success');
    const invoked = sandbox.invoke({});
    const ev = await first;
    expect(ev).toMatchObject({ eventType: 'INVOKE' });
    const second = next();
    const r = await invoked;
    expect(r.status).toBe('success');
    const received = new Promise<void>((resolve) => {
      onLine = () => {
        if (lines.some((e) => e.type === 'platform.report')) resolve();
      };
      onLine();
    });
    await received;
    expect(lines.map((e) => e.type)).toEqual(
      expect.arrayContaining(['platform.initStart', 'platform.start', 'function', 'platform.report']),
    );
    const down = sandbox.shutdown();
    const shutdownEvent = (await second) as { eventType: string; shutdownReason: string; deadlineMs: number };
    expect(shutdownEvent).toEqual({
      eventType: 'SHUTDOWN',
      shutdownReason: 'spindown',
      deadlineMs: expect.any(Number),
    });
    expect(shutdownEvent.deadlineMs).toBeGreaterThan(Date.now());
    expect(shutdownEvent.deadlineMs).toBeLessThanOrEqual(Date.now() + 2000);
    await down;
    sandbox = undefined;
    await new Promise((r) => tcp.close(r));
  });
});

// Test helpers: temporary function and extension folders, and a loopback Telemetry receiver.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TelemetryEvent } from '../../src/index.js';

export interface Scratch {
  dir: string;
  extensions: string;
  task: string;
  cleanup(): void;
}

export function scratch(): Scratch {
  const dir = mkdtempSync(join(tmpdir(), 'sandbox-test-'));
  const extensions = join(dir, 'extensions');
  const task = join(dir, 'task');
  mkdirSync(extensions);
  mkdirSync(task);
  return { dir, extensions, task, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeFunction(dir: string, file: string, source: string): void {
  writeFileSync(join(dir, file), source);
}

/** What a scripted test extension does; it is written as a plain Node script. */
export interface ScriptedExtension {
  events?: string[];
  /** Subscribe to the Telemetry API with this body before the first `next`. */
  subscribe?: unknown;
  /** Keep running after SHUTDOWN (it must then be SIGKILLed). */
  ignoreShutdown?: boolean;
  /** Exit with this code right after registering. */
  exitAfterRegister?: number;
  /** Call init/error with this error type instead of `next`. */
  initError?: string;
  /** Milliseconds of busy work after each INVOKE before calling `next` again. */
  workAfterInvokeMs?: number;
  /** Milliseconds to wait before registering. */
  registerDelayMs?: number;
  /** Print this line to stdout on each INVOKE. */
  logOnInvoke?: string;
  /** On INVOKE, exit with code 1 unless this file exists (and create it): a crash, once. */
  crashOnInvokeOnce?: string;
  /** Write its environment as JSON to this file at start. */
  dumpEnvTo?: string;
}

export function writeExtension(dir: string, name: string, spec: ScriptedExtension = {}): string {
  const file = join(dir, name);
  const source = `#!/usr/bin/env node
'use strict';
const http = require('node:http');
const spec = ${JSON.stringify(spec)};
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
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
(async () => {
  if (spec.dumpEnvTo) require('node:fs').writeFileSync(spec.dumpEnvTo, JSON.stringify(process.env));
  if (spec.registerDelayMs) await sleep(spec.registerDelayMs);
  const reg = await call('POST', '/2020-01-01/extension/register',
    { 'Lambda-Extension-Name': ${JSON.stringify(name)} }, JSON.stringify({ events: spec.events || ['INVOKE', 'SHUTDOWN'] }));
  if (reg.status !== 200) { console.error('register', reg.status, reg.body); process.exit(2); }
  const id = reg.headers['lambda-extension-identifier'];
  if (spec.exitAfterRegister !== undefined) process.exit(spec.exitAfterRegister);
  if (spec.subscribe) {
    const s = await call('PUT', '/2022-07-01/telemetry', { 'Lambda-Extension-Identifier': id, 'Content-Type': 'application/json' }, JSON.stringify(spec.subscribe));
    console.log('subscribe', s.status, s.body);
  }
  if (spec.initError) {
    await call('POST', '/2020-01-01/extension/init/error', { 'Lambda-Extension-Identifier': id, 'Lambda-Extension-Function-Error-Type': spec.initError }, '{}');
    process.exit(1);
  }
  for (;;) {
    const r = await call('GET', '/2020-01-01/extension/event/next', { 'Lambda-Extension-Identifier': id });
    const ev = JSON.parse(r.body);
    if (ev.eventType === 'SHUTDOWN') {
      console.log('shutdown', ev.shutdownReason);
      if (spec.ignoreShutdown) { setInterval(() => {}, 1000); return; }
      process.exit(0);
    }
    if (spec.logOnInvoke) console.log(spec.logOnInvoke);
    if (spec.crashOnInvokeOnce && !require('node:fs').existsSync(spec.crashOnInvokeOnce)) {
      require('node:fs').writeFileSync(spec.crashOnInvokeOnce, '1');
      process.exit(1);
    }
    if (spec.workAfterInvokeMs) await sleep(spec.workAfterInvokeMs);
  }
})();
`;
  writeFileSync(file, source);
  chmodSync(file, 0o755);
  return file;
}

/** A Telemetry subscriber endpoint in the test process: records each POSTed batch. */
export class TelemetryReceiver {
  readonly batches: { headers: Record<string, unknown>; events: TelemetryEvent[]; bytes: number }[] = [];
  private server: Server | undefined;
  private listeners = new Set<() => void>();
  port = 0;
  /** While set, requests are answered only once it resolves (a stalled subscriber). */
  gate: Promise<void> | undefined;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        this.batches.push({
          headers: req.headers,
          events: JSON.parse(body.toString('utf8')),
          bytes: body.length,
        });
        for (const l of [...this.listeners]) l();
        void (this.gate ?? Promise.resolve()).then(() => res.end());
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get events(): TelemetryEvent[] {
    return this.batches.flatMap((b) => b.events);
  }

  /** Resolves once `pred` holds on what arrived (rejects after `timeoutMs`). */
  waitFor(pred: (events: TelemetryEvent[]) => boolean, timeoutMs = 10_000): Promise<void> {
    if (pred(this.events)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        const counts: Record<string, number> = {};
        for (const e of this.events) counts[e.type] = (counts[e.type] ?? 0) + 1;
        reject(new Error(`telemetry not received; got ${JSON.stringify(counts)}`));
      }, timeoutMs);
      const check = () => {
        if (pred(this.events)) {
          clearTimeout(timer);
          this.listeners.delete(check);
          resolve();
        }
      };
      this.listeners.add(check);
    });
  }

  close(): Promise<void> {
    return new Promise((r) => {
      if (!this.server) return r();
      this.server.close(() => r());
      this.server.closeAllConnections();
    });
  }
}

export function subscription(port: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemaVersion: '2022-12-13',
    destination: { protocol: 'HTTP', URI: `http://sandbox:${port}/telemetry` },
    types: ['platform', 'function', 'extension'],
    buffering: { maxItems: 1000, maxBytes: 262144, timeoutMs: 25 },
    ...overrides,
  };
}

// Test helpers: temporary function and extension folders, and a loopback Telemetry receiver.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TelemetryEvent } from '../../src/index.js';

export { writeScriptedExtension as writeExtension } from '../../src/index.js';

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

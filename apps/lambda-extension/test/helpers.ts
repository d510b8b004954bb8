// Shared by the tests: building and unpacking the layer, free ports, scratch folders.
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const APP_DIR = fileURLToPath(new URL('..', import.meta.url));

export function scratch(prefix = 'lambda-extension-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs build:layer into `out` and unzips layer.zip into `out/opt`; returns that folder. */
export function buildAndUnzipLayer(out: string, zip: 'auto' | 'builtin' = 'auto'): string {
  execFileSync(
    process.execPath,
    [join(APP_DIR, 'scripts/build-layer.mjs'), '--out', out, '--zip', zip, '--quiet'],
    {
      stdio: 'inherit',
    },
  );
  const opt = join(out, 'opt');
  mkdirSync(opt, { recursive: true });
  execFileSync('unzip', ['-q', '-o', join(out, 'layer.zip'), '-d', opt]);
  return opt;
}

async function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

export interface TestPorts {
  hooks: number;
  dogstatsd: number;
  traces: number;
  telemetry: number;
}

/** Free ports for one extension, and the variables that give them to it. */
export async function freePorts(): Promise<{ ports: TestPorts; env: Record<string, string> }> {
  const ports = {
    hooks: await freeTcpPort(),
    dogstatsd: await freeUdpPort(),
    traces: await freeTcpPort(),
    telemetry: await freeTcpPort(),
  };
  return {
    ports,
    env: {
      SERVERLESS_AGENT_HOOKS_PORT: String(ports.hooks),
      DD_DOGSTATSD_PORT: String(ports.dogstatsd),
      DD_APM_RECEIVER_PORT: String(ports.traces),
      SERVERLESS_AGENT_TELEMETRY_PORT: String(ports.telemetry),
    },
  };
}

/** A trigger event of `test/fixtures/events/` (API Gateway, SQS), its times made recent. */
export function triggerEvent(name: string): Record<string, unknown> {
  const e = JSON.parse(readFileSync(join(APP_DIR, 'test/fixtures/events', `${name}.json`), 'utf8'));
  // Inferred spans are timed by the event.
  if (e.requestContext?.requestTimeEpoch) e.requestContext.requestTimeEpoch = Date.now() - 20;
  if (e.requestContext?.timeEpoch) e.requestContext.timeEpoch = Date.now() - 20;
  for (const r of e.Records ?? []) r.attributes.SentTimestamp = String(Date.now() - 50);
  return e;
}

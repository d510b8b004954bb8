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

// Ports are drawn below the kernel's ephemeral range: a port the kernel hands out for `bind(0)` can
// be handed out again, to any client socket of a test running beside this one, between our check
// and the extension's bind (a UDP client's implicit bind took a DogStatsD port that way).
const EPHEMERAL_LOW = (() => {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 0 ? low : 32768;
  } catch {
    return 32768;
  }
})();
const PICK_LOW = 20000;

function bindable(port: number, kind: 'tcp' | 'udp'): Promise<boolean> {
  return new Promise((resolve) => {
    if (kind === 'tcp') {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    } else {
      const s = createSocket('udp4');
      s.once('error', () => {
        s.close();
        resolve(false);
      });
      s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
    }
  });
}

async function freePort(kind: 'tcp' | 'udp', taken: Set<number>): Promise<number> {
  const span = EPHEMERAL_LOW - PICK_LOW;
  for (let attempt = 0; span > 0 && attempt < 50; attempt++) {
    const port = PICK_LOW + Math.floor(Math.random() * span);
    if (!taken.has(port) && (await bindable(port, kind))) {
      taken.add(port);
      return port;
    }
  }
  throw new Error(`no free ${kind} port found in ${PICK_LOW}-${EPHEMERAL_LOW - 1}`);
}

export interface TestPorts {
  hooks: number;
  dogstatsd: number;
  traces: number;
  telemetry: number;
}

/** Free ports for one extension, and the variables that give them to it. */
export async function freePorts(): Promise<{ ports: TestPorts; env: Record<string, string> }> {
  const taken = new Set<number>();
  const ports = {
    hooks: await freePort('tcp', taken),
    dogstatsd: await freePort('udp', taken),
    traces: await freePort('tcp', taken),
    telemetry: await freePort('tcp', taken),
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

import { request } from 'node:http';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { healthPortFrom, startHealthServer, unsupportedSettings } from '../src/health.js';
import { noopLogger } from '../src/logger.js';
import { ensureBundle, start } from './helpers/datadog-init.js';

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A port free right now (the health port is configured, never 0). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe('DD_HEALTH_PORT', () => {
  it('reads the port; unset, 0 or not a port means no probe', () => {
    expect(healthPortFrom({ DD_HEALTH_PORT: '9999' }, noopLogger)).toBe(9999);
    expect(healthPortFrom({}, noopLogger)).toBeUndefined();
    expect(healthPortFrom({ DD_HEALTH_PORT: '0' }, noopLogger)).toBeUndefined();
    const warned: string[] = [];
    const logger = { ...noopLogger, warn: (m: string) => warned.push(m) };
    expect(healthPortFrom({ DD_HEALTH_PORT: 'http' }, logger)).toBeUndefined();
    expect(warned[0]).toContain('not a port');
  });

  it('answers /live, /ready and /startup as the Agent probe does, 404 elsewhere', async () => {
    const server = await startHealthServer({ port: 0, host: '127.0.0.1', logger: noopLogger });
    for (const path of ['/live', '/ready', '/startup']) {
      const r = await get(server.port, path);
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toEqual({ Healthy: ['serverless-init'], Unhealthy: [] });
    }
    expect((await get(server.port, '/other')).status).toBe(404);
    await server.close();
  });

  it('sidecar mode opens the probe once started and closes it at SIGTERM', async () => {
    await ensureBundle();
    const port = await freePort();
    const run = start([], { DD_HEALTH_PORT: String(port) });
    await expect
      .poll(
        () =>
          get(port, '/ready').then(
            (r) => r.status,
            () => 0,
          ),
        { timeout: 20_000, interval: 100 },
      )
      .toBe(200);
    run.proc.kill('SIGTERM');
    expect(await run.exit).toEqual({ code: 0, signal: null });
    await expect(get(port, '/ready')).rejects.toThrow();
  }, 30_000);

  it("warns once for each setting of Datadog's wrapper that is not supported", () => {
    expect(unsupportedSettings({})).toEqual([]);
    const warnings = unsupportedSettings({
      DD_OTLP_CONFIG_RECEIVER_PROTOCOLS_GRPC_ENDPOINT: 'localhost:4317',
      DD_AAS_INSTANCE_LOGGING_ENABLED: 'true',
      DD_AWS_MICROVM_LIFECYCLE_PORT: '9000',
    });
    expect(warnings).toHaveLength(3);
    expect(warnings.join('\n')).toMatch(
      /OTLP.*not supported[\s\S]*instance-log.*not supported[\s\S]*MicroVM.*not supported/,
    );
  });
});

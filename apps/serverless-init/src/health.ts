import { createServer, type Server } from 'node:http';
import type { Env } from './config.js';
import type { Logger } from './logger.js';

/**
 * DD_HEALTH_PORT, the Agent's health probe: Cloud Run users point a TCP startup probe of the sidecar
 * container at it, so it opens once the agent has started, on every interface (the probe comes from
 * the platform, not from loopback). `/live`, `/ready` and `/startup` answer as the Agent's probe does.
 */
export const HEALTH_PATHS: readonly string[] = ['/live', '/ready', '/startup'];

/** The port to listen on, or undefined when unset, 0 or not a port. */
export function healthPortFrom(env: Env, logger: Logger): number | undefined {
  const raw = (env.DD_HEALTH_PORT ?? '').trim();
  if (raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    logger.warn(`DD_HEALTH_PORT=${JSON.stringify(raw)} is not a port; no health probe`);
    return undefined;
  }
  return n === 0 ? undefined : n;
}

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

export function startHealthServer(options: {
  port: number;
  host?: string;
  logger: Logger;
}): Promise<HealthServer> {
  const body = JSON.stringify({ Healthy: ['serverless-init'], Unhealthy: [] });
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if ((req.method === 'GET' || req.method === 'HEAD') && HEALTH_PATHS.includes(path)) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
    }
  });
  // A probe's connection must never keep us from exiting.
  server.keepAliveTimeout = 1_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host ?? '0.0.0.0', port: options.port }, () => {
      server.off('error', reject);
      server.on('error', (err) => options.logger.warn(`health: ${err.message}`));
      const a = server.address();
      resolve({
        port: typeof a === 'object' && a !== null ? a.port : options.port,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

/** Variables of Datadog's wrapper this one does not implement: each set one gets one warning. */
export function unsupportedSettings(env: Env): string[] {
  const out: string[] = [];
  const otlp = Object.keys(env).filter((k) => k.startsWith('DD_OTLP_CONFIG_') && (env[k] ?? '') !== '');
  if (otlp.length > 0)
    out.push(`${otlp[0]} is set: OTLP ingestion is not supported; use DogStatsD or the trace receiver`);
  const aas = (env.DD_AAS_INSTANCE_LOGGING_ENABLED ?? '').trim().toLowerCase();
  if (aas === 'true' || aas === '1') {
    out.push(
      'DD_AAS_INSTANCE_LOGGING_ENABLED is set: App Service instance-log tailing is not supported; use DD_SERVERLESS_LOG_PATH',
    );
  }
  for (const k of [
    'DD_AWS_MICROVM_LIFECYCLE_PORT',
    'DD_SERVERLESS_MICROVM_LIFECYCLE_PORT',
    'DD_AWS_MICROVM_USER_APP_PORT',
  ]) {
    if ((env[k] ?? '') !== '') out.push(`${k} is set: the AWS Lambda MicroVM mode is not supported`);
  }
  return out;
}

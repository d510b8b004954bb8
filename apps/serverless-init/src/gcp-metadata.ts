import { request } from 'node:http';
import type { GcpMetadata } from './platform.js';

export interface MetadataOptions {
  /** `host[:port]` of the metadata server; GCE_METADATA_HOST when set, as Google's client libraries do. */
  host?: string;
  /** Per request, as Datadog's wrapper: 300 ms. */
  timeoutMs?: number;
}

const DEFAULT_HOST = 'metadata.google.internal';

/** Datadog's wrapper reads these three and nothing else from the metadata server. */
export async function fetchGcpMetadata(options: MetadataOptions = {}): Promise<GcpMetadata> {
  const host = options.host || DEFAULT_HOST;
  const timeoutMs = options.timeoutMs ?? 300;
  const [containerId, region, projectId] = await Promise.all([
    get(host, '/computeMetadata/v1/instance/id', timeoutMs),
    get(host, '/computeMetadata/v1/instance/region', timeoutMs),
    get(host, '/computeMetadata/v1/project/project-id', timeoutMs),
  ]);
  return {
    containerId: containerId ?? 'unknown',
    // The region comes as `projects/<number>/regions/<region>`.
    location: region?.split('/').pop() || 'unknown',
    projectId: projectId ?? 'unknown',
  };
}

function get(hostPort: string, path: string, timeoutMs: number): Promise<string | undefined> {
  const [host, port] = splitHostPort(hostPort);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      req.destroy();
      resolve(undefined);
    }, timeoutMs);
    const req = request({ host, port, path, headers: { 'Metadata-Flavor': 'Google' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        const body = Buffer.concat(chunks).toString('utf8').trim().toLowerCase();
        resolve(res.statusCode === 200 && body !== '' ? body : undefined);
      });
      res.on('error', () => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
    req.on('error', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
    req.end();
  });
}

function splitHostPort(hostPort: string): [string, number] {
  const m = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(hostPort);
  return [m?.[1] ?? hostPort, m?.[2] ? Number(m[2]) : 80];
}

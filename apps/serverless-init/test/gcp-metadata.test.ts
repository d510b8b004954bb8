import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchGcpMetadata } from '../src/gcp-metadata.js';

let server: Server | undefined;

afterEach(async () => {
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('fetchGcpMetadata', () => {
  it('reads the instance id, region and project with the Metadata-Flavor header, lower-cased', async () => {
    const seen: string[] = [];
    const host = await serve((req, res) => {
      seen.push(`${req.url} ${req.headers['metadata-flavor']}`);
      const body: Record<string, string> = {
        '/computeMetadata/v1/instance/id': '00BF4BF9A1',
        '/computeMetadata/v1/instance/region': 'projects/123456/regions/Europe-West1',
        '/computeMetadata/v1/project/project-id': 'Shop-Prod',
      };
      res.writeHead(200, { 'Metadata-Flavor': 'Google' }).end(body[req.url ?? '']);
    });
    expect(await fetchGcpMetadata({ host })).toEqual({
      containerId: '00bf4bf9a1',
      location: 'europe-west1',
      projectId: 'shop-prod',
    });
    expect(seen.sort()).toEqual([
      '/computeMetadata/v1/instance/id Google',
      '/computeMetadata/v1/instance/region Google',
      '/computeMetadata/v1/project/project-id Google',
    ]);
  });

  it('gives unknown for what fails, and gives up on a server that never answers within the timeout', async () => {
    const host = await serve((req, res) => {
      if (req.url?.endsWith('/id')) return; // never answers
      if (req.url?.endsWith('/region')) return void res.writeHead(404).end('nope');
      res.writeHead(200).end('proj');
    });
    const started = performance.now();
    const md = await fetchGcpMetadata({ host, timeoutMs: 400 });
    const elapsed = performance.now() - started;
    expect(md).toEqual({ containerId: 'unknown', location: 'unknown', projectId: 'proj' });
    // The three requests run together: the whole wait is one timeout, not three.
    expect(elapsed).toBeLessThan(1150); // three in a row would take 1200 ms
  });

  it('gives unknown everywhere when nothing listens', async () => {
    const host = await serve(() => {});
    await new Promise((r) => server!.close(r));
    server = undefined;
    expect(await fetchGcpMetadata({ host })).toEqual({
      containerId: 'unknown',
      location: 'unknown',
      projectId: 'unknown',
    });
  });
});

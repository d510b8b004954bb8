import { createServer, type Server } from 'node:http';

/** A fake GCP metadata server: the three paths Datadog's wrapper reads, only with `Metadata-Flavor: Google`. */
export async function startMetadataServer(
  values: { id: string; region: string; project: string },
  options: { hang?: boolean } = {},
): Promise<{ host: string; requests: string[]; close: () => Promise<void> }> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (options.hang) return; // never answers
    if (req.headers['metadata-flavor'] !== 'Google') {
      res.writeHead(403).end();
      return;
    }
    const body = {
      '/computeMetadata/v1/instance/id': values.id,
      '/computeMetadata/v1/instance/region': values.region,
      '/computeMetadata/v1/project/project-id': values.project,
    }[req.url ?? ''];
    if (body === undefined) res.writeHead(404).end();
    else res.writeHead(200, { 'Metadata-Flavor': 'Google', 'Content-Type': 'application/text' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    host: `127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

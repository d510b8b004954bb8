import { request } from 'node:http';
import { join } from 'node:path';
import { type DatadogIntake, startIntake } from '@serverless-agent/testkit';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { APP_DIR, ensureBundle, type Running, start } from './helpers/datadog-init.js';
import { startMetadataServer } from './helpers/metadata-server.js';

const SERVER = join(APP_DIR, 'test', 'fixtures', 'server.cjs');

beforeAll(async () => {
  await ensureBundle();
}, 60_000);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });
}

const tagsOf = (ddtags: string) =>
  Object.fromEntries(
    ddtags.split(',').map((t) => {
      const i = t.indexOf(':');
      return [t.slice(0, i), t.slice(i + 1)];
    }),
  );

async function cloudRunService(
  intake: DatadogIntake,
  metadataHost: string,
  extra: Record<string, string> = {},
) {
  const run = start(['node', SERVER], {
    ...intake.agentEnv(),
    K_SERVICE: 'checkout',
    K_REVISION: 'checkout-00042-abc',
    K_CONFIGURATION: 'checkout',
    DD_SERVICE: 'checkout',
    DD_ENV: 'test',
    DD_VERSION: '1.2.3',
    DD_LOGS_ENABLED: 'true',
    GCE_METADATA_HOST: metadataHost,
    DD_TRACE_STARTUP_LOGS: 'false',
    ...extra,
  });
  cleanups.push(() => {
    if (run.proc.exitCode === null) run.proc.kill('SIGKILL');
  });
  await run.waitForStdout('listening ', 30_000);
  const port = Number(/listening (\d+)/.exec(run.stdout().toString())![1]);
  return { run, port };
}

async function stop(run: Running) {
  const t0 = Date.now();
  run.proc.kill('SIGTERM');
  const exit = await run.exit;
  return { exit, ms: Date.now() - t0 };
}

describe('Cloud Run service: a real dd-trace and hot-shots server behind datadog-init', () => {
  it('ships traces and logs with the platform and metadata tags, and flushes the last ones at SIGTERM', async () => {
    const intake = await startIntake();
    cleanups.push(() => intake.stop());
    const metadata = await startMetadataServer({
      id: 'C0FFEE-instance',
      region: 'projects/123456/regions/us-central1',
      project: 'My-Project',
    });
    cleanups.push(() => metadata.close());
    const { run, port } = await cloudRunService(intake, metadata.host);

    for (const path of ['/a', '/b', '/c']) expect(await get(port, path)).toBe('ok\n');

    // Traces: dd-trace's http.request spans, with the metadata and platform tags.
    const spans = await intake.waitForSpans(3, (s) => s.name === 'web.request', { timeoutMs: 20_000 });
    for (const s of spans) {
      expect(s.service).toBe('checkout');
      expect(s.meta).toMatchObject({
        '_dd.origin': 'cloudrun',
        origin: 'cloudrun',
        service_name: 'checkout',
        'gcr.service_name': 'checkout',
        revision_name: 'checkout-00042-abc',
        project_id: 'my-project',
        'gcr.project_id': 'my-project',
        location: 'us-central1',
        container_id: 'c0ffee-instance',
        'gcr.resource_name': 'projects/my-project/locations/us-central1/services/checkout',
        env: 'test',
      });
    }

    // Logs: one per stdout line, each stderr write whole (status error), the Cloud Run tags.
    const served = await intake.waitForLogs(3, /^served /, { timeoutMs: 20_000 });
    const traceIds = new Set(spans.map((s) => s.traceID.toString()));
    for (const log of served) {
      const l = log as unknown as Record<string, string>;
      expect(l.ddsource).toBe('cloudrun');
      expect(l.service).toBe('checkout');
      expect(tagsOf(l.ddtags!)).toMatchObject({
        origin: 'cloudrun',
        service_name: 'checkout',
        project_id: 'my-project',
        location: 'us-central1',
        container_id: 'c0ffee-instance',
        env: 'test',
        version: '1.2.3',
      });
      expect(traceIds.has(/trace (\d+)/.exec(l.message!)![1]!)).toBe(true);
    }
    const warnings = await intake.waitForLogs(3, /^warning for /, { timeoutMs: 20_000 });
    for (const w of warnings) {
      const l = w as unknown as Record<string, string>;
      expect(l.message).toMatch(/^warning for \/[abc]\n {2}at handler \(server\.cjs:1:1\)$/);
      expect(l.status).toBe('error');
    }
    expect(metadata.requests.sort()).toEqual([
      '/computeMetadata/v1/instance/id',
      '/computeMetadata/v1/instance/region',
      '/computeMetadata/v1/project/project-id',
    ]);

    // SIGTERM: forwarded; the child's last line reaches the intake through the final flush.
    const { exit, ms } = await stop(run);
    expect(exit.code).toBe(0);
    expect(ms).toBeLessThan(10_000);
    expect(intake.logs('shutting down')).toHaveLength(1);

    // Metrics: hot-shots' distributions with the metric tag set (no high-cardinality keys).
    const latency = intake.distributions('app.request.latency');
    expect(latency.reduce((n, d) => n + d.count, 0)).toBe(3);
    for (const d of latency) {
      expect(d.tags).toEqual(
        expect.arrayContaining([
          'service_name:checkout',
          'project_id:my-project',
          'location:us-central1',
          'env:test',
        ]),
      );
      expect(d.tags.some((t) => t.startsWith('container_id:'))).toBe(false);
    }
    // Enhanced metrics: cold start and shutdown, new and legacy names; the CPU gauges from the cgroup.
    for (const name of [
      'gcp.run.container.enhanced.cold_start',
      'gcp.run.container.enhanced.shutdown',
      'gcp.run.enhanced.cold_start',
      'gcp.run.enhanced.shutdown',
    ]) {
      expect(intake.distributions(name), name).toHaveLength(1);
    }
    expect(intake.distributions('gcp.run.container.enhanced.cold_start')[0]!.tags).toEqual(
      expect.arrayContaining([
        'service_name:checkout',
        'revision_name:checkout-00042-abc',
        'origin:cloudrun',
      ]),
    );
    expect(intake.metrics('gcp.run.container.enhanced.instance').length).toBeGreaterThan(0);
    // The pass-through is untouched.
    expect(run.stdout().toString()).toMatch(
      /^listening \d+\nserved \/a trace \d+\nserved \/b trace \d+\nserved \/c trace \d+\nshutting down\n$/,
    );
  }, 90_000);

  it('starts at once when the metadata server never answers, with unknown metadata tags', async () => {
    const intake = await startIntake();
    cleanups.push(() => intake.stop());
    const metadata = await startMetadataServer({ id: '', region: '', project: '' }, { hang: true });
    cleanups.push(() => metadata.close());
    const { run, port } = await cloudRunService(intake, metadata.host);
    expect(await get(port, '/x')).toBe('ok\n');
    const [log] = await intake.waitForLogs(1, /^served \/x/, { timeoutMs: 20_000 });
    expect(tagsOf((log as unknown as Record<string, string>).ddtags!)).toMatchObject({
      project_id: 'unknown',
      location: 'unknown',
      container_id: 'unknown',
      service_name: 'checkout',
    });
    expect((await stop(run)).exit.code).toBe(0);
  }, 90_000);

  it('keeps the final flush inside the budget when the intake never answers', async () => {
    const intake = await startIntake();
    cleanups.push(() => intake.stop());
    intake.fault({ path: '*', blackhole: true });
    const metadata = await startMetadataServer({ id: 'i', region: 'projects/1/regions/r', project: 'p' });
    cleanups.push(() => metadata.close());
    const { run, port } = await cloudRunService(intake, metadata.host);
    expect(await get(port, '/slow')).toBe('ok\n');
    await run.waitForStdout('served /slow');
    const { exit, ms } = await stop(run);
    expect(exit.code).toBe(0);
    // Cloud Run kills at 10 s; the per-kind budgets (traces 2.5 s, logs 1.5 s, metrics 5 s) run at once.
    expect(ms).toBeLessThan(9_500);
    expect(intake.requests().length).toBeGreaterThan(0);
  }, 90_000);
});

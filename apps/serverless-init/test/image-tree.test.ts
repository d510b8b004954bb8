import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { startIntake } from '@serverless-agent/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_DIR, ensureBundle, start } from './helpers/datadog-init.js';
import { lastStage } from './helpers/dockerfile.js';

const run = promisify(execFile);
const SEA = join(APP_DIR, 'dist', 'datadog-init');
let root: string;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

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

beforeAll(async () => {
  await ensureBundle();
  // The single executable; cached in dist until the bundle or node changes.
  await run(process.execPath, [join(APP_DIR, 'scripts', 'sea.mjs')], { timeout: 170_000 });
  root = mkdtempSync(join(tmpdir(), 'datadog-init-image-'));
}, 180_000);

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('the image tree, assembled from the Dockerfiles and the build output', () => {
  it('is one executable file of the expected size', () => {
    const size = statSync(SEA).size;
    expect(statSync(SEA).mode & 0o111).not.toBe(0);
    // A node binary with the app inside: tens of MiB, not a script.
    expect(size).toBeGreaterThan(40 * 1024 * 1024);
    expect(size).toBeLessThan(200 * 1024 * 1024);
  });

  it('runs a Python service through /app/datadog-init, with no Node on PATH', async () => {
    // The carrier image: its COPY from the build stage names the build output.
    const carrier = lastStage(readFileSync(join(APP_DIR, 'Dockerfile'), 'utf8'));
    const carrierFiles = new Map<string, string>();
    for (const c of carrier.copies) {
      expect(c.from).toBe('build');
      expect(c.src).toBe('/src/apps/serverless-init/dist/datadog-init');
      carrierFiles.set(c.dest, SEA);
    }
    expect(carrier.entrypoint).toEqual(['/datadog-init']);

    // The user's image: COPY --from=<carrier> /datadog-init /app/datadog-init, their app, ENTRYPOINT, CMD.
    const exampleDir = join(APP_DIR, 'examples', 'python');
    const user = lastStage(readFileSync(join(exampleDir, 'Dockerfile'), 'utf8'));
    for (const c of user.copies) {
      const source = c.from ? carrierFiles.get(c.src) : join(exampleDir, c.src);
      expect(source, `${c.src} exists in ${c.from ?? 'the build context'}`).toBeDefined();
      const dest = join(root, c.dest);
      mkdirSync(dirname(dest), { recursive: true });
      copyFileSync(source!, dest);
      if (c.from) statSync(dest);
    }
    expect(user.entrypoint).toEqual(['/app/datadog-init']);
    const entry = join(root, user.entrypoint[0]!);
    copyFileSync(SEA, entry); // keep the executable bit
    const bin = join(root, 'usr', 'bin');
    mkdirSync(bin, { recursive: true });
    const python = (await run('python3', ['-c', 'import sys; print(sys.executable)'])).stdout.trim();
    symlinkSync(python, join(bin, 'python3'));

    const port = await freePort();
    const cmd = user.cmd.map((a) => (a.startsWith('/app/') ? join(root, a) : a));
    // The image's DD_LOGS_ENABLED=true: the executable's log thread ships the service's lines.
    const intake = await startIntake();
    const proc = start(cmd, { ...user.env, ...intake.agentEnv(), PATH: bin, PORT: String(port) }, entry);
    await proc.waitForStdout('listening on', 30_000);
    expect(await get(port, '/hello')).toBe('hello\n');
    await proc.waitForStdout('served /hello\n');
    proc.proc.kill('SIGTERM');
    // Python has no SIGTERM handler: it dies of it, and datadog-init reports it as a shell would.
    expect((await proc.exit).code).toBe(143);
    expect(proc.stdout().toString()).toBe(`listening on ${port}\nserved /hello\n`);
    const [log] = await intake.waitForLogs(1, /^served \/hello$/, { timeoutMs: 20_000 });
    expect(log).toMatchObject({ service: 'hello', status: 'info' });
    expect(proc.stderr().toString()).not.toContain('ERROR');
    await intake.stop();
  }, 60_000);
});

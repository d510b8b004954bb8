import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE, ensureBundle, start, startNode } from './helpers/datadog-init.js';

beforeAll(async () => {
  await ensureBundle();
}, 60_000);

// Signals a Node child can catch and report (SIGKILL and SIGSTOP cannot be caught).
const SIGNALS: NodeJS.Signals[] = [
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGUSR1',
  'SIGUSR2',
  'SIGWINCH',
  'SIGCONT',
  'SIGTSTP',
  'SIGTTIN',
  'SIGTTOU',
  'SIGALRM',
  'SIGPIPE',
];

const REPORTER = `
  for (const s of ${JSON.stringify(SIGNALS)}) process.on(s, () => process.stdout.write('got ' + s + '\\n'));
  process.on('SIGTERM', () => { process.stdout.write('got SIGTERM\\n'); process.exit(0); });
  process.stdout.write('ready ' + process.env.DD_DOGSTATSD_PORT + ' ' + process.env.DD_TRACE_AGENT_PORT + '\\n');
  setInterval(() => {}, 1000);
`;

describe('datadog-init, the process (real children through the bundled bin)', () => {
  it('forwards every catchable signal to the child, then exits with its code after SIGTERM', async () => {
    const run = startNode(REPORTER);
    await run.waitForStdout('ready');
    for (const signal of SIGNALS) {
      run.proc.kill(signal);
      await run.waitForStdout(`got ${signal}\n`);
    }
    run.proc.kill('SIGTERM');
    await run.waitForStdout('got SIGTERM\n');
    expect(await run.exit).toEqual({ code: 0, signal: null });
    // SIGUSR1 went to the child: no inspector was opened in the wrapper.
    expect(run.stderr().toString()).not.toContain('Debugger listening');
  }, 60_000);

  it('propagates a crash exit code (3)', async () => {
    const run = startNode(`setTimeout(() => { console.error('boom'); process.exit(3); }, 10)`);
    expect((await run.exit).code).toBe(3);
    expect(run.stderr().toString()).toContain('boom');
  }, 30_000);

  it('exits with 128 + the signal number when a signal kills the child', async () => {
    const run = startNode(`process.stdout.write('ready\\n'); setInterval(() => {}, 1000)`);
    await run.waitForStdout('ready');
    run.proc.kill('SIGTERM'); // the child has no handler: SIGTERM kills it
    expect((await run.exit).code).toBe(143);
    const killed = startNode(`process.kill(process.pid, 'SIGKILL')`);
    expect((await killed.exit).code).toBe(137);
  }, 30_000);

  it('keeps waiting for a child that ignores SIGTERM, and still forwards what comes next', async () => {
    const run = startNode(`
      process.on('SIGTERM', () => process.stdout.write('ignored SIGTERM\\n'));
      process.on('SIGUSR2', () => { process.stdout.write('leaving\\n'); process.exit(7); });
      process.stdout.write('ready\\n');
      setInterval(() => {}, 1000);
    `);
    await run.waitForStdout('ready');
    run.proc.kill('SIGTERM');
    await run.waitForStdout('ignored SIGTERM\n');
    run.proc.kill('SIGTERM');
    await run.waitForStdout('ignored SIGTERM\nignored SIGTERM\n');
    run.proc.kill('SIGUSR2');
    await run.waitForStdout('leaving\n');
    expect((await run.exit).code).toBe(7);
    expect(run.stdout().toString()).toBe('ready\nignored SIGTERM\nignored SIGTERM\nleaving\n');
  }, 30_000);

  it('exits 1 with a clear message when the command cannot start', async () => {
    const run = start(['/nonexistent/server', '--port', '8080']);
    expect((await run.exit).code).toBe(1);
    expect(run.stderr().toString()).toMatch(
      /datadog-init: cannot start "\/nonexistent\/server": no such file/,
    );
    const notExecutable = start([new URL(import.meta.url).pathname]);
    expect((await notExecutable.exit).code).toBe(1);
    expect(notExecutable.stderr().toString()).toMatch(/permission denied/);
  }, 30_000);

  it('runs through a node_modules/.bin-style symlink and still finds its agent bundle', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'datadog-init-bin-'));
    try {
      const link = join(dir, 'datadog-init');
      symlinkSync(BUNDLE, link);
      const run = start(
        [link, process.execPath, '-e', 'console.log("ran")'],
        { DD_LOG_LEVEL: 'error' },
        process.execPath,
      );
      expect((await run.exit).code).toBe(0);
      expect(run.stdout().toString()).toBe('ran\n');
      // The forwarder's line (no key in this test) shows the agent was loaded.
      expect(run.stderr().toString()).toContain('no API key');
      expect(run.stderr().toString()).not.toContain('could not start');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('exits 1 when CMD is empty', async () => {
    const run = start(['   ']);
    expect((await run.exit).code).toBe(1);
    expect(run.stderr().toString()).toContain('the command is empty');
  }, 30_000);

  it('splits a single argument on whitespace, without a shell', async () => {
    const run = start([`${process.execPath} -p process.argv.slice(1).join('|') a "b c"`]);
    expect((await run.exit).code).toBe(0);
    expect(run.stdout().toString()).toBe('a|"b|c"\n');
  }, 30_000);

  it('tells the child the ports it listens on, and the defaults Datadog sets', async () => {
    const run = startNode(
      `console.log(JSON.stringify([process.env.DD_DOGSTATSD_PORT, process.env.DD_TRACE_AGENT_PORT, process.env.DD_HOSTNAME, process.env.DD_REMOTE_CONFIGURATION_ENABLED, process.env.DD_TRACE_ENABLED]))`,
      { DD_LOG_LEVEL: 'debug' },
    );
    expect((await run.exit).code).toBe(0);
    const [statsd, apm, hostname, rc, trace] = JSON.parse(run.stdout().toString());
    const err = run.stderr().toString();
    expect(err).toContain(`dogstatsd: listening on udp port ${statsd}`);
    expect(err).toContain(`apm: listening on tcp port ${apm}`);
    expect(Number(statsd)).toBeGreaterThan(0);
    expect(Number(apm)).toBeGreaterThan(0);
    expect([hostname, rc, trace]).toEqual(['none', 'false', 'true']);
  }, 30_000);

  describe.each([
    // Our own lines (on stderr) are turned off: only the child's bytes are compared.
    ['inherited streams (logs off)', { DD_LOG_LEVEL: 'off' }],
    ['piped through the log tee (DD_LOGS_ENABLED=true)', { DD_LOGS_ENABLED: 'true', DD_LOG_LEVEL: 'off' }],
  ])('50 MB of mixed stdout and stderr, %s', (_name, env) => {
    it('arrives byte for byte, in order on each stream', async () => {
      // Deterministic chunks of varying sizes alternating between the streams, written with
      // backpressure; the test computes the same bytes and compares digests and lengths.
      const generator = `
        const total = 50 * 1024 * 1024;
        function chunk(i) {
          const n = 1 + ((i * 7919) % 65536);
          const b = Buffer.allocUnsafe(n);
          for (let j = 0; j < n; j++) b[j] = (i + j * 31) & 0xff;
          if (i % 5 === 0) b[n - 1] = 10;
          return b;
        }
        module.exports = { total, chunk };
      `;
      const script = `
        const { total, chunk } = (() => { const module = { exports: {} }; ${generator}; return module.exports; })();
        let written = 0, i = 0;
        function next() {
          while (written < total) {
            const b = chunk(i);
            const stream = i % 3 === 0 ? process.stderr : process.stdout;
            i++;
            written += b.length;
            if (!stream.write(b)) { stream.once('drain', next); return; }
          }
        }
        next();
      `;
      const module = { exports: {} as { total: number; chunk: (i: number) => Buffer } };
      new Function('module', generator)(module);
      const { total, chunk } = module.exports;
      const outHash = createHash('sha256');
      const errHash = createHash('sha256');
      let outLen = 0;
      let errLen = 0;
      for (let written = 0, i = 0; written < total; i++) {
        const b = chunk(i);
        written += b.length;
        if (i % 3 === 0) {
          errHash.update(b);
          errLen += b.length;
        } else {
          outHash.update(b);
          outLen += b.length;
        }
      }
      const run = startNode(script, env);
      expect((await run.exit).code).toBe(0);
      const out = run.stdout();
      const err = run.stderr();
      expect(out.length).toBe(outLen);
      expect(err.length).toBe(errLen);
      expect(createHash('sha256').update(out).digest('hex')).toBe(outHash.digest('hex'));
      expect(createHash('sha256').update(err).digest('hex')).toBe(errHash.digest('hex'));
    }, 120_000);
  });

  it('sidecar mode: no child, listens on every interface, stops on SIGTERM with exit 0', async () => {
    const run = start([], { DD_LOG_LEVEL: 'debug' });
    const line = await run.waitForStderr(/apm: listening on tcp port \d+/);
    const udpLine = await run.waitForStderr(/dogstatsd: listening on udp port \d+/);
    const apmPort = Number(/(\d+)$/.exec(line)![1]);
    const udpPort = Number(/(\d+)$/.exec(udpLine)![1]);
    const hex = (p: number) => p.toString(16).toUpperCase().padStart(4, '0');
    // Bound to 0.0.0.0 (non-local traffic accepted), as the spec's sidecar defaults say.
    expect(readFileSync('/proc/net/tcp', 'utf8')).toContain(`00000000:${hex(apmPort)} 00000000:0000 0A`);
    expect(readFileSync('/proc/net/udp', 'utf8')).toContain(`00000000:${hex(udpPort)} 00000000:0000`);
    run.proc.kill('SIGTERM');
    expect(await run.exit).toEqual({ code: 0, signal: null });
  }, 30_000);

  it('init mode listens on loopback only', async () => {
    const run = startNode(`process.stdout.write('ready\\n'); setInterval(() => {}, 1000)`, {
      DD_LOG_LEVEL: 'debug',
    });
    const line = await run.waitForStderr(/apm: listening on tcp port \d+/);
    await run.waitForStdout('ready');
    const apmPort = Number(/(\d+)$/.exec(line)![1]);
    const hex = apmPort.toString(16).toUpperCase().padStart(4, '0');
    expect(readFileSync('/proc/net/tcp', 'utf8')).toContain(`0100007F:${hex} 00000000:0000 0A`);
    run.proc.kill('SIGINT');
    expect((await run.exit).code).toBe(130);
  }, 30_000);
});

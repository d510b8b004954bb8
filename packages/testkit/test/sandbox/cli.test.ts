import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runDemo, SAMPLE_FUNCTION_DIR } from '../../src/index.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

describe('the demo and the CLI', () => {
  it('prints the demo timeline', async () => {
    let text = '';
    const out = new Writable({
      write(chunk, _enc, cb) {
        text += String(chunk);
        cb();
      },
    });
    await runDemo({ out, invocations: 2 });
    expect(text).toMatch(/null-extension: spawn→register [\d.]+ ms, spawn→ready [\d.]+ ms/);
    expect(text).toContain('init report: success');
    expect(text).toContain('frozen (SIGSTOP runtime and extensions)');
    expect(text).toMatch(/invocation 2: success, runtime [\d.]+ ms, post-runtime [\d.]+ ms/);
    expect(text).toContain('shutdown: null-extension exited (0)');
    expect(text).toMatch(/datadog intake on http:\/\/127\.0\.0\.1:\d+/);
    expect(text).toContain('intake received 0 requests');
  });

  // The bin runs from the built package; the suite's CI builds before it tests.
  it.runIf(existsSync(CLI))('runs `sandbox` from the command line', async () => {
    const child = spawn(
      process.execPath,
      [CLI, 'sandbox', '--task-root', SAMPLE_FUNCTION_DIR, '--invoke', '2', '--event', '{"a":1}', '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(0);
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => Object.keys(l)[0])).toEqual(['init', 'invoke', 'invoke', 'shutdown']);
    expect(lines[1].invoke).toMatchObject({ status: 'success', response: { statusCode: 200 } });
  });
});

import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Aggregator, DogStatsDServer } from '../src/index.js';
import { waitFor } from './helpers.js';

// datadog-lambda-js decides "extension present" by the file /opt/extensions/datadog-agent and then
// sends to the fixed 127.0.0.1:8125. The client runs in a private mount namespace with a temp dir
// bind-mounted over /opt, so the real /opt is never touched. That needs root.
const isRoot = process.getuid?.() === 0;
const here = dirname(fileURLToPath(import.meta.url));
const clientScript = join(here, 'fixtures', 'datadog-lambda-client.cjs');
const libraryEntry = createRequire(import.meta.url).resolve('datadog-lambda-js');

const fakeOpt = mkdtempSync(join(tmpdir(), 'dd-opt-'));
afterAll(() => rmSync(fakeOpt, { recursive: true, force: true }));

function runClient(datedAt: number): Promise<{ code: number | null; output: string }> {
  mkdirSync(join(fakeOpt, 'extensions'), { recursive: true });
  writeFileSync(join(fakeOpt, 'extensions', 'datadog-agent'), '#!/bin/sh\nexit 0\n');
  chmodSync(join(fakeOpt, 'extensions', 'datadog-agent'), 0o755);
  const inner = `mount --bind "$1" /opt && exec "$2" "$3" "$4" "$5"`;
  const child = spawn(
    'unshare',
    [
      '-m',
      '--propagation',
      'private',
      'sh',
      '-c',
      inner,
      'sh',
      fakeOpt,
      process.execPath,
      clientScript,
      libraryEntry,
      String(datedAt),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, output })));
}

describe.skipIf(!isRoot)('datadog-lambda-js 12 against the server on 127.0.0.1:8125', () => {
  it('aggregates its timestamped distributions into the buckets of their timestamps', async () => {
    const aggregator = new Aggregator({ globalTags: ['functionname:my-function'] });
    const server = new DogStatsDServer({ aggregator, port: 8125 });
    await server.listen();
    try {
      const datedAt = Math.floor(Date.now() / 1000) - 25;
      const { code, output } = await runClient(datedAt);
      expect(code, output).toBe(0);
      expect(output).toContain('result {"statusCode":200}');
      // The library's own aws.lambda.enhanced.invocations, then 3 custom metrics, one per datagram.
      await waitFor(() => aggregator.stats().datagrams >= 4, 10_000, 'four datagrams');
      const stats = aggregator.stats();
      expect(stats).toMatchObject({ parseErrors: 0, libraryInvocationsDropped: 1 });
      const { sketches } = await aggregator.flush({ all: true });
      // Both calls share a context unless they straddle a 10 s boundary.
      const customs = sketches.filter((s) => s.metric === 'my.custom.metric');
      expect(customs.reduce((n, s) => n + s.sketch.count, 0)).toBe(2);
      expect(customs.reduce((n, s) => n + s.sketch.sum, 0)).toBe(50);
      const custom = customs[0]!;
      expect(custom.tags.filter((t) => !t.startsWith('dd_lambda_layer:'))).toEqual([
        'functionname:my-function',
        'team:a',
        'weird_tag_',
      ]);
      expect(custom.tags.some((t) => t.startsWith('dd_lambda_layer:datadog-node'))).toBe(true);
      const dated = sketches.find((s) => s.metric === 'my.dated')!;
      expect(dated.ts).toBe(datedAt - (datedAt % 10));
      expect(dated.sketch.max).toBe(7);
      expect(sketches.map((s) => s.metric)).not.toContain('aws.lambda.enhanced.invocations');
    } finally {
      await server.close();
    }
  });
});

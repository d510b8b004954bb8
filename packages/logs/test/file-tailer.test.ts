import {
  appendFileSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileTailer, type FileTailerOptions, fromEnv, LogPipeline, REGISTRY_FILE } from '../src/index.js';
import { decodeAll } from './helpers/intake-schema.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'logs-tail-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function tailer(opts: Partial<FileTailerOptions> = {}): { t: FileTailer; lines: string[] } {
  const lines: string[] = [];
  const t = new FileTailer({ pattern: join(dir, '*.log'), onLine: (l) => lines.push(l), ...opts });
  return { t, lines };
}

async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('FileTailer (DD_SERVERLESS_LOG_PATH)', () => {
  it('reads existing files from the beginning by default, then what is appended', async () => {
    writeFileSync(join(dir, 'app.log'), 'one\ntwo\r\n');
    const { t, lines } = tailer();
    await t.poll();
    expect(lines).toEqual(['one', 'two']);
    appendFileSync(join(dir, 'app.log'), 'three\n');
    await t.poll();
    expect(lines).toEqual(['one', 'two', 'three']);
    const registry = JSON.parse(readFileSync(join(dir, REGISTRY_FILE), 'utf8'));
    expect(registry.Registry[`file:${join(dir, 'app.log')}`].Offset).toBe(
      String('one\ntwo\r\nthree\n'.length),
    );
    await t.stop();
  });

  it('starts at the end in "end" mode, but reads files created later from their start', async () => {
    writeFileSync(join(dir, 'old.log'), 'before start\n');
    const { t, lines } = tailer({ startPosition: 'end' });
    await t.poll();
    appendFileSync(join(dir, 'old.log'), 'after start\n');
    writeFileSync(join(dir, 'new.log'), 'new file line\n');
    writeFileSync(join(dir, 'ignored.txt'), 'not matched\n');
    await t.poll();
    expect(lines.sort()).toEqual(['after start', 'new file line']);
    await t.stop();
  });

  it('resumes from the offset registry after a restart; force modes ignore it', async () => {
    const file = join(dir, 'app.log');
    writeFileSync(file, 'a\nb\nc\n');
    const first = tailer();
    await first.t.poll();
    await first.t.stop();
    expect(first.lines).toEqual(['a', 'b', 'c']);
    appendFileSync(file, 'd\ne\n');
    const second = tailer({ startPosition: 'end' });
    await second.t.poll();
    expect(second.lines).toEqual(['d', 'e']);
    await second.t.stop();
    const forced = tailer({ startPosition: 'forceBeginning' });
    await forced.t.poll();
    expect(forced.lines).toEqual(['a', 'b', 'c', 'd', 'e']);
    await forced.t.stop();
  });

  it('restarts from 0 when the file was replaced or truncated while it was not running', async () => {
    const file = join(dir, 'app.log');
    writeFileSync(file, 'long line one\nlong line two\n');
    const first = tailer();
    await first.t.poll();
    await first.t.stop();
    writeFileSync(file, 'short\n');
    const second = tailer();
    await second.t.poll();
    expect(second.lines).toEqual(['short']);
    await second.t.stop();
  });

  it('follows a rotation: finishes the old file, then reads the new one from its start', async () => {
    const file = join(dir, 'app.log');
    writeFileSync(file, 'old 1\n');
    const { t, lines } = tailer();
    await t.poll();
    appendFileSync(file, 'old 2 written just before rotation\n');
    renameSync(file, join(dir, 'app.log.1'));
    writeFileSync(file, 'new 1\n');
    await t.poll();
    expect(lines).toEqual(['old 1', 'old 2 written just before rotation', 'new 1']);
    await t.stop();
  });

  it('re-reads a file truncated in place (copy-truncate)', async () => {
    const file = join(dir, 'app.log');
    writeFileSync(file, 'first line\nsecond line\n');
    const { t, lines } = tailer();
    await t.poll();
    truncateSync(file, 0);
    appendFileSync(file, 'after truncate\n');
    await t.poll();
    expect(lines).toEqual(['first line', 'second line', 'after truncate']);
    await t.stop();
  });

  it('holds a partial last line until its newline, and ships it in the final drain', async () => {
    const file = join(dir, 'app.log');
    writeFileSync(file, 'complete\npart');
    const { t, lines } = tailer();
    await t.poll();
    expect(lines).toEqual(['complete']);
    appendFileSync(file, 'ial\nunterminated');
    await t.poll();
    expect(lines).toEqual(['complete', 'partial']);
    await t.drain();
    expect(lines).toEqual(['complete', 'partial', 'unterminated']);
    const registry = JSON.parse(readFileSync(join(dir, REGISTRY_FILE), 'utf8'));
    expect(Number(registry.Registry[`file:${file}`].Offset)).toBe(readFileSync(file).length);
    await t.stop();
  });

  it('never tails its own registry, even with a catch-all glob', async () => {
    writeFileSync(join(dir, 'a'), 'x\n');
    const lines: string[] = [];
    const t = new FileTailer({ pattern: join(dir, '*'), onLine: (l) => lines.push(l) });
    await t.poll();
    await t.poll();
    expect(lines).toEqual(['x']);
    await t.stop();
  });

  it('polls in the background into a log pipeline, as serverless-init wires it', async () => {
    const cfg = fromEnv({ DD_SERVERLESS_LOG_PATH: join(dir, '*.log'), DD_SERVICE: 'Web' }, undefined, {
      target: 'serverless-init',
    });
    const pipeline = new LogPipeline({ source: 'cloudrun', service: cfg.service, tags: 'origin:cloudrun' });
    const t = new FileTailer({
      pattern: cfg.logPath!,
      startPosition: cfg.startPosition,
      onLine: (l) => pipeline.submit(l),
      pollIntervalMs: 20,
    });
    t.start();
    writeFileSync(join(dir, 'web.log'), '{"level":"error","message":"db down"}\nplain\n');
    await waitFor(() => t.lines === 2);
    appendFileSync(join(dir, 'web.log'), 'later\n');
    await waitFor(() => t.lines === 3);
    await t.drain();
    await t.stop();
    const events = decodeAll(pipeline.flush());
    expect(events.map((e) => [e.message, e.status, e.service, e.ddsource])).toEqual([
      ['{"level":"error","message":"db down"}', 'error', 'web', 'cloudrun'],
      ['plain', 'info', 'web', 'cloudrun'],
      ['later', 'info', 'web', 'cloudrun'],
    ]);
  });
});

describe('FileTailer on paths that do not exist yet', () => {
  it('waits quietly for a plain file path to appear, then reads it', async () => {
    const warnings: string[] = [];
    const logger = {
      debug() {},
      info() {},
      warn: (m: string) => warnings.push(m),
      error: (m: string) => warnings.push(m),
    };
    const file = join(dir, 'later.log');
    const lines: string[] = [];
    const t = new FileTailer({ pattern: file, onLine: (l) => lines.push(l), logger });
    await t.poll();
    writeFileSync(file, 'here now\n');
    await t.poll();
    expect(lines).toEqual(['here now']);
    expect(warnings).toEqual([]);
    await t.stop();
    const missingDir = new FileTailer({ pattern: join(dir, 'nope', '*.log'), onLine: () => {}, logger });
    await missingDir.poll();
    await missingDir.stop();
    expect(warnings.every((w) => w.includes('registry'))).toBe(true);
  });
});

describe('FileTailer bounds', () => {
  it('tails at most maxOpenFiles files and forgets files that left the glob', async () => {
    for (const n of ['a', 'b', 'c']) writeFileSync(join(dir, `${n}.log`), `${n}1\n`);
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (m: string) => warnings.push(m), error() {} };
    const { t, lines } = tailer({ maxOpenFiles: 2, logger });
    await t.poll();
    expect(lines).toEqual(['a1', 'b1']);
    expect(warnings[0]).toContain('not opening');
    rmSync(join(dir, 'a.log'));
    await t.poll();
    expect(lines).toEqual(['a1', 'b1', 'c1']);
    const registry = JSON.parse(readFileSync(join(dir, REGISTRY_FILE), 'utf8')).Registry;
    expect(Object.keys(registry).sort()).toEqual([
      `file:${join(dir, 'b.log')}`,
      `file:${join(dir, 'c.log')}`,
    ]);
    await t.stop();
  });
});

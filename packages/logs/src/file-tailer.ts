import type { FileHandle } from 'node:fs/promises';
import { open, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expandGlob, globBase } from './glob.js';
import { MAX_EVENT_BYTES } from './limits.js';
import { RateLimitedLog } from './rate-limit.js';
import { type Logger, noopLogger } from './types.js';

/**
 * Where to start in a file seen for the first time: `beginning`/`end` unless the registry has an
 * offset for it; `forceBeginning`/`forceEnd` ignore the registry (the Agent's tailing modes).
 */
export type StartPosition = 'beginning' | 'end' | 'forceBeginning' | 'forceEnd';

export interface FileTailerOptions {
  /** `DD_SERVERLESS_LOG_PATH`: a file or a glob such as `/shared-volume/logs/*.log`. */
  pattern: string;
  /** Receives each complete line (without its newline) and the file it came from. */
  onLine: (line: string, file: string) => void;
  /** Default `beginning` (serverless-init's newest behaviour). */
  startPosition?: StartPosition;
  /** Where the offset registry lives: `DD_LOGS_CONFIG_RUN_PATH`, else the pattern's directory. */
  registryDir?: string;
  /** Default 1000 ms. */
  pollIntervalMs?: number;
  /** A line longer than this is shipped in pieces of this size (default 1 MiB). */
  maxLineBytes?: number;
  /** Most files tailed at once (`DD_LOGS_CONFIG_OPEN_FILES_LIMIT`; default 500, the Agent's). */
  maxOpenFiles?: number;
  logger?: Logger;
}

export const REGISTRY_FILE = 'registry.json';

interface RegistryEntry {
  Offset: string;
  TailingMode: string;
  LastUpdated: string;
  Inode?: number;
}

interface Tailed {
  path: string;
  handle: FileHandle;
  ino: number;
  /** Bytes consumed: every complete line before this offset was emitted. */
  offset: number;
  /** Bytes read past `offset`: a line still waiting for its newline. */
  partial: Buffer;
}

const CHUNK = 64 * 1024;

/**
 * Tails files matching a glob by polling: new files are picked up on each pass, a file replaced at
 * its path (rotation) is read to its end before the new one is followed from its start, a file that
 * shrinks (copy-truncate) is re-read from the start. Offsets persist in a registry so a restart
 * resumes where it stopped.
 */
export class FileTailer {
  private readonly files = new Map<string, Tailed>();
  private readonly startPosition: StartPosition;
  private readonly registryPath: string;
  private readonly pollIntervalMs: number;
  private readonly maxLineBytes: number;
  private readonly maxOpenFiles: number;
  private readonly log: RateLimitedLog;
  private registry: Record<string, RegistryEntry> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private firstPass = true;
  private dirty = false;
  private linesEmitted = 0;

  constructor(private readonly options: FileTailerOptions) {
    this.startPosition = options.startPosition ?? 'beginning';
    this.registryPath = join(options.registryDir ?? globBase(options.pattern), REGISTRY_FILE);
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.maxLineBytes = options.maxLineBytes ?? MAX_EVENT_BYTES;
    this.maxOpenFiles = options.maxOpenFiles ?? 500;
    this.log = new RateLimitedLog(options.logger ?? noopLogger);
  }

  /** Lines handed to `onLine` so far. */
  get lines(): number {
    return this.linesEmitted;
  }

  /** Starts polling in the background (the timer does not keep the process alive). */
  start(): void {
    if (this.timer) return;
    const tick = (): void => {
      this.timer = setTimeout(() => {
        void this.poll().finally(() => {
          if (this.timer) tick();
        });
      }, this.pollIntervalMs);
      this.timer.unref();
    };
    void this.poll();
    tick();
  }

  /** One pass: find files, read what is new in each, save the registry. Passes never overlap. */
  poll(): Promise<void> {
    const run = (this.running ?? Promise.resolve()).then(() => this.pass(false));
    this.running = run.catch(() => {});
    return run;
  }

  /**
   * The final read at shutdown: reads every file to its end, ships unterminated last lines, saves
   * the registry and stops polling.
   */
  async drain(): Promise<void> {
    this.stopTimer();
    const run = (this.running ?? Promise.resolve()).then(() => this.pass(true));
    this.running = run.catch(() => {});
    await run;
  }

  /** Stops polling and closes the files (without a final read). */
  async stop(): Promise<void> {
    this.stopTimer();
    await this.running;
    for (const t of this.files.values()) await t.handle.close().catch(() => {});
    this.files.clear();
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async loadRegistry(): Promise<Record<string, RegistryEntry>> {
    if (this.registry) return this.registry;
    try {
      const parsed = JSON.parse(await readFile(this.registryPath, 'utf8')) as { Registry?: unknown };
      const reg = parsed.Registry;
      this.registry = reg && typeof reg === 'object' ? (reg as Record<string, RegistryEntry>) : {};
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.log.warn('registry', `logs: unreadable tailer registry ${this.registryPath}; starting afresh`);
      }
      this.registry = {};
    }
    return this.registry;
  }

  private async pass(final: boolean): Promise<void> {
    const registry = await this.loadRegistry();
    let matches: string[];
    try {
      matches = (await expandGlob(this.options.pattern)).filter((p) => p !== this.registryPath);
    } catch (err) {
      this.log.warn('glob', `logs: cannot list ${this.options.pattern}: ${(err as Error).message}`);
      matches = [];
    }
    const seen = new Set(matches);
    // Files gone from the glob (deleted or renamed away): read what is left, then let go.
    for (const [path, t] of this.files) {
      if (seen.has(path)) continue;
      await this.readToEnd(t, true);
      await t.handle.close().catch(() => {});
      this.files.delete(path);
      delete registry[`file:${path}`];
      this.dirty = true;
    }
    for (const path of matches) {
      try {
        await this.follow(path, registry);
      } catch (err) {
        // Gone between listing and reading (or not created yet): the next pass sees.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        this.log.warn(`read:${path}`, `logs: cannot tail ${path}: ${(err as Error).message}`);
      }
    }
    if (final) {
      for (const t of this.files.values()) await this.readToEnd(t, true);
    }
    this.firstPass = false;
    if (this.dirty) await this.saveRegistry();
  }

  private async follow(path: string, registry: Record<string, RegistryEntry>): Promise<void> {
    const st = await stat(path);
    if (!st.isFile()) return;
    let t = this.files.get(path);
    if (t && t.ino !== st.ino) {
      // Rotated: the old file (still open) is finished first, then the new one starts at 0.
      await this.readToEnd(t, true);
      await t.handle.close().catch(() => {});
      this.files.delete(path);
      t = await this.openAt(path, st.ino, 0);
    } else if (!t) {
      if (this.files.size >= this.maxOpenFiles) {
        this.log.warn(
          'open-files',
          `logs: already tailing ${this.files.size} files (the limit); not opening ${path}`,
        );
        return;
      }
      t = await this.openAt(path, st.ino, this.startOffset(path, st.ino, st.size, registry));
    } else if (st.size < t.offset + t.partial.length) {
      // Truncated in place: everything in it now is new.
      this.log.warn(`truncated:${path}`, `logs: ${path} was truncated; reading it from the start`);
      t.offset = 0;
      t.partial = Buffer.alloc(0);
      this.dirty = true;
    }
    await this.readToEnd(t, false);
  }

  private startOffset(
    path: string,
    ino: number,
    size: number,
    registry: Record<string, RegistryEntry>,
  ): number {
    const mode = this.startPosition;
    if (mode === 'forceBeginning') return 0;
    if (mode === 'forceEnd') return size;
    const entry = registry[`file:${path}`];
    if (entry) {
      const offset = Number(entry.Offset);
      const sameFile = entry.Inode === undefined || entry.Inode === ino;
      if (sameFile && Number.isSafeInteger(offset) && offset >= 0 && offset <= size) return offset;
      return 0; // replaced or truncated while we were away: all of it is new
    }
    // Files that appear after start-up are new: read them whole whatever the mode.
    return mode === 'end' && this.firstPass ? size : 0;
  }

  private async openAt(path: string, ino: number, offset: number): Promise<Tailed> {
    const handle = await open(path, 'r');
    const t: Tailed = { path, handle, ino, offset, partial: Buffer.alloc(0) };
    this.files.set(path, t);
    this.dirty = true;
    return t;
  }

  private async readToEnd(t: Tailed, flushPartial: boolean): Promise<void> {
    const buf = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const pos = t.offset + t.partial.length;
      const { bytesRead } = await t.handle.read(buf, 0, CHUNK, pos);
      if (bytesRead === 0) break;
      this.consume(t, buf.subarray(0, bytesRead));
    }
    if (flushPartial && t.partial.length > 0) {
      this.emit(t, t.partial);
      t.offset += t.partial.length;
      t.partial = Buffer.alloc(0);
      this.dirty = true;
    }
  }

  private consume(t: Tailed, chunk: Buffer): void {
    let data = t.partial.length > 0 ? Buffer.concat([t.partial, chunk]) : chunk;
    let start = 0;
    for (let nl = data.indexOf(10); nl !== -1; nl = data.indexOf(10, start)) {
      this.emit(t, data.subarray(start, nl));
      start = nl + 1;
    }
    t.offset += start;
    if (start > 0) this.dirty = true;
    data = data.subarray(start);
    while (data.length > this.maxLineBytes) {
      this.emit(t, data.subarray(0, this.maxLineBytes));
      t.offset += this.maxLineBytes;
      data = data.subarray(this.maxLineBytes);
      this.dirty = true;
    }
    t.partial = Buffer.from(data);
  }

  private emit(t: Tailed, bytes: Buffer): void {
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === 13) end--;
    if (end === 0) return;
    this.linesEmitted++;
    this.options.onLine(bytes.toString('utf8', 0, end), t.path);
  }

  private async saveRegistry(): Promise<void> {
    const registry = this.registry ?? {};
    const now = new Date().toISOString();
    for (const t of this.files.values()) {
      registry[`file:${t.path}`] = {
        Offset: String(t.offset),
        TailingMode: this.startPosition,
        LastUpdated: now,
        Inode: t.ino,
      };
    }
    this.dirty = false;
    try {
      await writeFile(this.registryPath, JSON.stringify({ Version: 2, Registry: registry }));
    } catch (err) {
      this.log.warn('registry-write', `logs: cannot write ${this.registryPath}: ${(err as Error).message}`);
    }
  }
}

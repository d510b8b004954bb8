import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const APP_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BUNDLE = join(APP_DIR, 'dist', 'datadog-init.cjs');

async function newestSource(dir: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, await newestSource(p));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, (await stat(p)).mtimeMs);
  }
  return newest;
}

/** The bundled bin, rebuilt when a source is newer (the tests run what users run). */
export async function ensureBundle(): Promise<string> {
  const sources = await Promise.all(
    [join(APP_DIR, 'src'), join(APP_DIR, '..', '..', 'packages')].map((d) => newestSource(d)),
  );
  if (!existsSync(BUNDLE) || statSync(BUNDLE).mtimeMs < Math.max(...sources)) {
    execFileSync(process.execPath, [join(APP_DIR, 'scripts', 'bundle.mjs')], { stdio: 'pipe' });
  }
  return BUNDLE;
}

export interface Running {
  proc: ChildProcess;
  stdout: () => Buffer;
  stderr: () => Buffer;
  /** Resolves once stdout contains the text. */
  waitForStdout: (text: string, timeoutMs?: number) => Promise<void>;
  waitForStderr: (text: string | RegExp, timeoutMs?: number) => Promise<string>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns datadog-init (the bundled bin, or another executable) with the test's environment. */
export function start(
  args: string[],
  env: Record<string, string | undefined> = {},
  executable?: string,
): Running {
  const [command, prefix] = executable ? [executable, []] : [process.execPath, [BUNDLE]];
  const proc = spawn(command, [...prefix, ...args], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DD_DOGSTATSD_PORT: '0',
      DD_APM_RECEIVER_PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const waiters: (() => void)[] = [];
  const notify = () => {
    for (const w of waiters.splice(0)) w();
  };
  proc.stdout!.on('data', (c: Buffer) => {
    out.push(c);
    notify();
  });
  proc.stderr!.on('data', (c: Buffer) => {
    err.push(c);
    notify();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('close', (code, signal) => {
      notify();
      resolve({ code, signal });
    }),
  );
  let exited = false;
  void exit.then(() => {
    exited = true;
  });
  const waitFor = <T>(check: () => T | undefined, what: string, timeoutMs: number): Promise<T> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `timed out waiting for ${what}; stdout: ${Buffer.concat(out).toString().slice(-500)}; stderr: ${Buffer.concat(err).toString().slice(-2000)}`,
            ),
          ),
        timeoutMs,
      );
      const test = () => {
        const v = check();
        if (v !== undefined) {
          clearTimeout(timer);
          resolve(v);
        } else if (exited) {
          clearTimeout(timer);
          reject(
            new Error(
              `exited before ${what}; stdout: ${Buffer.concat(out).toString().slice(-500)}; stderr: ${Buffer.concat(err).toString().slice(-2000)}`,
            ),
          );
        } else waiters.push(test);
      };
      test();
    });
  return {
    proc,
    stdout: () => Buffer.concat(out),
    stderr: () => Buffer.concat(err),
    waitForStdout: (text, timeoutMs = 20_000) =>
      waitFor(
        () => (Buffer.concat(out).includes(text) ? true : undefined),
        JSON.stringify(text),
        timeoutMs,
      ).then(() => {}),
    waitForStderr: (text, timeoutMs = 20_000) =>
      waitFor(
        () => {
          const s = Buffer.concat(err).toString();
          if (typeof text === 'string') return s.includes(text) ? s : undefined;
          return text.exec(s)?.[0];
        },
        String(text),
        timeoutMs,
      ),
    exit,
  };
}

/** Runs a Node script as the wrapped command. */
export function startNode(
  script: string,
  env: Record<string, string | undefined> = {},
  executable?: string,
): Running {
  return start([process.execPath, '-e', script], env, executable);
}

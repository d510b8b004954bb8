import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const APPS = fileURLToPath(new URL('../fixtures/apps/', import.meta.url));
export const PACKAGE_DIR = fileURLToPath(new URL('../../', import.meta.url));

export interface RunningApp {
  child: ChildProcess;
  /** The JSON the app printed on its `APP_OUTPUT` line. */
  output: Promise<unknown>;
  stderr: () => string;
  stop(): Promise<void>;
}

/** Starts a fixture app with node, its env replaced by `env` (plus PATH and HOME). */
export function startApp(script: string, env: Record<string, string>): RunningApp {
  const child = spawn(process.execPath, [APPS + script], {
    cwd: PACKAGE_DIR,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => {
    err += String(d);
  });
  const output = new Promise<unknown>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += String(d);
      const m = /^APP_OUTPUT (.*)$/m.exec(out);
      if (m) {
        try {
          resolve(JSON.parse(m[1]!));
        } catch (e) {
          reject(e);
        }
      }
    });
    child.on('exit', (code) => reject(new Error(`app exited with ${code} before printing: ${err}`)));
  });
  return {
    child,
    output,
    stderr: () => err,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.stdin!.write('exit\n');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls until `cond` holds (no fixed sleeps for correctness). */
export async function waitFor(cond: () => boolean, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

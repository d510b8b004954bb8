import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkerScript } from './log-worker-client.js';

/** Set by the bundler. */
declare const __DATADOG_INIT_BUNDLED__: boolean | undefined;
declare const __filename: string | undefined;

/** The log thread's bundle beside the agent's, and its asset name inside the single executable. */
export const LOG_THREAD_BUNDLE = 'datadog-init-logs.cjs';

interface SeaModule {
  isSea(): boolean;
  getAsset(key: string, encoding: string): string;
}

/** Where the log thread's script is, in each way datadog-init runs. */
export function logThreadScript(): WorkerScript {
  let sea: SeaModule | undefined;
  try {
    sea = process.getBuiltinModule('node:sea') as SeaModule | undefined;
  } catch {
    sea = undefined;
  }
  if (sea?.isSea()) return { code: sea.getAsset(LOG_THREAD_BUNDLE, 'utf8') };
  if (typeof __DATADOG_INIT_BUNDLED__ !== 'undefined') {
    const agent = typeof __filename === 'string' ? __filename : (process.argv[1] ?? '');
    return { path: join(dirname(agent), LOG_THREAD_BUNDLE) };
  }
  return { path: fileURLToPath(new URL('./log-worker-entry.js', import.meta.url)) };
}

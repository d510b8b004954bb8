import type { StartAgent } from './agent-types.js';

/** Set by the bundler: the entry and the agent are then two files (or an executable and an asset). */
declare const __DATADOG_INIT_BUNDLED__: boolean | undefined;

/** The agent's bundle beside the entry's, and its asset name inside the single executable. */
export const AGENT_BUNDLE = 'datadog-init-agent.cjs';

interface SeaModule {
  isSea(): boolean;
  getAsset(key: string, encoding: string): string;
}

/**
 * Loads the agent after the child is spawned. The entry holds only what the process needs, so the
 * agent's code (the packages, fastify, undici) is not even parsed before the spawn.
 */
export async function loadAgent(): Promise<StartAgent> {
  // Compiling the agent blocks for a while: let the spawn and the signal handlers settle first.
  await new Promise((resolve) => setImmediate(resolve));
  if (typeof __DATADOG_INIT_BUNDLED__ === 'undefined') {
    return (await import('./agent.js')).startAgent;
  }
  // Loaded here, not at the top: the entry evaluates as little as possible before the spawn.
  const { createRequire } = process.getBuiltinModule('node:module');
  const { dirname, join } = process.getBuiltinModule('node:path');
  const req = createRequire(process.execPath);
  let sea: SeaModule | undefined;
  try {
    sea = req('node:sea') as SeaModule;
  } catch {
    sea = undefined;
  }
  if (sea?.isSea()) {
    const code = sea.getAsset(AGENT_BUNDLE, 'utf8');
    const module = { exports: {} as { startAgent?: StartAgent } };
    process
      .getBuiltinModule('node:vm')
      .compileFunction(code, ['module', 'exports', 'require', '__filename'], { filename: AGENT_BUNDLE })(
      module,
      module.exports,
      req,
      process.execPath,
    );
    return module.exports.startAgent!;
  }
  // The bundled entry's own path, symlinks resolved (npx and npm run it through node_modules/.bin).
  const entry = typeof __filename === 'string' ? __filename : (process.argv[1] ?? '');
  const bundled = createRequire(entry)(join(dirname(entry), AGENT_BUNDLE)) as { startAgent: StartAgent };
  return bundled.startAgent;
}

// Files the testkit ships next to its code: the Node runtime bootstrap and the null extension.
import { accessSync, chmodSync, constants, copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Both src/sandbox/*.ts and dist/sandbox/*.js sit two levels below the package root.
const ASSETS = fileURLToPath(new URL('../../src/sandbox/assets/', import.meta.url));

/**
 * Package tarballs do not keep the executable bit of plain files, and Lambda (like the sandbox)
 * only spawns executables: give the shipped extension its bit back, or, in a read-only install,
 * use an executable copy in the temporary folder.
 */
function executableExtensionsDir(): string {
  const dir = `${ASSETS}extensions`;
  const file = join(dir, 'null-extension');
  try {
    accessSync(file, constants.X_OK);
    return dir;
  } catch {
    try {
      chmodSync(file, 0o755);
      return dir;
    } catch {
      const copy = join(tmpdir(), `serverless-agent-testkit-${process.getuid?.() ?? 'user'}`, 'extensions');
      mkdirSync(copy, { recursive: true });
      copyFileSync(file, join(copy, 'null-extension'));
      chmodSync(join(copy, 'null-extension'), 0o755);
      return copy;
    }
  }
}

/** The Node runtime (Runtime API client) the sandbox runs by default: plain JS, `node bootstrap.mjs`. */
export const NODE_RUNTIME_BOOTSTRAP = `${ASSETS}runtime/bootstrap.mjs`;

/** A folder laid out like `/opt/extensions` holding only the null extension. */
export const NULL_EXTENSION_DIR = executableExtensionsDir();

/**
 * The null extension: the smallest correct external extension (register, loop on `next`, exit on
 * SHUTDOWN). An executable Node script named `null-extension`.
 */
export const NULL_EXTENSION = join(NULL_EXTENSION_DIR, 'null-extension');

/** A small sample function (`index.handler`) used by the demo. */
export const SAMPLE_FUNCTION_DIR = `${ASSETS}sample-function`;

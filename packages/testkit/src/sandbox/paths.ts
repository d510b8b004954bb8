// Files the testkit ships next to its code: the Node runtime bootstrap and the null extension.
import { fileURLToPath } from 'node:url';

// Both src/sandbox/*.ts and dist/sandbox/*.js sit two levels below the package root.
const ASSETS = fileURLToPath(new URL('../../src/sandbox/assets/', import.meta.url));

/** The Node runtime (Runtime API client) the sandbox runs by default: plain JS, `node bootstrap.mjs`. */
export const NODE_RUNTIME_BOOTSTRAP = `${ASSETS}runtime/bootstrap.mjs`;

/** A folder laid out like `/opt/extensions` holding only the null extension. */
export const NULL_EXTENSION_DIR = `${ASSETS}extensions`;

/**
 * The null extension: the smallest correct external extension (register, loop on `next`, exit on
 * SHUTDOWN). An executable Node script named `null-extension`.
 */
export const NULL_EXTENSION = `${ASSETS}extensions/null-extension`;

/** A small sample function (`index.handler`) used by the demo. */
export const SAMPLE_FUNCTION_DIR = `${ASSETS}sample-function`;

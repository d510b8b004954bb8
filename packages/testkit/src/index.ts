/**
 * @serverless-agent/testkit: a faithful local Lambda sandbox and a fake Datadog intake that decodes
 * and validates every payload. Every test, benchmark and the demo run on it.
 *
 * This file is the package's whole public surface.
 */
export const PACKAGE = { name: '@serverless-agent/testkit', version: '0.1.0' } as const;
export * from './intake/index.js';
export * from './random.js';
export * from './sandbox/index.js';

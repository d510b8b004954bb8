/**
 * @serverless-agent/flush-strategy: DD_SERVERLESS_FLUSH_STRATEGY grammar and the adaptive flush decision core, pure and clock-injected.
 *
 * This file is the package's whole public surface.
 */
export const PACKAGE = { name: '@serverless-agent/flush-strategy', version: '0.1.0' } as const;

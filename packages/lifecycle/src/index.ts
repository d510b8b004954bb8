/**
 * @serverless-agent/lifecycle: Lambda Extensions API client, Telemetry API subscription and listener, the invocation processor, enhanced metrics and the :8124 hooks.
 *
 * This file is the package's whole public surface.
 */
export const PACKAGE = { name: '@serverless-agent/lifecycle', version: '0.1.0' } as const;

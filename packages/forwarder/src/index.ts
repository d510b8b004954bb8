/**
 * @serverless-agent/forwarder: Transport to the Datadog intakes: compression, retries, bounded retry buffer, proxies, dual shipping, API key resolution.
 *
 * This file is the package's whole public surface.
 */
export const PACKAGE = { name: '@serverless-agent/forwarder', version: '0.1.0' } as const;

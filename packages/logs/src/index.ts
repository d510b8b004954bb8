/**
 * @serverless-agent/logs: Function, platform and extension log records to Datadog log events, processing rules and batching.
 *
 * This file is the package's whole public surface.
 */
export const PACKAGE = { name: '@serverless-agent/logs', version: '0.1.0' } as const;

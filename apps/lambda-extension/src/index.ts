/**
 * @serverless-agent/lambda-extension: The drop-in Datadog Lambda Extension layer (extensions/datadog-agent).
 *
 * This file is the package's whole public surface.
 */
export const PACKAGE = { name: '@serverless-agent/lambda-extension', version: '0.1.0' } as const;

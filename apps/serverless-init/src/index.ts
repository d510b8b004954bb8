/**
 * @serverless-agent/serverless-init: The serverless-init container entrypoint (datadog-init) for Cloud Run and Azure Container Apps.
 *
 * This file is the package's whole public surface.
 */
export const PACKAGE = { name: '@serverless-agent/serverless-init', version: '0.1.0' } as const;

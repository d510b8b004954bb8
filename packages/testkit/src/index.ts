/**
 * @serverless-agent/testkit: A faithful local Lambda sandbox and a fake Datadog intake that decodes and validates every payload.
 *
 * This file is the package's whole public surface.
 */
export const PACKAGE = { name: '@serverless-agent/testkit', version: '0.1.0' } as const;

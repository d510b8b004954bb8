/**
 * @serverless-agent/trace-intake: Tracer-facing APM receiver on :8126, Lambda span processing, trace stats and AgentPayload encoding.
 *
 * This file is the package's whole public surface.
 */
export const PACKAGE = { name: '@serverless-agent/trace-intake', version: '0.1.0' } as const;

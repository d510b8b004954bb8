/**
 * @serverless-agent/trace-intake: Tracer-facing APM receiver on :8126, Lambda span processing, trace stats and AgentPayload encoding.
 *
 * This file is the package's whole public surface.
 */
export const PACKAGE = { name: '@serverless-agent/trace-intake', version: '0.1.0' } as const;
export * from './agent.js';
export * from './config.js';
export { DecodeError, decodeJsonTraces, decodeV04, decodeV05 } from './decode.js';
export * from './encode.js';
export { hex16, parseU64, toU64 } from './ids.js';
export * from './invocation.js';
export * from './obfuscate.js';
export { obfuscateSql, SqlParseError } from './obfuscate-sql.js';
export * from './payload-capture.js';
export * from './processor.js';
export * from './propagation.js';
export * from './receiver.js';
export * from './stats.js';
export * from './triggers.js';
export * from './types.js';

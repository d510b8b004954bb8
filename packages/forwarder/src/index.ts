/**
 * @serverless-agent/forwarder: transport to the Datadog intakes: compression, retries, bounded retry buffer,
 * proxies, dual shipping, API key resolution.
 *
 * This file is the package's whole public surface.
 */
export const PACKAGE = { name: '@serverless-agent/forwarder', version: '0.1.0' } as const;

export {
  type ApiKeyOptions,
  ApiKeyProvider,
  type ApiKeySource,
  type ApiKeyState,
  cleanApiKey,
  keyFromSecretString,
} from './api-key.js';
export { type AwsEndpointSettings, awsEndpoint } from './aws/client.js';
export type { AwsCredentials, CredentialSource } from './aws/credentials.js';
export { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF } from './backoff.js';
export {
  availableCodecs,
  type Codec,
  type CodecKind,
  type CompressionOptions,
  CompressionPolicy,
  DEFAULT_COMPRESSION,
  DEFAULT_SYNC_MAX_BYTES,
  nativeZstdCodec,
} from './compression.js';
export { fromEnv, parseAdditionalEndpoints, parseLogsAdditionalEndpoints } from './config.js';
export type { TlsSettings } from './connections.js';
export {
  type AdditionalEndpoint,
  type AdditionalEndpoints,
  DEFAULT_SITE,
  type EndpointConfig,
  intakeUrl,
  NO_ADDITIONAL_ENDPOINTS,
} from './endpoints.js';
export {
  type BackendHealthEvent,
  createForwarder,
  DEFAULT_OPTIONS,
  type DestinationStats,
  type DropReason,
  type FlushResult,
  Forwarder,
  type ForwarderOptions,
  type ForwarderStats,
  type SendOptions,
} from './forwarder.js';
export type { DestinationHealth, HealthListener } from './health.js';
export { RetryBuffer, type RetryBufferStats } from './retry-buffer.js';
export {
  type Clock,
  ENDPOINT_KINDS,
  type EndpointKind,
  type Logger,
  monotonicClock,
  type OutgoingPayload,
  type PayloadCodec,
  silentLogger,
} from './types.js';

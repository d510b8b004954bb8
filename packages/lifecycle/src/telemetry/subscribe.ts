import type { Agent } from 'node:http';
import { ExtensionsApiError, errorTypeOf, lambdaApiRequestRetried } from '../register.cjs';

export const TELEMETRY_API_VERSION = '2022-07-01';

export interface SubscriptionRequest {
  schemaVersion: '2022-12-13' | '2025-01-29';
  destination: { protocol: 'HTTP'; URI: string };
  types: Array<'platform' | 'function' | 'extension'>;
  buffering: { maxItems: number; maxBytes: number; timeoutMs: number };
}

export interface SubscribeOptions {
  runtimeApi: string;
  extensionId: string;
  port: number;
  logsEnabled: boolean;
  managedInstances: boolean;
  /** A kept-alive agent (registration's, say) to send it on; a connection of its own by default. */
  agent?: Agent;
}

/** The body the real extension sends, byte for byte in meaning. */
export function subscriptionRequest(
  o: Pick<SubscribeOptions, 'port' | 'logsEnabled' | 'managedInstances'>,
): SubscriptionRequest {
  return {
    schemaVersion: o.managedInstances ? '2025-01-29' : '2022-12-13',
    destination: { protocol: 'HTTP', URI: `http://sandbox:${o.port}/` },
    types: o.logsEnabled ? ['platform', 'function', 'extension'] : ['platform'],
    buffering: { maxItems: 1000, maxBytes: 262144, timeoutMs: 25 },
  };
}

export type SubscribeOutcome = 'subscribed' | 'not-supported';

/**
 * `PUT /2022-07-01/telemetry`. An emulator that stubs the API (202 `Telemetry.NotSupported`) is
 * survivable: it answers `not-supported`, and the caller runs without platform events (the
 * lifecycle says so once).
 */
export async function subscribeTelemetry(o: SubscribeOptions): Promise<SubscribeOutcome> {
  const res = await lambdaApiRequestRetried(
    o.runtimeApi,
    'PUT',
    `/${TELEMETRY_API_VERSION}/telemetry`,
    { 'lambda-extension-identifier': o.extensionId },
    JSON.stringify(subscriptionRequest(o)),
    5000,
    o.agent,
  );
  const errorType = errorTypeOf(res.body);
  if (res.status === 200) return 'subscribed';
  if (res.status === 202 && errorType === 'Telemetry.NotSupported') return 'not-supported';
  throw new ExtensionsApiError(
    `telemetry subscription answered ${res.status}${errorType ? ` ${errorType}` : ''}`,
    res.status,
    errorType,
  );
}

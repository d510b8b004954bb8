import aws4 from 'aws4';
import { type Dispatcher, request } from 'undici';
import type { AwsCredentials } from './credentials.js';

export type AwsService = 'secretsmanager' | 'kms' | 'ssm';

export interface AwsEndpointSettings {
  /** `AWS_ENDPOINT_URL`. */
  all?: string;
  /** `AWS_ENDPOINT_URL_SECRETS_MANAGER`, `AWS_ENDPOINT_URL_KMS`, `AWS_ENDPOINT_URL_SSM`. */
  secretsmanager?: string;
  kms?: string;
  ssm?: string;
  /** FIPS endpoints (`<service>-fips.<region>...`), as Datadog's FIPS builds and GovCloud use. */
  fips: boolean;
}

/** The endpoint a service call goes to: the configured override, else the regional (FIPS) host. */
export function awsEndpoint(service: AwsService, region: string, settings: AwsEndpointSettings): string {
  const override = settings[service] ?? settings.all;
  if (override) return override.replace(/\/+$/, '');
  const domain = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `https://${service}${settings.fips ? '-fips' : ''}.${region}.${domain}`;
}

export class AwsCallError extends Error {
  readonly status: number;
  readonly awsType: string | undefined;
  constructor(message: string, status: number, awsType: string | undefined) {
    super(message);
    this.name = 'AwsCallError';
    this.status = status;
    this.awsType = awsType;
  }
}

export interface AwsJsonCall {
  service: AwsService;
  region: string;
  /** `X-Amz-Target`, e.g. `secretsmanager.GetSecretValue`. */
  target: string;
  body: unknown;
  endpoint: string;
  credentials: AwsCredentials;
  dispatcher: Dispatcher;
  signal: AbortSignal;
}

/** One SigV4-signed AWS JSON 1.1 call. Errors name the AWS error type, never the response's payload. */
export async function awsJsonCall(call: AwsJsonCall): Promise<Record<string, unknown>> {
  const url = new URL(call.endpoint);
  const body = JSON.stringify(call.body);
  const signed = aws4.sign(
    {
      host: url.host,
      path: url.pathname === '' ? '/' : url.pathname,
      method: 'POST',
      service: call.service,
      region: call.region,
      headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': call.target },
      body,
    },
    call.credentials,
  );
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers ?? {})) {
    if (v !== undefined) headers[k.toLowerCase()] = String(v);
  }
  const res = await request(`${url.origin}${signed.path ?? '/'}`, {
    method: 'POST',
    headers,
    body,
    dispatcher: call.dispatcher,
    signal: call.signal,
  });
  const text = await res.body.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    if (res.statusCode === 200)
      throw new AwsCallError(`${call.target}: response is not JSON`, 200, undefined);
  }
  if (res.statusCode !== 200) {
    const rawType = typeof parsed.__type === 'string' ? parsed.__type : undefined;
    const awsType = rawType?.split('#').pop();
    throw new AwsCallError(
      `${call.target} failed: HTTP ${res.statusCode}${awsType ? ` ${awsType}` : ''}`,
      res.statusCode,
      awsType,
    );
  }
  return parsed;
}

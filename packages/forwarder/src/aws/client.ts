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
  /**
   * FIPS endpoints (`<service>-fips.<region>...`): Datadog's FIPS layer flavour uses them (a build choice, not
   * `DD_LAMBDA_FIPS_MODE`); ours when Node's crypto runs in FIPS mode.
   */
  fips: boolean;
}

/**
 * AWS publishes `-fips` hosts for Secrets Manager, KMS and SSM in the US (GovCloud included) and Canada
 * regions only; elsewhere (China above all) such a host does not exist, and the regional one is used.
 */
export function hasFipsEndpoint(region: string): boolean {
  return /^(us|us-gov|ca)-[a-z]+-\d+$/.test(region);
}

/** The endpoint a service call goes to: the configured override, else the regional (FIPS) host. */
export function awsEndpoint(service: AwsService, region: string, settings: AwsEndpointSettings): string {
  const override = settings[service] ?? settings.all;
  if (override) return override.replace(/\/+$/, '');
  const domain = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  const fips = settings.fips && hasFipsEndpoint(region);
  return `https://${service}${fips ? '-fips' : ''}.${region}.${domain}`;
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

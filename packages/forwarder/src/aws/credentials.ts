import { type Dispatcher, request } from 'undici';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface CredentialSource {
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** SnapStart: `AWS_CONTAINER_CREDENTIALS_FULL_URI` with `AWS_CONTAINER_AUTHORIZATION_TOKEN`. */
  containerCredentialsUri?: string;
  containerAuthorizationToken?: string;
}

export function credentialSourceFromEnv(env: Record<string, string | undefined>): CredentialSource {
  return {
    accessKeyId: env.AWS_ACCESS_KEY_ID || undefined,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY || undefined,
    sessionToken: env.AWS_SESSION_TOKEN || undefined,
    containerCredentialsUri: env.AWS_CONTAINER_CREDENTIALS_FULL_URI || undefined,
    containerAuthorizationToken: env.AWS_CONTAINER_AUTHORIZATION_TOKEN || undefined,
  };
}

/** The Lambda environment's credentials, or SnapStart's container credentials endpoint when those are absent. */
export async function loadCredentials(
  source: CredentialSource,
  dispatcher: Dispatcher,
  signal: AbortSignal,
): Promise<AwsCredentials> {
  if (source.accessKeyId && source.secretAccessKey) {
    return {
      accessKeyId: source.accessKeyId,
      secretAccessKey: source.secretAccessKey,
      ...(source.sessionToken ? { sessionToken: source.sessionToken } : {}),
    };
  }
  if (source.containerCredentialsUri && source.containerAuthorizationToken) {
    const res = await request(source.containerCredentialsUri, {
      method: 'GET',
      headers: { authorization: source.containerAuthorizationToken },
      dispatcher,
      signal,
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`container credentials endpoint answered ${res.statusCode}`);
    let parsed: { AccessKeyId?: unknown; SecretAccessKey?: unknown; Token?: unknown };
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error('container credentials endpoint answered something other than JSON');
    }
    if (typeof parsed.AccessKeyId !== 'string' || typeof parsed.SecretAccessKey !== 'string')
      throw new Error('container credentials endpoint answered no AccessKeyId/SecretAccessKey');
    return {
      accessKeyId: parsed.AccessKeyId,
      secretAccessKey: parsed.SecretAccessKey,
      ...(typeof parsed.Token === 'string' ? { sessionToken: parsed.Token } : {}),
    };
  }
  throw new Error('no AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) in the environment');
}

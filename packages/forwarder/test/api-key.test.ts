import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ApiKeyProvider,
  awsEndpoint,
  cleanApiKey,
  createForwarder,
  fromEnv,
  keyFromSecretString,
} from '../src/index.js';
import { AWS_ENV, CREDENTIALS, FakeAws, verifySigV4 } from './helpers/aws.js';
import { FakeIntake } from './helpers/intake.js';
import { captureLogger } from './helpers/logger.js';
import { manualClock } from './helpers/options.js';
import { ConnectProxy } from './helpers/proxy.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const SECRET_KEY = '0123456789abcdef0123456789abcdef';
const SM_ARN = 'arn:aws:secretsmanager:us-west-2:123456789012:secret:dd-api-key-AbCdEf';

async function aws(): Promise<FakeAws> {
  const a = await FakeAws.start();
  cleanups.push(() => a.close());
  return a;
}

function provider(env: Record<string, string>, logger = captureLogger(), clock = manualClock()) {
  const options = fromEnv({ ...AWS_ENV, ...env }, logger);
  const p = new ApiKeyProvider(options.apiKey, logger, clock);
  cleanups.push(() => p.close());
  return { p, logger, clock };
}

const wait = (ms = 5_000) => AbortSignal.timeout(ms);

describe('the independent SigV4 verifier', () => {
  it('accepts the published Secrets Manager vector and rejects a tampered body', () => {
    // The vector from the Lambda extension's own signing tests (2024-05-30 09:10:11Z, us-east-1).
    const body = Buffer.from('{"SecretId":"arn:aws:secretsmanager:region:account-id:secret:secret-name"}');
    const headers = {
      authorization:
        'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240530/us-east-1/secretsmanager/aws4_request, ' +
        'SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, ' +
        'Signature=63d50106f9c0ab1f02c1f81d6c720b01bce369d45f63a8f6280ffe7945405b81',
      'content-type': 'application/x-amz-json-1.1',
      host: 'secretsmanager.us-east-1.amazonaws.com',
      'x-amz-date': '20240530T091011Z',
      'x-amz-security-token': 'AQoDYXdzEJr...<remainder of session token>',
      'x-amz-target': 'secretsmanager.GetSecretValue',
    };
    const secret = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
    const at = Date.parse('2024-05-30T09:10:11Z');
    expect(verifySigV4('POST', '/', headers, body, secret, at)).toMatchObject({
      ok: true,
      region: 'us-east-1',
    });
    expect(verifySigV4('POST', '/', headers, Buffer.from('{}'), secret, at).ok).toBe(false);
  });
});

describe('API key resolution', () => {
  it('reads a plain secret from Secrets Manager in the region of its ARN, signed', async () => {
    const a = await aws();
    a.handler = () => ({ status: 200, body: { SecretString: ` ${SECRET_KEY}\n` } });
    const { p, logger } = provider({ DD_API_KEY_SECRET_ARN: SM_ARN, AWS_ENDPOINT_URL: a.url });
    expect(p.state).toBe('pending');
    expect(await p.get(wait())).toBe(SECRET_KEY);
    expect(a.calls).toHaveLength(1);
    expect(a.calls[0]).toMatchObject({
      target: 'secretsmanager.GetSecretValue',
      body: { SecretId: SM_ARN },
      region: 'us-west-2',
      service: 'secretsmanager',
      signatureOk: true,
      sessionToken: CREDENTIALS.sessionToken,
    });
    expect(logger.text()).not.toContain(SECRET_KEY);
  });

  it('reads the key from a JSON secret (dd_api_key, then apiKey)', async () => {
    const a = await aws();
    let secret = JSON.stringify({ dd_api_key: SECRET_KEY, other: 'x' });
    a.handler = () => ({ status: 200, body: { SecretString: secret } });
    const env = { DD_API_KEY_SECRET_ARN: SM_ARN, AWS_ENDPOINT_URL_SECRETS_MANAGER: a.url };
    expect(await provider(env).p.get(wait())).toBe(SECRET_KEY);
    secret = JSON.stringify({ apiKey: 'another-key-0000000000000000000' });
    expect(await provider(env).p.get(wait())).toBe('another-key-0000000000000000000');
    expect(keyFromSecretString('{not json')).toBe('{notjson');
    expect(keyFromSecretString('{"unrelated":"x"}')).toBeUndefined();
    expect(cleanApiKey('  \n')).toBeUndefined();
  });

  it('an empty or blank dd_api_key in a JSON secret falls through to apiKey', async () => {
    const a = await aws();
    a.handler = () => ({
      status: 200,
      body: { SecretString: JSON.stringify({ dd_api_key: '', apiKey: SECRET_KEY }) },
    });
    const env = { DD_API_KEY_SECRET_ARN: SM_ARN, AWS_ENDPOINT_URL_SECRETS_MANAGER: a.url };
    expect(await provider(env).p.get(wait())).toBe(SECRET_KEY);
    expect(keyFromSecretString(JSON.stringify({ dd_api_key: ' \n', apiKey: 'k2' }))).toBe('k2');
    expect(keyFromSecretString(JSON.stringify({ dd_api_key: 42, apiKey: 'k3' }))).toBe('k3');
    expect(keyFromSecretString(JSON.stringify({ dd_api_key: '', apiKey: '' }))).toBeUndefined();
  });

  it('decrypts with KMS without, then with, the LambdaFunctionName encryption context', async () => {
    const a = await aws();
    const ciphertext = Buffer.from('opaque-ciphertext-blob').toString('base64');
    a.handler = (call) => {
      const context = call.body.EncryptionContext as Record<string, string> | undefined;
      if (!context) return { status: 400, body: { __type: 'InvalidCiphertextException', message: 'no' } };
      if (context.LambdaFunctionName !== 'my-function' || call.body.CiphertextBlob !== ciphertext)
        return { status: 400, body: { __type: 'InvalidCiphertextException' } };
      return { status: 200, body: { Plaintext: Buffer.from(SECRET_KEY).toString('base64') } };
    };
    const { p } = provider({ DD_KMS_API_KEY: ciphertext, AWS_ENDPOINT_URL_KMS: a.url });
    expect(await p.get(wait())).toBe(SECRET_KEY);
    expect(
      a.calls.map((c) => [c.target, c.region, c.service, c.signatureOk, !!c.body.EncryptionContext]),
    ).toEqual([
      ['TrentService.Decrypt', 'eu-west-1', 'kms', true, false],
      ['TrentService.Decrypt', 'eu-west-1', 'kms', true, true],
    ]);
  });

  it('decrypts with KMS in one call when the key has no encryption context', async () => {
    const a = await aws();
    a.handler = () => ({
      status: 200,
      body: { Plaintext: Buffer.from(`${SECRET_KEY}\n`).toString('base64') },
    });
    const { p } = provider({ DD_KMS_API_KEY: 'Y2lwaGVy', AWS_ENDPOINT_URL: a.url });
    expect(await p.get(wait())).toBe(SECRET_KEY);
    expect(a.calls).toHaveLength(1);
  });

  it('reads an SSM parameter with decryption, by ARN (its region) or by name (the function region)', async () => {
    const a = await aws();
    a.handler = (call) => ({
      status: 200,
      body: { Parameter: { Name: call.body.Name, Type: 'SecureString', Value: SECRET_KEY } },
    });
    const arn = 'arn:aws:ssm:ap-southeast-2:123456789012:parameter/datadog/api-key';
    expect(await provider({ DD_API_KEY_SSM_ARN: arn, AWS_ENDPOINT_URL_SSM: a.url }).p.get(wait())).toBe(
      SECRET_KEY,
    );
    expect(
      await provider({ DD_API_KEY_SSM_NAME: '/datadog/api-key', AWS_ENDPOINT_URL: a.url }).p.get(wait()),
    ).toBe(SECRET_KEY);
    expect(
      a.calls.map((c) => [c.target, c.region, c.body.Name, c.body.WithDecryption, c.signatureOk]),
    ).toEqual([
      ['AmazonSSM.GetParameter', 'ap-southeast-2', arn, true, true],
      ['AmazonSSM.GetParameter', 'eu-west-1', '/datadog/api-key', true, true],
    ]);
  });

  it('uses SnapStart container credentials when the key variables are absent', async () => {
    const a = await aws();
    a.handler = () => ({ status: 200, body: { SecretString: SECRET_KEY } });
    const creds = http.createServer((req, res) => {
      res.writeHead(req.headers.authorization === 'container-token' ? 200 : 401);
      res.end(
        JSON.stringify({
          AccessKeyId: CREDENTIALS.accessKeyId,
          SecretAccessKey: CREDENTIALS.secretAccessKey,
          Token: CREDENTIALS.sessionToken,
        }),
      );
    });
    await new Promise<void>((r) => creds.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => creds.close(() => r())));
    const logger = captureLogger();
    const options = fromEnv(
      {
        AWS_REGION: 'eu-west-1',
        AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${(creds.address() as AddressInfo).port}/creds`,
        AWS_CONTAINER_AUTHORIZATION_TOKEN: 'container-token',
        DD_API_KEY_SECRET_ARN: SM_ARN,
        AWS_ENDPOINT_URL: a.url,
      },
      logger,
    );
    const p = new ApiKeyProvider(options.apiKey, logger);
    cleanups.push(() => p.close());
    expect(await p.get(wait())).toBe(SECRET_KEY);
    expect(a.calls[0]!.signatureOk).toBe(true);
  });

  it('logs one clear line on failure, and the forwarder drops and counts what needs the key', async () => {
    const a = await aws();
    a.handler = () => ({ status: 400, body: { __type: 'ResourceNotFoundException', message: 'not found' } });
    const i = await FakeIntake.start();
    cleanups.push(() => i.close());
    const logger = captureLogger();
    const f = createForwarder({
      ...fromEnv(
        { ...AWS_ENV, DD_API_KEY_SECRET_ARN: SM_ARN, AWS_ENDPOINT_URL: a.url, DD_DD_URL: i.url },
        logger,
      ),
      freezeTickMs: 0,
    });
    cleanups.push(() => f.close());
    const payload = {
      kind: 'series' as const,
      body: Buffer.from('{}'),
      contentType: 'application/json',
      items: 5,
    };
    const r = await f.send(payload, { signal: wait() });
    expect(r.dropped).toEqual({ no_api_key: 1 });
    await f.send(payload, { signal: wait() });
    expect(f.stats().dropped.no_api_key).toEqual({ requests: 2, items: 10 });
    expect(f.apiKeyState).toBe('failed');
    expect(i.posts).toHaveLength(0);
    const keyErrors = logger.lines.filter((l) => l.level === 'error' && /API key/.test(l.msg));
    expect(keyErrors[0]!.msg).toContain('ResourceNotFoundException');
    expect(keyErrors[0]!.msg).toContain('DD_API_KEY_SECRET_ARN');
  });

  it('re-reads a secret after a 403 at most once a minute, not at every flush', async () => {
    const a = await aws();
    a.handler = () => ({ status: 200, body: { SecretString: SECRET_KEY } });
    const i = await FakeIntake.start();
    cleanups.push(() => i.close());
    i.behaviour = () => ({ status: 403 });
    const clock = manualClock();
    const f = createForwarder({
      ...fromEnv(
        { ...AWS_ENV, DD_API_KEY_SECRET_ARN: SM_ARN, AWS_ENDPOINT_URL: a.url, DD_DD_URL: i.url },
        captureLogger(),
      ),
      freezeTickMs: 0,
      clock,
    });
    cleanups.push(() => f.close());
    const payload = { kind: 'series' as const, body: Buffer.from('{}'), contentType: 'application/json' };
    const settled = async (calls: number) => {
      await expect.poll(() => a.calls.length).toBe(calls);
      // The re-read, if any, is done before the next flush reads the key.
      await f.send({ ...payload, kind: 'check_run' }, { signal: wait() });
    };
    await f.send(payload, { signal: wait() }); // the first resolution, then a 403: one re-read
    await settled(2);
    for (let n = 0; n < 5; n++) {
      clock.advance(5_000);
      expect((await f.send(payload, { signal: wait() })).dropped).toEqual({ forbidden: 1 });
    }
    await settled(2);
    clock.advance(60_000);
    await f.send(payload, { signal: wait() });
    await settled(3);
    expect(i.posts.length).toBeGreaterThanOrEqual(9);
  });

  it('never delays start-up: data waits in the buffer until the key arrives', async () => {
    const a = await aws();
    let delayMs = 1_000;
    a.handler = () => ({ status: 200, body: { SecretString: SECRET_KEY }, delayMs });
    const i = await FakeIntake.start();
    cleanups.push(() => i.close());
    const f = createForwarder({
      ...fromEnv(
        { ...AWS_ENV, DD_API_KEY_SECRET_ARN: SM_ARN, AWS_ENDPOINT_URL: a.url, DD_DD_URL: i.url },
        captureLogger(),
      ),
      freezeTickMs: 0,
    });
    cleanups.push(() => f.close());
    expect(f.apiKeyState).toBe('pending');
    const payload = { kind: 'series' as const, body: Buffer.from('{}'), contentType: 'application/json' };
    const early = await f.send(payload, { signal: AbortSignal.timeout(100) });
    expect(early).toEqual({ delivered: 0, buffered: 1, dropped: {} });
    delayMs = 0;
    const later = await f.send(payload, { signal: wait() });
    expect(later.delivered).toBe(2);
    expect(i.posts.every((p) => p.headers['dd-api-key'] === SECRET_KEY)).toBe(true);
  });

  it('re-reads the secret after DD_API_KEY_SECRET_RELOAD_INTERVAL, keeping the old key meanwhile', async () => {
    const a = await aws();
    let value = SECRET_KEY;
    a.handler = () => ({ status: 200, body: { SecretString: value } });
    const { p, clock } = provider({
      DD_API_KEY_SECRET_ARN: SM_ARN,
      AWS_ENDPOINT_URL: a.url,
      DD_API_KEY_SECRET_RELOAD_INTERVAL: '60',
    });
    expect(await p.get(wait())).toBe(SECRET_KEY);
    value = 'rotated-key-00000000000000000000';
    clock.advance(30_000);
    expect(await p.get(wait())).toBe(SECRET_KEY);
    expect(a.calls).toHaveLength(1);
    clock.advance(31_000);
    expect(await p.get(wait())).toBe(SECRET_KEY); // the reload runs in the background
    await expect.poll(() => a.calls.length).toBe(2);
    await expect.poll(() => p.get(wait())).toBe('rotated-key-00000000000000000000');
  });

  it('never sends the AWS calls through the Datadog proxy', async () => {
    const a = await aws();
    a.handler = () => ({ status: 200, body: { SecretString: SECRET_KEY } });
    const proxy = await ConnectProxy.start();
    cleanups.push(() => proxy.close());
    const f = createForwarder({
      ...fromEnv(
        { ...AWS_ENV, DD_API_KEY_SECRET_ARN: SM_ARN, AWS_ENDPOINT_URL: a.url, HTTPS_PROXY: proxy.url },
        captureLogger(),
      ),
      freezeTickMs: 0,
    });
    cleanups.push(() => f.close());
    await expect.poll(() => f.apiKeyState).toBe('ready');
    expect(a.calls).toHaveLength(1);
    expect(proxy.tunnels).toEqual([]);
    expect(proxy.plainRequests).toBe(0);
  });
});

describe('AWS endpoints', () => {
  it('uses the regional host and the endpoint overrides', () => {
    expect(awsEndpoint('kms', 'eu-west-1', { fips: false })).toBe('https://kms.eu-west-1.amazonaws.com');
    expect(awsEndpoint('secretsmanager', 'us-gov-west-1', { fips: true })).toBe(
      'https://secretsmanager-fips.us-gov-west-1.amazonaws.com',
    );
    expect(awsEndpoint('ssm', 'cn-north-1', { fips: false })).toBe('https://ssm.cn-north-1.amazonaws.com.cn');
    expect(awsEndpoint('kms', 'eu-west-1', { fips: false, all: 'http://a', kms: 'http://k/' })).toBe(
      'http://k',
    );
    expect(awsEndpoint('ssm', 'eu-west-1', { fips: false, all: 'http://a', kms: 'http://k' })).toBe(
      'http://a',
    );
  });

  it('FIPS hosts only where AWS has them: US, GovCloud and Canada regions, never China', () => {
    const fips = { fips: true };
    expect(awsEndpoint('kms', 'us-east-1', fips)).toBe('https://kms-fips.us-east-1.amazonaws.com');
    expect(awsEndpoint('ssm', 'us-gov-east-1', fips)).toBe('https://ssm-fips.us-gov-east-1.amazonaws.com');
    expect(awsEndpoint('secretsmanager', 'ca-central-1', fips)).toBe(
      'https://secretsmanager-fips.ca-central-1.amazonaws.com',
    );
    expect(awsEndpoint('kms', 'cn-north-1', fips)).toBe('https://kms.cn-north-1.amazonaws.com.cn');
    expect(awsEndpoint('ssm', 'cn-northwest-1', fips)).toBe('https://ssm.cn-northwest-1.amazonaws.com.cn');
    expect(awsEndpoint('kms', 'eu-west-1', fips)).toBe('https://kms.eu-west-1.amazonaws.com');
  });

  it('DD_LAMBDA_FIPS_MODE is informational: a warning on a mismatch, no FIPS hosts from it', () => {
    // This test process does not run FIPS crypto (as on Lambda's Node runtimes).
    const warnings = (env: Record<string, string>) => {
      const logger = captureLogger();
      const o = fromEnv(env, logger);
      expect(o.apiKey.aws.fips).toBe(false);
      expect(awsEndpoint('kms', o.apiKey.region, o.apiKey.aws)).toBe(
        `https://kms.${o.apiKey.region}.amazonaws.com`,
      );
      return logger.lines.filter((l) => l.level === 'warn' && l.msg.includes('FIPS'));
    };
    expect(warnings({ AWS_REGION: 'us-gov-east-1' })).toHaveLength(1);
    expect(warnings({ AWS_REGION: 'us-east-1', DD_LAMBDA_FIPS_MODE: 'true' })).toHaveLength(1);
    expect(warnings({ AWS_REGION: 'us-gov-west-1', DD_LAMBDA_FIPS_MODE: 'false' })).toHaveLength(0);
    expect(warnings({ AWS_REGION: 'us-east-1' })).toHaveLength(0);
  });

  it('picks the key source in the Lambda extension order: KMS, Secrets Manager, SSM, plain', () => {
    const logger = captureLogger();
    const all = {
      DD_KMS_API_KEY: 'k',
      DD_API_KEY_SECRET_ARN: SM_ARN,
      DD_API_KEY_SSM_NAME: '/p',
      DD_API_KEY: 'plain-key-000000',
    };
    expect(fromEnv(all, logger).apiKey.source.type).toBe('kms');
    expect(fromEnv({ ...all, DD_KMS_API_KEY: '' }, logger).apiKey.source.type).toBe('secrets-manager');
    expect(fromEnv({ DD_API_KEY_SSM_NAME: '/p', DD_API_KEY: 'x' }, logger).apiKey.source.type).toBe('ssm');
    expect(fromEnv({ DD_API_KEY: 'x' }, logger).apiKey.source).toEqual({ type: 'plain', apiKey: 'x' });
    expect(fromEnv({}, logger).apiKey.source.type).toBe('none');
  });
});

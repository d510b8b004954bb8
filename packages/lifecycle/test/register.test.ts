import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ExtensionsApiError, ExtensionsClient, register } from '../src/index.js';
import { FakeLambdaApi } from './helpers/lambda-api.js';

let api: FakeLambdaApi;
afterEach(async () => {
  await api?.close();
});

describe('register()', () => {
  it('registers as datadog-agent for INVOKE and SHUTDOWN, asking for accountId', async () => {
    api = new FakeLambdaApi();
    const runtimeApi = await api.start();
    const reg = await register({ runtimeApi });
    const req = api.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/2020-01-01/extension/register');
    expect(req.headers['lambda-extension-name']).toBe('datadog-agent');
    expect(req.headers['lambda-extension-accept-feature']).toBe('accountId');
    expect(JSON.parse(req.body)).toEqual({ events: ['INVOKE', 'SHUTDOWN'] });
    expect(reg).toEqual({
      extensionId: api.extensionId,
      accountId: '123456789012',
      functionName: 'my-function',
      functionVersion: '$LATEST',
      handler: 'index.handler',
      events: ['INVOKE', 'SHUTDOWN'],
    });
  });

  it('registers SHUTDOWN only in managed-instances mode', async () => {
    api = new FakeLambdaApi();
    const runtimeApi = await api.start();
    await register({ runtimeApi, managedInstances: true });
    expect(JSON.parse(api.requests[0]!.body)).toEqual({ events: ['SHUTDOWN'] });
  });

  it('reads AWS_LAMBDA_RUNTIME_API when no address is given', async () => {
    api = new FakeLambdaApi();
    const runtimeApi = await api.start();
    const saved = process.env['AWS_LAMBDA_RUNTIME_API'];
    process.env['AWS_LAMBDA_RUNTIME_API'] = runtimeApi;
    try {
      expect((await register()).extensionId).toBe(api.extensionId);
    } finally {
      if (saved === undefined) delete process.env['AWS_LAMBDA_RUNTIME_API'];
      else process.env['AWS_LAMBDA_RUNTIME_API'] = saved;
    }
  });

  it('uses "none" when the answer carries no accountId', async () => {
    api = new FakeLambdaApi({ registerBody: { functionName: 'f', accountId: '' } });
    const runtimeApi = await api.start();
    expect((await register({ runtimeApi })).accountId).toBe('none');
  });

  it('rejects with the error type on a non-200 answer', async () => {
    api = new FakeLambdaApi({ registerStatus: 403 });
    const runtimeApi = await api.start();
    const err = await register({ runtimeApi }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExtensionsApiError);
    expect(err).toMatchObject({ status: 403, errorType: 'Extension.RegistrationClosed' });
  });
});

describe('ExtensionsClient', () => {
  it('parses INVOKE and SHUTDOWN from event/next, sending the identifier', async () => {
    api = new FakeLambdaApi();
    const runtimeApi = await api.start();
    const client = new ExtensionsClient(runtimeApi, await register({ runtimeApi }));
    const invoke = {
      eventType: 'INVOKE',
      deadlineMs: 1700000030000,
      requestId: '3da1f2dc-3222-475e-9205-e2e6c6318895',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:my-function',
      tracing: {
        type: 'X-Amzn-Trace-Id',
        value: 'Root=1-5f35ae12-0c0fec141ab77a00bc047aa2;Parent=2be948a625588e32;Sampled=1',
      },
    };
    const pending = client.next();
    await api.waitNextCalls(1);
    api.push(invoke);
    expect(await pending).toEqual(invoke);
    api.push({ eventType: 'SHUTDOWN', shutdownReason: 'spindown', deadlineMs: 1700000002000 });
    expect(await client.next()).toEqual({
      eventType: 'SHUTDOWN',
      shutdownReason: 'spindown',
      deadlineMs: 1700000002000,
    });
    const nextReq = api.requests.find((r) => r.url === '/2020-01-01/extension/event/next')!;
    expect(nextReq.headers['lambda-extension-identifier']).toBe(api.extensionId);
  });

  it('throws on a 403 from event/next', async () => {
    api = new FakeLambdaApi();
    const runtimeApi = await api.start();
    const client = new ExtensionsClient(runtimeApi, {
      extensionId: 'not-ours',
      accountId: 'none',
      events: [],
    });
    await expect(client.next()).rejects.toMatchObject({
      status: 403,
      errorType: 'Extension.UnknownExtensionIdentifier',
    });
  });

  it('sends init/error and exit/error with the error-type header', async () => {
    api = new FakeLambdaApi();
    const runtimeApi = await api.start();
    const client = new ExtensionsClient(runtimeApi, await register({ runtimeApi }));
    expect(
      await client.exitError('Extension.Fatal', { errorMessage: 'x', errorType: 'Extension.Fatal' }),
    ).toBe(202);
    expect(await client.initError('Extension.ConfigInvalid')).toBe(202);
    const exit = api.requests.find((r) => r.url.endsWith('/exit/error'))!;
    expect(exit.headers['lambda-extension-function-error-type']).toBe('Extension.Fatal');
    expect(JSON.parse(exit.body)).toEqual({ errorMessage: 'x', errorType: 'Extension.Fatal' });
  });
});

// What the register entry loads, recorded in a child by a Module._load hook given with --require.
const HOOK = `
const Module = require('node:module');
const load = Module._load;
const seen = [];
Module._load = function (request, parent, isMain) {
  seen.push(request);
  return load.apply(this, arguments);
};
process.on('exit', () => process.stdout.write('LOADED ' + JSON.stringify(seen) + '\\n'));
`;

function loadedBy(entry: string, runtimeApi: string): Promise<{ loaded: string[]; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'register-hook-'));
  const hook = join(dir, 'hook.cjs');
  writeFileSync(hook, HOOK);
  const code = `require(${JSON.stringify(entry)}).register({ runtimeApi: ${JSON.stringify(runtimeApi)} })
    .then((r) => console.log('REGISTERED ' + r.extensionId), (e) => console.log('FAILED ' + e.message));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--require', hook, '-e', code], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.on('error', reject);
    child.on('exit', () => {
      rmSync(dir, { recursive: true, force: true });
      const line = out.split('\n').find((l) => l.startsWith('LOADED '));
      if (!line) return reject(new Error(`no record from the child: ${out}`));
      resolve({ loaded: JSON.parse(line.slice('LOADED '.length)), out });
    });
  });
}

describe('the register entry', () => {
  const entries = [fileURLToPath(new URL('../src/register.cjs', import.meta.url))];
  const built = fileURLToPath(new URL('../dist/register.cjs', import.meta.url));
  if (existsSync(built)) entries.push(built);

  it.each(entries)('loads only Node built-ins, registering included (%s)', async (entry) => {
    api = new FakeLambdaApi();
    const runtimeApi = await api.start();
    const { loaded, out } = await loadedBy(entry, runtimeApi);
    expect(out).toContain(`REGISTERED ${api.extensionId}`);
    const others = loaded.filter((id) => id !== entry && !isBuiltin(id));
    expect(others).toEqual([]);
    expect(loaded).toContain('node:http');
  });
});

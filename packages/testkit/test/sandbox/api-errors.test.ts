import { afterEach, describe, expect, it } from 'vitest';
import { LambdaSandbox } from '../../src/index.js';
import { type Scratch, scratch, writeExtension, writeFunction } from './helpers.js';

let s: Scratch;
let sandbox: LambdaSandbox | undefined;
afterEach(async () => {
  await sandbox?.shutdown();
  sandbox = undefined;
  s?.cleanup();
});

async function call(
  api: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
) {
  const res = await fetch(`http://${api}${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body } : {}),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, headers: res.headers, body: json as Record<string, unknown> };
}

describe('Extensions, Telemetry and Runtime API error answers', () => {
  it('answers as the platform does, during and after init', async () => {
    s = scratch();
    writeFunction(s.task, 'index.mjs', 'export const handler = async () => "ok";\n');
    // A slow external extension keeps init open while the test talks to the APIs itself.
    writeExtension(s.extensions, 'slow', { registerDelayMs: 400 });
    sandbox = new LambdaSandbox({ taskRoot: s.task, extensionsDir: s.extensions, accountId: '111122223333' });
    const started = sandbox.start();
    await sandbox.waitForEvent('platform.initStart');
    const api = sandbox.runtimeApi;
    const reg = '/2020-01-01/extension/register';
    const events = JSON.stringify({ events: ['INVOKE'] });

    // Registered first, so that init cannot complete before the test is done with it.
    let r = await call(
      api,
      'POST',
      reg,
      { 'Lambda-Extension-Name': 'probe', 'Lambda-Extension-Accept-Feature': 'accountId' },
      events,
    );
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      functionName: 'my-function',
      functionVersion: '$LATEST',
      handler: 'index.handler',
      accountId: '111122223333',
    });
    const id = r.headers.get('lambda-extension-identifier')!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await call(api, 'POST', reg, {}, events)).body).toEqual({
      errorMessage: expect.any(String),
      errorType: 'Extension.InvalidExtensionName',
    });
    r = await call(api, 'POST', reg, { 'Lambda-Extension-Name': 'probe' }, '{not json');
    expect([r.status, r.body.errorType]).toEqual([403, 'InvalidRequestFormat']);
    r = await call(
      api,
      'POST',
      reg,
      { 'Lambda-Extension-Name': 'probe' },
      JSON.stringify({ configurationKeys: [] }),
    );
    expect([r.status, r.body.errorType]).toEqual([403, 'InvalidRequestFormat']);
    r = await call(
      api,
      'POST',
      reg,
      { 'Lambda-Extension-Name': 'probe' },
      JSON.stringify({ events: ['FOO'] }),
    );
    expect([r.status, r.body.errorType]).toEqual([403, 'Extension.InvalidEventType']);
    // `probe` matches no spawned file: an internal extension, which may not subscribe to SHUTDOWN.
    r = await call(
      api,
      'POST',
      reg,
      { 'Lambda-Extension-Name': 'probe' },
      JSON.stringify({ events: ['SHUTDOWN'] }),
    );
    expect([r.status, r.body.errorType]).toEqual([403, 'Extension.InvalidEventType']);

    r = await call(api, 'POST', reg, { 'Lambda-Extension-Name': 'probe' }, events);
    expect([r.status, r.body.errorType]).toEqual([403, 'Extension.InvalidExtensionState']);

    const next = '/2020-01-01/extension/event/next';
    expect((await call(api, 'GET', next)).body.errorType).toBe('Extension.MissingExtensionIdentifier');
    r = await call(api, 'GET', next, { 'Lambda-Extension-Identifier': 'nope' });
    expect([r.status, r.body.errorType]).toEqual([403, 'Extension.InvalidExtensionIdentifier']);
    r = await call(api, 'GET', next, { 'Lambda-Extension-Identifier': crypto.randomUUID() });
    expect([r.status, r.body.errorType]).toEqual([403, 'Extension.UnknownExtensionIdentifier']);

    r = await call(
      api,
      'POST',
      '/2020-01-01/extension/init/error',
      { 'Lambda-Extension-Identifier': id },
      '{}',
    );
    expect([r.status, r.body.errorType]).toEqual([403, 'Extension.MissingHeader']);

    const tel = '/2022-07-01/telemetry';
    const sub = {
      schemaVersion: '2022-12-13',
      destination: { protocol: 'HTTP', URI: 'http://sandbox.localdomain:1/' },
      types: ['platform'],
    };
    r = await call(api, 'PUT', tel, {}, JSON.stringify(sub));
    expect([r.status, r.body.errorType]).toEqual([403, 'Extension.MissingExtensionIdentifier']);
    r = await call(api, 'PUT', tel, { 'Lambda-Extension-Identifier': id }, '[');
    expect([r.status, r.body.errorType]).toEqual([400, 'ValidationError']);
    const bad = [
      { ...sub, schemaVersion: '2021-01-01' },
      { ...sub, types: [] },
      { ...sub, types: ['platform', 'metrics'] },
      { ...sub, destination: { protocol: 'HTTP', URI: 'http://example.com:8999/' } },
      { ...sub, destination: { protocol: 'UDP', port: 9 } },
      { ...sub, buffering: { maxItems: 999 } },
      { ...sub, buffering: { maxBytes: 2_000_000 } },
      { ...sub, buffering: { timeoutMs: 10 } },
    ];
    for (const b of bad) {
      r = await call(api, 'PUT', tel, { 'Lambda-Extension-Identifier': id }, JSON.stringify(b));
      expect([r.status, r.body.errorType], JSON.stringify(b)).toEqual([400, 'ValidationError']);
    }
    r = await call(api, 'PUT', tel, { 'Lambda-Extension-Identifier': id }, JSON.stringify(sub));
    expect([r.status, r.body]).toEqual([200, 'OK']);

    // The probe finishes its init with `next`; init completes once the slow extension is ready too.
    const firstNext = fetch(`http://${api}${next}`, { headers: { 'Lambda-Extension-Identifier': id } });
    await sandbox.waitForEvent('platform.extension', (e) => e.record.name === 'probe');
    r = await call(api, 'GET', next, { 'Lambda-Extension-Identifier': id });
    expect([r.status, r.body.errorType]).toEqual([403, 'Extension.InvalidExtensionState']);
    expect((await started).status).toBe('success');

    r = await call(api, 'PUT', tel, { 'Lambda-Extension-Identifier': id }, JSON.stringify(sub));
    expect([r.status, r.body.errorType]).toEqual([403, 'Telemetry.SubscriptionClosed']);
    r = await call(api, 'POST', reg, { 'Lambda-Extension-Name': 'late' }, events);
    expect([r.status, r.body.errorType]).toEqual([403, 'Extension.RegistrationClosed']);
    r = await call(api, 'POST', '/2018-06-01/runtime/invocation/not-a-request/response', {}, '{}');
    expect([r.status, r.body.errorType]).toEqual([400, 'InvalidRequestID']);
    r = await call(api, 'POST', '/2018-06-01/runtime/init/error', {}, '{}');
    expect(r.status).toBe(403);

    // The INVOKE body, exactly.
    const trace = 'Root=1-5f35ae12-0c0fec141ab77a00bc047aa2;Parent=2be948a625588e32;Sampled=1';
    const invoked = sandbox.invoke({}, { traceId: trace });
    const ev = (await (await firstNext).json()) as Record<string, unknown>;
    expect(Object.keys(ev).sort()).toEqual([
      'deadlineMs',
      'eventType',
      'invokedFunctionArn',
      'requestId',
      'tracing',
    ]);
    expect(ev).toMatchObject({
      eventType: 'INVOKE',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:111122223333:function:my-function',
      tracing: { type: 'X-Amzn-Trace-Id', value: trace },
    });
    expect(ev.deadlineMs).toBeGreaterThan(Date.now());
    // The invoke completes only once the probe is back on `next`.
    const secondNext = fetch(`http://${api}${next}`, {
      headers: { 'Lambda-Extension-Identifier': id },
    }).catch(() => undefined);
    const result = await invoked;
    expect(result.status).toBe('success');
    expect(result.requestId).toBe(ev.requestId);
    expect(sandbox.apiErrors).toMatchObject({
      'Extension.InvalidExtensionName': 1,
      InvalidRequestFormat: 2,
      'Extension.InvalidEventType': 2,
      'Extension.InvalidExtensionState': 2,
      ValidationError: 9,
      'Telemetry.SubscriptionClosed': 1,
    });
    await sandbox.shutdown();
    await secondNext;
    sandbox = undefined;
  });
});

// An entry that gets to the first `next` before the lifecycle is loaded (`./start`), and the
// lifecycle taking over what it did: the Telemetry socket, the subscription, the pending `next`.
import { Agent } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { fromEnv, Lifecycle, type LifecycleOptions } from '../src/index.js';
import { register } from '../src/register.cjs';
import { ExtensionsClient, logsEnabledFromEnv, subscribeTelemetry } from '../src/start.js';
import { FakeLambdaApi, HeldSocket, until } from './helpers/lambda-api.js';
import { setupLifecycle } from './helpers/setup.js';

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** What the entry does: register, hold the Telemetry socket, subscribe, then send the first `next`. */
async function entry(api: FakeLambdaApi, runtimeApi: string, opts: { logsEnabled?: boolean } = {}) {
  // One kept-alive connection for all of it, as the layer's entry does.
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  closers.push(() => agent.destroy());
  const registration = await register({ runtimeApi, agent });
  const telemetry = new HeldSocket();
  await telemetry.listen();
  closers.push(() => telemetry.close());
  const client = new ExtensionsClient(runtimeApi, registration, { agent });
  const subscription = subscribeTelemetry({
    agent,
    runtimeApi,
    extensionId: registration.extensionId,
    port: telemetry.port,
    logsEnabled: opts.logsEnabled ?? true,
    managedInstances: false,
  });
  const next = () => client.prefetchNext();
  subscription.then(next, next);
  await api.waitNextCalls(1);
  return { registration, telemetry, client, subscription };
}

const setup = (opts: Partial<LifecycleOptions> = {}) => setupLifecycle(closers, opts);

describe('taking over an early start', () => {
  it('handles an INVOKE answered before it loaded once, timed when it came, and the held deliveries', async () => {
    const t = await setup();
    const e = await entry(t.api, t.runtimeApi);
    // Before the lifecycle exists: Lambda answers the first `next` and delivers telemetry.
    const invokedAt = Date.now();
    t.api.pushInvoke('r1');
    await until(() => e.client.receivedAt > 0);
    const cameAt = e.client.receivedAt;
    const delivered = t.api.deliver([
      {
        time: new Date(invokedAt - 300).toISOString(),
        type: 'platform.initStart',
        record: { initializationType: 'on-demand', phase: 'init' },
      },
    ]);
    await until(() => e.telemetry.waiting === 1);
    await new Promise((r) => setTimeout(r, 30));

    const started = await t.lc.start(e.registration, e);
    expect(started).toMatchObject({
      state: 'ready',
      telemetry: 'subscribed',
      telemetryPort: e.telemetry.port,
    });
    expect(await delivered).toMatchObject({ status: 200 });
    let handled = 0;
    const running = t.lc.run({ onInvoke: () => void handled++ });
    await t.api.waitNextCalls(2);
    t.api.pushShutdown();
    await running;

    // One subscription, before the one `next` the entry sent; no second one for the first event.
    expect(t.api.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'POST /2020-01-01/extension/register',
      'PUT /2022-07-01/telemetry',
      'GET /2020-01-01/extension/event/next',
      'GET /2020-01-01/extension/event/next',
    ]);
    expect(handled).toBe(1);
    const starts = t.events.filter((x) => x.type === 'invocationStart');
    expect(starts).toHaveLength(1);
    expect(starts[0]).toMatchObject({ requestId: 'r1', coldStart: true });
    // Its time is when the INVOKE came, not when the loop got to it 30 ms later.
    expect(starts[0]!.time).toBe(cameAt);
    expect(starts[0]!.time - invokedAt).toBeLessThan(25);
    expect(t.events.some((x) => x.type === 'initStart')).toBe(true);
    // The lifecycle closed the socket it took over.
    expect(e.telemetry.closed).toBe(1);
  });

  it.each([
    [403, '{"errorMessage":"closed","errorType":"Telemetry.SubscriptionClosed"}', 'failed'],
    [400, '{"errorMessage":"bad","errorType":"ValidationError"}', 'failed'],
    [
      202,
      '{"errorMessage":"Telemetry API is not supported","errorType":"Telemetry.NotSupported"}',
      'not-supported',
    ],
  ])(
    'a subscription answered %i before it loaded: said once, and it runs without platform events',
    async (status, body, outcome) => {
      const t = await setup();
      t.api.options.telemetryStatus = status;
      t.api.options.telemetryBody = body;
      const e = await entry(t.api, t.runtimeApi);
      const started = await t.lc.start(e.registration, e);
      expect(started).toMatchObject({ state: 'ready', telemetry: outcome });
      expect(
        t.logs.filter((l) => l.startsWith('warn') && l.includes('without platform events')),
      ).toHaveLength(1);
      const running = t.lc.run();
      t.api.pushInvoke('r1');
      await t.api.waitNextCalls(2);
      // Without telemetry the cold start is counted at the INVOKE.
      expect(
        t.samples.filter((s) => s.name === 'aws.lambda.enhanced.invocations').map((s) => s.tags),
      ).toEqual([['cold_start:true']]);
      t.api.pushShutdown();
      await running;
    },
  );

  it('registration, the subscription and every `next` share one connection; one dropped on it is sent again', async () => {
    const t = await setup();
    const e = await entry(t.api, t.runtimeApi);
    await t.lc.start(e.registration, e);
    const running = t.lc.run();
    t.api.pushInvoke('r1');
    await t.api.waitNextCalls(2);
    t.api.pushShutdown();
    await running;
    expect(new Set(t.api.requests.map((r) => r.clientPort)).size).toBe(1);

    // The API drops the subscription that comes on the kept-alive connection: sent again on a new one.
    const u = await setup();
    u.api.options.dropOnReuse = 1;
    const f = await entry(u.api, u.runtimeApi);
    expect(await f.subscription).toBe('subscribed');
    const [reg, sub, next] = u.api.requests;
    expect(u.api.requests.map((r) => r.method)).toEqual(['POST', 'PUT', 'GET']);
    expect(sub!.clientPort).not.toBe(reg!.clientPort);
    expect(next!.clientPort).toBe(sub!.clientPort);
  });

  it('a first `next` that failed before it loaded is the loop’s failure: SHUTDOWN(panic), once', async () => {
    const t = await setup();
    t.api.failNext = 1;
    const e = await entry(t.api, t.runtimeApi);
    await new Promise((r) => setTimeout(r, 20));
    await t.lc.start(e.registration, e);
    let shutdowns = 0;
    const shutdown = await t.lc.run({ onShutdown: () => void shutdowns++ });
    expect(shutdown).toMatchObject({ eventType: 'SHUTDOWN', shutdownReason: 'panic' });
    expect(shutdowns).toBe(1);
    expect(t.api.nextCalls()).toBe(1);
  });

  it('a refused registration closes the socket it was handed and stays out of the way', async () => {
    const api = new FakeLambdaApi({ registerStatus: 403 });
    closers.push(() => api.close());
    const runtimeApi = await api.start();
    const telemetry = new HeldSocket();
    await telemetry.listen();
    closers.push(() => telemetry.close());
    const lc = new Lifecycle({ ...fromEnv({}), runtimeApi, telemetryPort: 0, hooksPort: 0 });
    const refused = register({ runtimeApi });
    refused.catch(() => {});
    expect((await lc.start(refused, { telemetry })).state).toBe('unregistered');
    expect(telemetry.closed).toBe(1);
    expect(api.requests.map((r) => r.url)).toEqual(['/2020-01-01/extension/register']);
  });

  it('takes the socket alone when the rest is left to it, and subscribes on it', async () => {
    const t = await setup({ logsEnabled: logsEnabledFromEnv({ DD_LOGS_ENABLED: 'false' }) });
    const telemetry = new HeldSocket();
    await telemetry.listen();
    const started = await t.lc.start(undefined, { telemetry });
    expect(started).toMatchObject({ state: 'ready', telemetry: 'subscribed', telemetryPort: telemetry.port });
    expect(t.api.subscription).toMatchObject({
      destination: { URI: `http://sandbox:${telemetry.port}/` },
      types: ['platform'],
    });
  });
});

describe('logsEnabledFromEnv', () => {
  it('is the rule fromEnv uses for the subscribed types', () => {
    for (const env of [
      {},
      { DD_LOGS_ENABLED: 'false' },
      { DD_SERVERLESS_LOGS_ENABLED: 'false' },
      { DD_SERVERLESS_LOGS_ENABLED: 'false', DD_LOGS_ENABLED: 'true' },
      { DD_SERVERLESS_LOGS_ENABLED: 'nope' },
      { DD_LOGS_ENABLED: '0', DD_SERVERLESS_LOGS_ENABLED: '0' },
    ]) {
      expect(logsEnabledFromEnv(env), JSON.stringify(env)).toBe(fromEnv(env).logsEnabled);
    }
    expect(logsEnabledFromEnv({ DD_LOGS_ENABLED: 'false' })).toBe(false);
    expect(logsEnabledFromEnv({})).toBe(true);
  });

  it('reads the booleans the logs package reads, so one variable means one thing to both', () => {
    for (const off of ['no', 'OFF', 'f', 'n', '0', 'False'])
      expect(logsEnabledFromEnv({ DD_LOGS_ENABLED: off }), off).toBe(false);
    for (const on of ['yes', 'On', 't', 'Y', '1', 'TRUE'])
      expect(logsEnabledFromEnv({ DD_SERVERLESS_LOGS_ENABLED: 'false', DD_LOGS_ENABLED: on }), on).toBe(true);
    const warned: string[] = [];
    const logger = { debug() {}, info() {}, warn: (m: string) => warned.push(m), error() {} };
    expect(logsEnabledFromEnv({ DD_LOGS_ENABLED: 'nope' }, logger)).toBe(true);
    expect(warned).toEqual(['DD_LOGS_ENABLED="nope" is not a boolean: using true']);
    // Empty or not a boolean counts as unset, as in the logs package: the other variable decides.
    expect(logsEnabledFromEnv({ DD_SERVERLESS_LOGS_ENABLED: 'false', DD_LOGS_ENABLED: '' })).toBe(false);
    const invalid = { DD_SERVERLESS_LOGS_ENABLED: 'false', DD_LOGS_ENABLED: 'nope' };
    expect(logsEnabledFromEnv(invalid, logger)).toBe(false);
  });
});

// `receiver.handle` on a server of the caller's (the Lambda extension's early listener): the trace
// routes are served without fastify, which is built on the first request they leave to it; the
// requests that come while it gets ready wait and are answered in order, as fastify answers them
// on the receiver's own server.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createTraceReceiver, fromEnv, TraceAgent, type TraceReceiver } from '../src/index.js';
import { startIntake, type TestIntake } from './helpers/intake.js';

const trace = readFileSync(new URL('./fixtures/dd-trace-plain/trace-1.msgpack', import.meta.url));

let server: Server | undefined;
let receiver: TraceReceiver | undefined;
let reference: TestIntake | undefined;
afterEach(async () => {
  await receiver?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server?.closeAllConnections();
  await reference?.close();
  server = receiver = reference = undefined;
});

/** A receiver behind a plain node:http server whose only listener is `receiver.handle`. */
async function behindOwnServer(): Promise<{ url: string; receiver: TraceReceiver }> {
  const base = fromEnv({});
  const agent = new TraceAgent({ ...base, port: 0 });
  receiver = createTraceReceiver(agent, {
    host: '127.0.0.1',
    port: 0,
    maxTraceBodyBytes: base.maxTraceBodyBytes,
    maxOtherBodyBytes: base.maxOtherBodyBytes,
    additionalTags: { functionname: 'my-function' },
  });
  server = createServer({ keepAliveTimeout: 60_000 }, receiver.handle);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, receiver };
}

interface Exchange {
  method: string;
  path: string;
  body?: Uint8Array | string;
  headers?: Record<string, string>;
}

const EXCHANGES: Exchange[] = [
  { method: 'GET', path: '/info' },
  {
    method: 'PUT',
    path: '/v0.4/traces',
    body: trace,
    headers: { 'content-type': 'application/msgpack; charset=utf-8' },
  },
  {
    method: 'POST',
    path: '/v0.6/stats',
    body: 'not msgpack',
    headers: { 'content-type': 'application/msgpack' },
  },
  { method: 'PUT', path: '/v0.4/services', body: '{}', headers: { 'content-type': 'application/json' } },
  { method: 'PUT', path: '/v0.7/traces', body: 'x' },
  { method: 'GET', path: '/v0.4/traces' },
];

async function answer(url: string, x: Exchange) {
  const r = await fetch(url + x.path, {
    method: x.method,
    body: x.body as BodyInit | undefined,
    headers: x.headers,
  });
  return {
    status: r.status,
    body: await r.text(),
    contentType: r.headers.get('content-type'),
    version: r.headers.get('datadog-agent-version'),
    state: r.headers.get('datadog-agent-state'),
  };
}

describe('receiver.handle', () => {
  it('serves the trace routes without building fastify', async () => {
    const { url, receiver } = await behindOwnServer();
    for (const method of ['PUT', 'POST']) {
      const r = await answer(url, {
        method,
        path: '/v0.4/traces',
        body: trace,
        headers: { 'content-type': 'application/msgpack' },
      });
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toEqual({ rate_by_service: { 'service:,env:': 1 } });
      expect(r.state).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(receiver.appBuilt).toBe(false);
  });

  it('builds fastify on the first other request; those that come meanwhile wait and are answered as on its own server', async () => {
    const { url, receiver } = await behindOwnServer();
    reference = await startIntake();
    // All at once: the first builds fastify, the others arrive while it gets ready.
    const answers = await Promise.all(EXCHANGES.map((x) => answer(url, x)));
    expect(receiver.appBuilt).toBe(true);
    const expected = [];
    for (const x of EXCHANGES) expected.push(await answer(reference.url, x));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 400, 200, 404, 404]);
    // Each answered by its own route, with what fastify answers on the receiver's own server.
    expect(answers).toEqual(expected);
    // And once it is ready, straight through.
    expect(await answer(url, EXCHANGES[0]!)).toEqual(expected[0]);
  });

  it('once closing, answers what fastify answers then, without building it', async () => {
    const { url, receiver } = await behindOwnServer();
    await receiver.close();
    const r = await answer(url, { method: 'GET', path: '/info' });
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body)).toEqual({
      error: 'Service Unavailable',
      message: 'Service Unavailable',
      statusCode: 503,
    });
    expect(receiver.appBuilt).toBe(false);
  });
});

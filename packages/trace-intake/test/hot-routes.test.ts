// The trace routes served before fastify's routing: the edges of reading a body off the socket
// (chunked, slow, over the limit, aborted), and what is left to fastify (other methods, HEAD, OPTIONS).
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { allSpans, decodeAgentPayload } from './helpers/agent-payload-schema.js';
import { startIntake, type TestIntake } from './helpers/intake.js';

const trace1 = readFileSync(new URL('./fixtures/dd-trace-plain/trace-1.msgpack', import.meta.url));
const trace2 = readFileSync(new URL('./fixtures/dd-trace-lambda/trace-1.msgpack', import.meta.url));

let intake: TestIntake | undefined;
afterEach(async () => {
  await intake?.close();
  intake = undefined;
});

/** One raw HTTP/1.1 exchange: writes `parts` in turn (waiting `gapMs` between), returns what came back. */
async function raw(parts: (string | Buffer)[], gapMs = 0): Promise<string> {
  const socket = connect(intake!.port, '127.0.0.1');
  let out = '';
  socket.on('data', (d) => {
    out += d.toString('latin1');
  });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => {});
  for (const p of parts) {
    if (socket.destroyed) break;
    socket.write(p);
    if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
  }
  await Promise.race([closed, waitForResponse(() => out)]);
  socket.destroy();
  return out;
}

/** Resolves once a complete response (headers and the declared body) is in. */
async function waitForResponse(text: () => string): Promise<void> {
  for (;;) {
    const t = text();
    const end = t.indexOf('\r\n\r\n');
    const len = /content-length: (\d+)/i.exec(t);
    if (end >= 0 && len && t.length >= end + 4 + Number(len[1])) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

const head = (method: string, path: string, headers: Record<string, string | number>) =>
  `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;

const chunked = (body: Buffer, size: number): Buffer[] => {
  const out: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) {
    const c = body.subarray(i, i + size);
    out.push(Buffer.concat([Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n')]));
  }
  out.push(Buffer.from('0\r\n\r\n'));
  return out;
};

const status = (response: string) => Number(response.slice(9, 12));

describe('hot trace routes', () => {
  it('accepts a chunked body arriving in small pieces, and decodes it as a whole', async () => {
    intake = await startIntake();
    const r = await raw(
      [
        head('PUT', '/v0.4/traces', {
          'content-type': 'application/msgpack',
          'transfer-encoding': 'chunked',
        }),
        ...chunked(trace1, 97),
      ],
      1,
    );
    expect(status(r)).toBe(200);
    expect(r).toContain('{"rate_by_service":{"service:,env:":1}}');
    expect(r.toLowerCase()).toContain('datadog-agent-version: 0.1.0');
    expect(intake.agent.buffered.spans).toBe(2);
  });

  it('answers a chunked body that grows past the limit while arriving with 413, and closes', async () => {
    intake = await startIntake({}, {}, { maxTraceBodyBytes: 1024, maxOtherBodyBytes: 512 });
    const r = await raw(
      [
        head('POST', '/v0.4/traces', {
          'content-type': 'application/msgpack',
          'transfer-encoding': 'chunked',
        }),
        ...chunked(Buffer.alloc(4096), 256),
      ],
      5,
    );
    expect(status(r)).toBe(413);
    expect(r.toLowerCase()).toContain('connection: close');
    expect(r).toContain('payload too large');
    expect(intake.agent.counters.tooLarge).toBe(1);
  });

  it('answers a declared length over the limit at once, before the body arrives', async () => {
    intake = await startIntake({}, {}, { maxTraceBodyBytes: 1024, maxOtherBodyBytes: 512 });
    const r = await raw([head('PUT', '/v0.4/traces', { 'content-length': 1_000_000 })]);
    expect(status(r)).toBe(413);
    expect(intake.agent.counters.tooLarge).toBe(1);
  });

  it('answers a body shorter or longer than its content-length with 400, and invalid lengths', async () => {
    intake = await startIntake();
    const long = await raw([head('PUT', '/v0.4/traces', { 'content-length': 10 }), Buffer.alloc(20)]);
    // node's parser stops the body at its length: the rest is the next request, which is malformed
    expect(status(long)).toBe(400);
    expect(intake.agent.counters.requests).toBe(1);
    expect(intake.agent.counters.decodeErrors).toBe(1);
  });

  it('survives a client that goes away in the middle of a body, and keeps serving', async () => {
    intake = await startIntake();
    const socket = connect(intake.port, '127.0.0.1');
    socket.on('error', () => {});
    await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
    socket.write(head('PUT', '/v0.4/traces', { 'content-length': trace1.length }));
    socket.write(trace1.subarray(0, 100));
    await new Promise((r) => setTimeout(r, 20));
    socket.destroy();
    await new Promise((r) => setTimeout(r, 50));
    const res = await fetch(`${intake.url}/v0.4/traces`, {
      method: 'PUT',
      body: trace1,
      headers: { 'content-type': 'application/msgpack' },
    });
    expect(res.status).toBe(200);
    expect(intake.agent.buffered.spans).toBe(2);
    // the aborted body was never handed to the decoder
    expect(intake.agent.counters.requests).toBe(1);
  });

  it('serves the hot paths with a query string, and keeps the connection alive across requests', async () => {
    intake = await startIntake();
    const body = Buffer.concat([
      Buffer.from(head('PUT', '/v0.4/traces?x=1', { 'content-length': trace1.length })),
      trace1,
      Buffer.from(head('POST', '/v0.3/traces', { 'content-length': trace2.length })),
      trace2,
    ]);
    const socket = connect(intake.port, '127.0.0.1');
    let out = '';
    socket.on('data', (d) => {
      out += d.toString('latin1');
    });
    socket.write(body);
    for (let i = 0; i < 400 && !out.includes('OK\n'); i++) await new Promise((r) => setTimeout(r, 5));
    socket.destroy();
    expect(out.match(/HTTP\/1.1 200 OK/g)).toHaveLength(2);
    expect(out).toContain('Connection: keep-alive');
    expect(out).toContain('rate_by_service');
    expect(intake.agent.buffered.spans).toBeGreaterThan(2);
  });

  it('leaves other methods, HEAD and OPTIONS, and parameters in the content type to fastify', async () => {
    intake = await startIntake();
    for (const method of ['GET', 'HEAD', 'OPTIONS', 'DELETE', 'PATCH']) {
      const res = await fetch(`${intake.url}/v0.4/traces`, { method });
      expect(res.status, method).toBe(404);
      expect(res.headers.get('datadog-agent-version')).toBe('0.1.0');
    }
    const withParams = await fetch(`${intake.url}/v0.4/traces`, {
      method: 'PUT',
      body: trace1,
      headers: { 'content-type': 'application/msgpack; charset=binary' },
    });
    expect(withParams.status).toBe(200);
    expect(await withParams.json()).toEqual({ rate_by_service: { 'service:,env:': 1 } });
    const invalid = await raw([
      head('PUT', '/v0.4/traces', { 'content-type': ';;', 'content-length': 1 }),
      '\x90',
    ]);
    expect(status(invalid)).toBe(415);
    // a trailing slash is another path: fastify's 404
    expect((await fetch(`${intake.url}/v0.4/traces/`, { method: 'PUT', body: trace1 })).status).toBe(404);
    const spans = intake.agent.flush().flatMap((p) => allSpans(decodeAgentPayload(p.body)));
    expect(spans).toHaveLength(2);
  });

  it('answers with the same status line, headers and body as the fastify route', async () => {
    intake = await startIntake();
    const viaHot = await raw([
      head('PUT', '/v0.4/traces', { 'content-type': 'application/msgpack', 'content-length': trace1.length }),
      trace1,
    ]);
    // parameters in the content type send the same request through fastify's route
    const viaFastify = await raw([
      head('PUT', '/v0.4/traces', {
        'content-type': 'application/msgpack; x=1',
        'content-length': trace2.length,
      }),
      trace2,
    ]);
    const norm = (r: string) => r.replace(/date: [^\r]*/i, 'date: -');
    expect(norm(viaHot)).toBe(norm(viaFastify));
  });
});

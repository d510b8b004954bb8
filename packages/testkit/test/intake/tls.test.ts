import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DatadogIntake, makeTestCertificate, startIntake } from '../../src/index.js';
import { send } from './helpers/http.js';

let intake: DatadogIntake;
beforeAll(async () => {
  intake = await startIntake({ https: true });
});
afterAll(() => intake.stop());

const series = JSON.stringify({
  series: [{ metric: 'tls.m', type: 3, points: [{ timestamp: 1, value: 1 }] }],
});

/** Opens a CONNECT tunnel through the intake's proxy listener and speaks HTTPS to `host` inside it. */
function viaConnect(
  host: string,
  path: string,
  body: string,
  ca: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const proxy = new URL(intake.proxyUrl);
    const connect = http.request({
      host: proxy.hostname,
      port: proxy.port,
      method: 'CONNECT',
      path: `${host}:443`,
    });
    connect.on('error', reject);
    connect.on('connect', (res, socket) => {
      if (res.statusCode !== 200) return reject(new Error(`CONNECT answered ${res.statusCode}`));
      const secure = tls.connect({ socket, servername: host, ca });
      const req = https.request(
        {
          host,
          path,
          method: 'POST',
          createConnection: () => secure,
          headers: { 'dd-api-key': intake.apiKey, 'content-type': 'application/json' },
        },
        (r) => {
          let text = '';
          r.on('data', (c) => {
            text += c;
          });
          r.on('end', () => {
            resolve({ status: r.statusCode ?? 0, text });
            secure.destroy();
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    connect.end();
  });
}

describe('HTTPS', () => {
  it('serves HTTPS with a certificate made for this run, trusted through intake.ca', async () => {
    const res = await send(intake.httpsUrl, '/api/v2/series', {
      body: series,
      ca: intake.ca,
      headers: { 'dd-api-key': intake.apiKey, 'content-type': 'application/json' },
    });
    expect(res.status).toBe(202);
    expect(intake.requests().at(-1)).toMatchObject({ tls: true, path: '/api/v2/series' });
    expect(intake.metrics('tls.m')).toHaveLength(1);
  });

  it('is refused by a client that does not trust the CA', async () => {
    await expect(send(intake.httpsUrl, '/api/v1/validate', { method: 'GET' })).rejects.toMatchObject({
      code: expect.stringMatching(/SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/),
    });
  });

  it('resets and black-holes HTTPS connections too', async () => {
    const headers = { 'dd-api-key': intake.apiKey, 'content-type': 'application/json' };
    const reset = intake.fault({ path: '/api/v2/logs', reset: true, times: 1 });
    await expect(
      send(intake.httpsUrl, '/api/v2/logs', { body: '[]', ca: intake.ca, headers }),
    ).rejects.toMatchObject({
      code: 'ECONNRESET',
    });
    expect(reset.spent).toBe(true);
    const hole = intake.fault({ path: '/api/v2/logs', blackhole: true });
    await expect(
      send(intake.httpsUrl, '/api/v2/logs', { body: '[]', ca: intake.ca, headers, timeoutMs: 200 }),
    ).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    hole.remove();
    expect((await send(intake.httpsUrl, '/api/v2/logs', { body: '[]', ca: intake.ca, headers })).status).toBe(
      202,
    );
  });

  it('keeps serving plain HTTP beside HTTPS', async () => {
    const res = await send(intake.url, '/api/v1/validate', {
      method: 'GET',
      headers: { 'dd-api-key': intake.apiKey },
    });
    expect(res.status).toBe(200);
  });

  it('makes a CA-signed certificate that node can verify, for loopback and the site hosts', () => {
    const cert = new X509Certificate(intake.cert);
    const ca = new X509Certificate(intake.ca);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(ca.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('localhost')).toBe('localhost');
    for (const host of [
      'api.datadoghq.com',
      'trace.agent.datadoghq.eu',
      'http-intake.logs.us5.datadoghq.com',
    ]) {
      expect(cert.checkHost(host), host).toBeDefined();
    }
    expect(cert.checkHost('example.com')).toBeUndefined();
    expect(new Date(cert.validTo).getTime()).toBeGreaterThan(Date.now());
  });

  it('makes a different key pair every time', () => {
    const a = makeTestCertificate(['localhost']);
    const b = makeTestCertificate(['localhost']);
    expect(a.key).not.toBe(b.key);
    expect(new X509Certificate(a.cert).checkIssued(new X509Certificate(b.ca))).toBe(false);
  });
});

describe('agent environment', () => {
  it('points DD_* URL overrides at the intake, over HTTP or HTTPS', () => {
    expect(intake.agentEnv()).toEqual({
      DD_API_KEY: intake.apiKey,
      DD_DD_URL: intake.url,
      DD_APM_DD_URL: intake.url,
      DD_LOGS_CONFIG_LOGS_DD_URL: intake.url,
    });
    const secure = intake.agentEnv({ tls: true });
    expect(secure['DD_DD_URL']).toBe(intake.httpsUrl);
    expect(readFileSync(secure['DD_TLS_CERT_FILE']!, 'utf8')).toBe(intake.ca);
  });

  it('keeps the real site and goes through the intake as the HTTPS proxy', () => {
    expect(intake.agentEnv({ site: 'datadoghq.eu' })).toEqual({
      DD_API_KEY: intake.apiKey,
      DD_SITE: 'datadoghq.eu',
      DD_PROXY_HTTPS: intake.proxyUrl,
      DD_TLS_CERT_FILE: intake.caFile,
    });
  });

  it('removes the CA file when it stops', async () => {
    const other = await startIntake({ https: true });
    const file = other.caFile;
    expect(existsSync(file)).toBe(true);
    await other.stop();
    expect(existsSync(file)).toBe(false);
  });
});

describe('as a proxy to the real site host names', () => {
  it('tunnels CONNECT to its HTTPS listener and records the destination and site', async () => {
    const res = await viaConnect('api.datadoghq.eu', '/api/v2/series', series, intake.ca);
    expect(res.status).toBe(202);
    expect(intake.requests().at(-1)).toMatchObject({
      destination: 'api.datadoghq.eu',
      site: { site: 'datadoghq.eu', role: 'api' },
      tls: true,
    });
  });

  it('refuses data sent to an intake host that does not serve it (404)', async () => {
    const res = await viaConnect('trace.agent.datadoghq.com', '/api/v2/series', series, intake.ca);
    expect(res.status).toBe(404);
    expect(res.text).toContain('trace.agent.datadoghq.com does not serve /api/v2/series');
  });

  it('takes absolute-form requests as a plain HTTP proxy', async () => {
    const proxy = new URL(intake.proxyUrl);
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        {
          host: proxy.hostname,
          port: proxy.port,
          method: 'POST',
          path: 'http://http-intake.logs.datadoghq.com/api/v2/logs',
          headers: { host: 'http-intake.logs.datadoghq.com', 'dd-api-key': intake.apiKey },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end('[{"message":"proxied"}]');
    });
    expect(status).toBe(202);
    expect(intake.requests().at(-1)).toMatchObject({ destination: 'http-intake.logs.datadoghq.com' });
    expect(intake.logs('proxied')).toHaveLength(1);
  });

  it('faults one destination only', async () => {
    const f = intake.fault({ destination: 'api.datadoghq.eu', status: 503 });
    try {
      expect((await viaConnect('api.datadoghq.eu', '/api/v2/series', series, intake.ca)).status).toBe(503);
      expect((await viaConnect('api.us5.datadoghq.com', '/api/v2/series', series, intake.ca)).status).toBe(
        202,
      );
    } finally {
      f.remove();
    }
  });
});

import { describe, expect, it } from 'vitest';
import { type DatadogIntake, intakeOptionsFromArgs, runIntakeCommand } from '../../src/index.js';
import { send } from './helpers/http.js';

describe('intake command', () => {
  it('parses its arguments', () => {
    expect(intakeOptionsFromArgs(['--port', '0', '--https', '--api-key', 'a', '--api-key', 'b'])).toEqual({
      json: false,
      https: true,
      port: 0,
      apiKeys: ['a', 'b'],
    });
    expect(intakeOptionsFromArgs(['--any-key', '--json'])).toMatchObject({ apiKeys: 'any', json: true });
    expect(() => intakeOptionsFromArgs(['--port', 'x'])).toThrow(/--port must be a port number/);
    expect(() => intakeOptionsFromArgs(['--nope'])).toThrow();
  });

  it('answers a bad argument with the usage and exit code 2', async () => {
    const lines: string[] = [];
    expect(await runIntakeCommand(['--bogus'], { write: (l) => lines.push(l) })).toBe(2);
    expect(lines.join('\n')).toContain('usage: serverless-agent-testkit intake');
  });

  it('runs until aborted, printing where it listens and a line per request, never the key', async () => {
    const lines: string[] = [];
    const abort = new AbortController();
    let intake: DatadogIntake | undefined;
    const done = runIntakeCommand(['--https', '--api-key', 'cli-secret-key-12345'], {
      write: (l) => lines.push(l),
      signal: abort.signal,
      onStarted: (i) => {
        intake = i;
      },
    });
    await expect.poll(() => intake).toBeDefined();
    const res = await send(intake!.url, '/api/v2/logs', {
      body: '[{"message":"from cli"}]',
      headers: { 'dd-api-key': 'cli-secret-key-12345', 'content-type': 'application/json' },
    });
    expect(res.status).toBe(202);
    abort.abort();
    expect(await done).toBe(0);
    const out = lines.join('\n');
    expect(out).toContain(`datadog intake on ${intake!.url} and ${intake!.httpsUrl} (API key ***12345)`);
    expect(out).toContain('-----BEGIN CERTIFICATE-----');
    expect(out).toMatch(/#1 POST \/api\/v2\/logs logs identity \d+ B → 202 \(1 item\)/);
    expect(out).not.toContain('cli-secret-key-12345');
  });

  it('prints JSON lines with --json', async () => {
    const lines: string[] = [];
    const abort = new AbortController();
    let intake: DatadogIntake | undefined;
    const done = runIntakeCommand(['--json'], {
      write: (l) => lines.push(l),
      signal: abort.signal,
      onStarted: (i) => {
        intake = i;
      },
    });
    await expect.poll(() => intake).toBeDefined();
    await send(intake!.url, '/api/v1/validate', { method: 'GET', headers: { 'dd-api-key': intake!.apiKey } });
    abort.abort();
    await done;
    const parsed = lines.map((l) => JSON.parse(l));
    expect(parsed[0]).toMatchObject({ listening: { url: intake!.url } });
    expect(parsed[1]).toMatchObject({ request: { path: '/api/v1/validate', status: 200 } });
    expect(lines[1]).not.toContain(intake!.apiKey);
  });
});

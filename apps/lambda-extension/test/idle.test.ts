// Idle mode when the API key's secret cannot be resolved: the extension keeps answering `next` and
// its clients, drops and counts, says why once, exits 0 on SHUTDOWN, and the function never notices.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type DatadogIntake, LambdaSandbox, startIntake } from '@serverless-agent/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAndUnzipLayer, freePorts, scratch } from './helpers.js';

// Each invocation sends what a traced function sends: a metric, a hook call and a trace request.
const SENDER = `
import { createSocket } from 'node:dgram';
const udp = createSocket('udp4');
const hooks = 'http://127.0.0.1:' + process.env.SERVERLESS_AGENT_HOOKS_PORT;
const traces = 'http://127.0.0.1:' + process.env.DD_APM_RECEIVER_PORT;
const answer = async (url, body) => {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  return res.status + ' ' + (await res.text());
};
export const handler = async (e) => {
  await new Promise((r) => udp.send('idle.metric:1|c', Number(process.env.DD_DOGSTATSD_PORT), '127.0.0.1', r));
  const answers = [
    await answer(hooks + '/lambda/start-invocation', '{}'),
    await answer(hooks + '/lambda/end-invocation', '{}'),
    await answer(traces + '/v0.4/traces', '[]'),
  ];
  return { n: e.n, answers };
};
`;

/** A Secrets Manager / KMS / SSM stand-in that refuses every call, as AWS does for what it does not have. */
async function refusingAws(): Promise<{ url: string; calls: IncomingHttpHeaders[]; server: Server }> {
  const calls: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      calls.push(req.headers);
      const target = String(req.headers['x-amz-target'] ?? '');
      const type = target.startsWith('TrentService')
        ? 'InvalidCiphertextException'
        : target.startsWith('AmazonSSM')
          ? 'ParameterNotFound'
          : 'ResourceNotFoundException';
      const body = { __type: type, message: '' };
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls, server };
}

let work: ReturnType<typeof scratch>;
let opt: string;
let task: string;
let intake: DatadogIntake;
beforeAll(async () => {
  work = scratch();
  opt = buildAndUnzipLayer(join(work.dir, 'zip'));
  task = join(work.dir, 'task');
  mkdirSync(task, { recursive: true });
  writeFileSync(join(task, 'index.mjs'), SENDER);
  intake = await startIntake();
}, 120_000);
afterAll(async () => {
  await intake?.stop();
  work?.cleanup();
});

const CREDENTIALS = {
  AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  AWS_SESSION_TOKEN: 'session-token',
};

describe('an API key that cannot be resolved', () => {
  it.each([
    {
      source: 'DD_API_KEY_SECRET_ARN',
      env: (aws: string) => ({
        DD_API_KEY_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:dd-api-key-AbCdEf',
        AWS_ENDPOINT_URL_SECRETS_MANAGER: aws,
      }),
      target: 'secretsmanager.GetSecretValue',
    },
    {
      source: 'DD_KMS_API_KEY',
      env: (aws: string) => ({
        DD_KMS_API_KEY: Buffer.from('not a real ciphertext').toString('base64'),
        AWS_ENDPOINT_URL_KMS: aws,
      }),
      target: 'TrentService.Decrypt',
    },
    {
      source: 'DD_API_KEY_SSM_ARN',
      env: (aws: string) => ({
        DD_API_KEY_SSM_ARN: 'arn:aws:ssm:us-east-1:123456789012:parameter/dd-api-key',
        AWS_ENDPOINT_URL_SSM: aws,
      }),
      target: 'AmazonSSM.GetParameter',
    },
  ])(
    '$source: idle, says why once, the function unaffected, exit 0',
    async ({ env: keyEnv, target }) => {
      const aws = await refusingAws();
      const { env } = await freePorts();
      const lines: string[] = [];
      const sandbox = new LambdaSandbox({
        taskRoot: task,
        extensionsDir: join(opt, 'extensions'),
        timeoutMs: 15_000,
        env: {
          ...env,
          ...intake.agentEnv(),
          ...CREDENTIALS,
          ...keyEnv(aws.url),
          DD_API_KEY: '',
          DD_SERVERLESS_FLUSH_STRATEGY: 'end',
        },
        onLog: (l) => l.source === 'extension' && lines.push(l.line),
      });
      try {
        expect((await sandbox.start()).status).toBe('success');
        for (let n = 0; n < 4; n++) {
          const r = await sandbox.invoke({ n });
          expect(r.status).toBe('success');
          // Every client answered as usual: the hooks with {}, the trace receiver with its rates.
          expect(r.response).toEqual({
            n,
            answers: ['200 {}', '200 {}', expect.stringMatching(/^200 \{"rate_by_service"/)],
          });
        }
        const down = await sandbox.shutdown();
        expect(down.processes.find((p) => p.name === 'datadog-agent')).toMatchObject({
          ended: 'exit',
          code: 0,
        });
      } finally {
        await sandbox.shutdown();
        await new Promise((r) => aws.server.close(r));
      }
      // It asked AWS, signed, once: a failed secret is not asked for again at every flush.
      expect(aws.calls.length).toBeGreaterThanOrEqual(1);
      expect(aws.calls.length).toBeLessThanOrEqual(2);
      expect(aws.calls.every((h) => h['x-amz-target'] === target)).toBe(true);
      expect(
        aws.calls.every((h) =>
          String(h.authorization).startsWith('AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/'),
        ),
      ).toBe(true);
      // Why, once: the resolution's failure, then the switch to idle.
      expect(lines.filter((l) => l.includes('could not resolve the API key'))).toHaveLength(1);
      expect(lines.filter((l) => l.includes('falling back to a plain event loop'))).toHaveLength(1);
      expect(lines.filter((l) => l.includes('| ERROR |') || l.includes('| WARN |'))).toHaveLength(2);
      // Dropped and counted: what arrived after the switch is reported at shutdown.
      const counted = lines.find((l) => l.includes('idle: dropped'));
      expect(counted).toMatch(/dropped \d+ datagrams, \d+ trace requests, \d+ hook calls/);
      const hooks = Number(/(\d+) hook calls/.exec(counted!)![1]);
      expect(hooks).toBeGreaterThanOrEqual(2 * 3);
      // Nothing reached Datadog (the connections opened at start send nothing), and nothing secret
      // reached the log.
      expect(intake.requests().filter((r) => r.method !== 'GET' || r.path !== '/')).toEqual([]);
      expect(lines.join('\n')).not.toContain(CREDENTIALS.AWS_SECRET_ACCESS_KEY);
      intake.clear();
    },
    90_000,
  );
});

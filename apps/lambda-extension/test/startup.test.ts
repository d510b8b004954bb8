import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { LambdaSandbox, type TelemetryEvent } from '@serverless-agent/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAndUnzipLayer, freePorts, scratch } from './helpers.js';

let work: ReturnType<typeof scratch>;
let opt: string;
beforeAll(() => {
  work = scratch();
  opt = buildAndUnzipLayer(join(work.dir, 'zip'));
}, 120_000);
afterAll(() => work?.cleanup());

// Sends during its own init, at module load: metrics, a hook call and a trace request.
const INIT_SENDER = `
import { createSocket } from 'node:dgram';
import { request } from 'node:http';
const post = (port, path, body) => new Promise((resolve, reject) => {
  const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
    let text = '';
    res.on('data', (c) => { text += c; });
    res.on('end', () => resolve(res.statusCode + ' ' + text));
  });
  req.on('error', reject);
  req.end(body);
});
const udp = createSocket('udp4');
for (let i = 0; i < 50; i++) udp.send('init.metric:' + i + '|c', Number(process.env.DD_DOGSTATSD_PORT), '127.0.0.1');
const answers = [
  await post(Number(process.env.SERVERLESS_AGENT_HOOKS_PORT), '/lambda/start-invocation', '{}'),
  await post(Number(process.env.DD_APM_RECEIVER_PORT), '/v0.4/traces', '[]'),
].map((a) => a.split(' ')[0]);
udp.close();
export const handler = async () => ({ answers });
`;

/** A function of its own folder (`index.mjs` is `source`) beside the layer, and the extension's lines. */
function sandboxWithLines(name: string, source: string, env: Record<string, string>) {
  const task = join(work.dir, name);
  mkdirSync(task, { recursive: true });
  writeFileSync(join(task, 'index.mjs'), source);
  const lines: string[] = [];
  const sandbox = new LambdaSandbox({
    taskRoot: task,
    extensionsDir: join(opt, 'extensions'),
    env,
    onLog: (l) => l.source === 'extension' && lines.push(l.line),
  });
  return { sandbox, lines };
}

/** Three invocations of a function that answers its `n`, beside the layer; the extension's lines. */
async function threeInvocations(name: string, env: Record<string, string>): Promise<string[]> {
  const { sandbox, lines } = sandboxWithLines(name, 'export const handler = async (e) => e.n;\n', env);
  try {
    expect((await sandbox.start()).status).toBe('success');
    for (let n = 0; n < 3; n++) expect((await sandbox.invoke({ n })).response).toBe(n);
    const down = await sandbox.shutdown();
    expect(down.processes.find((p) => p.name === 'datadog-agent')).toMatchObject({ ended: 'exit', code: 0 });
    return lines;
  } finally {
    await sandbox.shutdown();
  }
}

describe('start-up', () => {
  // The entry subscribes (with the types the variables give) and sends the first `next` itself; a
  // datadog.yaml, which may change the types, leaves both to the agent. Either way every listener
  // accepts before the first `next`, and the subscription comes before it: the sandbox, like
  // Lambda, refuses one after.
  it.each([
    ['the entry, all types', {}, undefined, ['platform', 'function', 'extension']],
    ['the entry, DD_LOGS_ENABLED=false', { DD_LOGS_ENABLED: 'false' }, undefined, ['platform']],
    ['the agent, datadog.yaml with logs_enabled: false', {}, 'logs_enabled: false\n', ['platform']],
  ])(
    'accepts everything the function sends during its init, subscribed before the first next: %s',
    async (_name, vars, yaml, types) => {
      const { env } = await freePorts();
      const task = join(work.dir, `task-sub-${types.length}-${yaml ? 'yaml' : 'env'}`);
      mkdirSync(task, { recursive: true });
      writeFileSync(join(task, 'index.mjs'), INIT_SENDER);
      if (yaml) writeFileSync(join(task, 'datadog.yaml'), yaml);
      const events: TelemetryEvent[] = [];
      const sandbox = new LambdaSandbox({
        taskRoot: task,
        extensionsDir: join(opt, 'extensions'),
        // Extensions read datadog.yaml from LAMBDA_TASK_ROOT (/var/task when unset, as on Lambda).
        env: { ...env, DD_API_KEY: 'k', DD_LOG_LEVEL: 'debug', LAMBDA_TASK_ROOT: task, ...vars },
      });
      sandbox.on('telemetry', (e: TelemetryEvent) => events.push(e));
      try {
        const init = await sandbox.start();
        expect(init.status).toBe('success');
        const r = await sandbox.invoke({});
        expect(r.response).toEqual({ answers: ['200', '200'] });
        await sandbox.shutdown();
        const subscribed = events.filter((e) => e.type === 'platform.telemetrySubscription');
        expect(subscribed.map((e) => (e.record as { types: string[] }).types)).toEqual([types]);
        const lines = events.filter((e) => e.type === 'extension').map((e) => String(e.record));
        expect(lines.join('\n')).toMatch(/counted: 50 datagrams/);
        expect(lines.join('\n')).not.toMatch(/telemetry subscription|falling back/);
        // Who sent the first `next`: the entry, before the agent loaded, or the agent.
        expect(lines.join('\n')).toMatch(
          yaml
            ? /start, ms since the process started: entry [\d.]+, registered [\d.]+, agent loaded [\d.]+, lifecycle started/
            : /start, ms since the process started: entry [\d.]+, registered [\d.]+, subscribed [\d.]+, first next written [\d.]+, agent loaded/,
        );
      } finally {
        await sandbox.shutdown();
      }
    },
    60_000,
  );

  it('warns once about a set variable it does not support yet, and about an invalid one', async () => {
    const { env } = await freePorts();
    const { sandbox, lines } = sandboxWithLines('task2', 'export const handler = async () => 1;\n', {
      ...env,
      DD_API_KEY: 'k',
      DD_SERVERLESS_APPSEC_ENABLED: 'true',
      DD_LOG_LEVEL: 'chatty',
    });
    try {
      expect((await sandbox.start()).status).toBe('success');
      expect((await sandbox.invoke({})).status).toBe('success');
      await sandbox.shutdown();
      expect(lines).toContain('DD_EXTENSION | WARN | DD_LOG_LEVEL="chatty" is not a level: using info');
      expect(lines).toContain(
        'DD_EXTENSION | WARN | not supported yet, ignored: DD_SERVERLESS_APPSEC_ENABLED',
      );
    } finally {
      await sandbox.shutdown();
    }
  }, 60_000);

  it('without an API key: idle, says why once, and the function is unaffected', async () => {
    const { env } = await freePorts();
    const lines = await threeInvocations('task3', env);
    expect(lines.filter((l) => l.includes('no API key'))).toHaveLength(1);
  }, 60_000);

  it('when the Telemetry port is taken: idle, says why once, and the function is unaffected', async () => {
    const { env } = await freePorts();
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(Number(env.SERVERLESS_AGENT_TELEMETRY_PORT), '0.0.0.0', r));
    try {
      const lines = await threeInvocations('task-taken', { ...env, DD_API_KEY: 'k' });
      expect(lines.filter((l) => l.includes('falling back'))).toHaveLength(1);
      expect(lines.join('\n')).toMatch(/could not (bind|start).*EADDRINUSE/);
    } finally {
      await new Promise<void>((r) => taken.close(() => r()));
    }
  }, 60_000);
});

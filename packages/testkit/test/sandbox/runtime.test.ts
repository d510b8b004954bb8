import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  LambdaSandbox,
  mountNamespaceSupported,
  NULL_EXTENSION,
  NULL_EXTENSION_DIR,
} from '../../src/index.js';
import { type Scratch, scratch, writeExtension, writeFunction } from './helpers.js';

let s: Scratch;
let sandbox: LambdaSandbox | undefined;
afterEach(async () => {
  await sandbox?.shutdown();
  sandbox = undefined;
  s?.cleanup();
});

describe('the Node runtime', () => {
  it('gives the handler a real context and the runtime environment', async () => {
    s = scratch();
    writeFunction(
      s.task,
      'app.cjs',
      `exports.nested = { handler: (event, context, callback) => {
  const remaining = context.getRemainingTimeInMillis();
  callback(null, {
    remaining,
    context: { ...context, getRemainingTimeInMillis: undefined },
    env: {
      handler: process.env._HANDLER, taskRoot: process.env.LAMBDA_TASK_ROOT, trace: process.env._X_AMZN_TRACE_ID,
      execEnv: process.env.AWS_EXECUTION_ENV, custom: process.env.MY_VAR, api: process.env.AWS_LAMBDA_RUNTIME_API,
    },
  });
} };
`,
    );
    sandbox = new LambdaSandbox({
      taskRoot: s.task,
      handler: 'app.nested.handler',
      functionName: 'ctx-fn',
      memorySizeMB: 512,
      timeoutMs: 5000,
      env: { MY_VAR: 'v' },
      extensions: [NULL_EXTENSION],
    });
    await sandbox.start();
    const trace = 'Root=1-5f35ae12-0c0fec141ab77a00bc047aa2;Parent=2be948a625588e32;Sampled=1';
    const r = await sandbox.invoke(
      {},
      { requestId: '00000000-0000-4000-8000-000000000001', traceId: trace, clientContext: { a: 1 } },
    );
    expect(r.status).toBe('success');
    const out = r.response as {
      remaining: number;
      context: Record<string, unknown>;
      env: Record<string, string>;
    };
    expect(out.remaining).toBeGreaterThan(3000);
    expect(out.remaining).toBeLessThanOrEqual(5000);
    expect(out.context).toMatchObject({
      awsRequestId: '00000000-0000-4000-8000-000000000001',
      functionName: 'ctx-fn',
      functionVersion: '$LATEST',
      memoryLimitInMB: '512',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:ctx-fn',
      logGroupName: '/aws/lambda/ctx-fn',
      logStreamName: expect.stringMatching(/^\d{4}\/\d\d\/\d\d\/\[\$LATEST\][0-9a-f]{32}$/),
      callbackWaitsForEmptyEventLoop: true,
      clientContext: { a: 1 },
    });
    expect(out.env).toEqual({
      handler: 'app.nested.handler',
      taskRoot: s.task,
      trace,
      execEnv: expect.stringMatching(/^AWS_Lambda_nodejs\d+\.x$/),
      custom: 'v',
      api: sandbox.runtimeApi,
    });
  });

  it('gives extensions the platform variables but no runtime-only ones', async () => {
    s = scratch();
    writeFunction(s.task, 'index.mjs', 'export const handler = async () => "ok";\n');
    const dump = join(s.dir, 'env.json');
    writeExtension(s.extensions, 'envdump', { dumpEnvTo: dump });
    sandbox = new LambdaSandbox({
      taskRoot: s.task,
      extensionsDir: s.extensions,
      env: { DD_API_KEY: 'k', _SECRET: 'x' },
    });
    expect((await sandbox.start()).status).toBe('success');
    const env = JSON.parse(readFileSync(dump, 'utf8')) as Record<string, string>;
    expect(env).toMatchObject({
      AWS_LAMBDA_RUNTIME_API: sandbox.runtimeApi,
      AWS_LAMBDA_FUNCTION_NAME: 'my-function',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024',
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
      TZ: ':UTC',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      DD_API_KEY: 'k',
    });
    for (const k of ['_HANDLER', 'LAMBDA_TASK_ROOT', '_SECRET', 'AWS_EXECUTION_ENV'])
      expect(env[k]).toBeUndefined();
  });

  it('writes JSON log records with logFormat JSON', async () => {
    s = scratch();
    writeFunction(
      s.task,
      'index.mjs',
      'export const handler = async () => { console.warn("careful"); return 1; };\n',
    );
    sandbox = new LambdaSandbox({ taskRoot: s.task, logFormat: 'JSON', extensions: [NULL_EXTENSION] });
    await sandbox.start();
    const r = await sandbox.invoke({});
    const rec = await sandbox.waitForEvent('function', (e) => typeof e.record === 'object');
    expect(rec.record).toEqual({
      timestamp: expect.any(String),
      level: 'WARN',
      requestId: r.requestId,
      message: 'careful',
    });
  });

  it.runIf(mountNamespaceSupported())('binds a folder over /opt for the runtime only', async () => {
    s = scratch();
    const opt = join(s.dir, 'opt');
    mkdirSync(join(opt, 'extensions'), { recursive: true });
    writeFileSync(join(opt, 'extensions', 'datadog-agent'), '');
    writeFunction(
      s.task,
      'index.mjs',
      `import { existsSync } from 'node:fs';
export const handler = async () => existsSync('/opt/extensions/datadog-agent');
`,
    );
    sandbox = new LambdaSandbox({ taskRoot: s.task, optDir: opt, extensionsDir: NULL_EXTENSION_DIR });
    await sandbox.start();
    expect(await sandbox.waitForFreeze()).toBe(true);
    const r = await sandbox.invoke({});
    expect(r.response).toBe(true);
    expect(existsSync('/opt/extensions/datadog-agent')).toBe(false);
  });
});

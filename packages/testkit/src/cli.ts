#!/usr/bin/env node
// serverless-agent-testkit: the local Lambda sandbox from the command line.
//   serverless-agent-testkit demo
//   serverless-agent-testkit intake [--port N] [--https] [--api-key KEY]... [--json]
//   serverless-agent-testkit sandbox --task-root DIR [--handler index.handler] [--extensions DIR]
//       [--extension FILE]... [--invoke N] [--event JSON] [--memory MB] [--timeout MS] [--opt DIR]
//       [--json]
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runIntakeCommand } from './intake/index.js';
import { runDemo } from './sandbox/demo.js';
import { LambdaSandbox } from './sandbox/sandbox.js';

const USAGE = `usage:
  serverless-agent-testkit demo
  serverless-agent-testkit intake [--host 127.0.0.1] [--port 0] [--https] [--https-port 0] [--api-key KEY]... [--any-key] [--json]
  serverless-agent-testkit sandbox --task-root DIR [--handler index.handler] [--extensions DIR]
      [--extension FILE]... [--invoke N] [--event JSON] [--memory MB] [--timeout MS] [--opt DIR] [--json]
`;

async function sandboxCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'task-root': { type: 'string' },
      handler: { type: 'string', default: 'index.handler' },
      extensions: { type: 'string' },
      extension: { type: 'string', multiple: true },
      invoke: { type: 'string', default: '1' },
      event: { type: 'string', default: '{}' },
      memory: { type: 'string' },
      timeout: { type: 'string' },
      opt: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (!values['task-root']) {
    process.stderr.write(USAGE);
    return 2;
  }
  const sandbox = new LambdaSandbox({
    taskRoot: resolve(values['task-root']),
    handler: values.handler,
    ...(values.extensions ? { extensionsDir: resolve(values.extensions) } : {}),
    ...(values.extension ? { extensions: values.extension.map((f) => resolve(f)) } : {}),
    ...(values.memory ? { memorySizeMB: Number(values.memory) } : {}),
    ...(values.timeout ? { timeoutMs: Number(values.timeout) } : {}),
    ...(values.opt ? { optDir: resolve(values.opt) } : {}),
    onLog: (l) => process.stderr.write(`[${l.name}] ${l.line}\n`),
  });
  const print = (label: string, value: unknown) =>
    process.stdout.write(
      values.json
        ? `${JSON.stringify({ [label]: value })}\n`
        : `${label}: ${JSON.stringify(value, null, 2)}\n`,
    );
  const stop = () => void sandbox.shutdown().then(() => process.exit(130));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  print('init', await sandbox.start());
  const event = JSON.parse(values.event);
  for (let i = 0; i < Number(values.invoke); i++) {
    const r = await sandbox.invoke(event);
    print('invoke', {
      status: r.status,
      errorType: r.errorType,
      response: r.response,
      error: r.error,
      record: r.record,
    });
  }
  print('shutdown', await sandbox.shutdown());
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'demo') {
    await runDemo({ out: process.stdout });
    return 0;
  }
  if (command === 'sandbox') return sandboxCommand(rest);
  if (command === 'intake') return runIntakeCommand(rest);
  process.stderr.write(USAGE);
  return command === undefined || command === '--help' || command === '-h' ? 0 : 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);

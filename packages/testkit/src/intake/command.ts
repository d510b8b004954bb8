// The intake as a command-line program: what the testkit CLI runs for `intake`. Kept here so the
// CLI only dispatches to it.
import { parseArgs } from 'node:util';
import { type DatadogIntake, formatRequest, type IntakeOptions, startIntake } from './intake.js';

export const INTAKE_USAGE = `usage: serverless-agent-testkit intake [--host 127.0.0.1] [--port 0] [--https] [--https-port 0]
    [--api-key KEY]... [--any-key] [--json]
Runs the fake Datadog intake until interrupted, printing where it listens and one line per request.`;

export interface IntakeCommandIo {
  /** Where lines go (default: process.stdout). */
  write?: (line: string) => void;
  /** Stops the intake when aborted (default: SIGINT / SIGTERM). */
  signal?: AbortSignal;
  /** Called once the intake listens (tests use it to reach the intake). */
  onStarted?: (intake: DatadogIntake) => void;
}

/** Parses the command's arguments into intake options; throws with the usage on a bad argument. */
export function intakeOptionsFromArgs(argv: readonly string[]): IntakeOptions & { json: boolean } {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      https: { type: 'boolean', default: false },
      'https-port': { type: 'string' },
      'api-key': { type: 'string', multiple: true },
      'any-key': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const port = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65_535)
      throw new Error(`--${name} must be a port number\n${INTAKE_USAGE}`);
    return n;
  };
  const opts: IntakeOptions & { json: boolean } = { json: values.json, https: values.https };
  if (values.host !== undefined) opts.host = values.host;
  const p = port('port', values.port);
  if (p !== undefined) opts.port = p;
  const hp = port('https-port', values['https-port']);
  if (hp !== undefined) opts.httpsPort = hp;
  if (values['any-key']) opts.apiKeys = 'any';
  else if (values['api-key']?.length) opts.apiKeys = values['api-key'];
  return opts;
}

/** Runs the intake until the signal aborts (or SIGINT/SIGTERM); resolves with an exit code. */
export async function runIntakeCommand(argv: readonly string[], io: IntakeCommandIo = {}): Promise<number> {
  const write = io.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  let options: ReturnType<typeof intakeOptionsFromArgs>;
  try {
    options = intakeOptionsFromArgs(argv);
  } catch (err) {
    write(
      (err as Error).message.includes('usage:')
        ? (err as Error).message
        : `${(err as Error).message}\n${INTAKE_USAGE}`,
    );
    return 2;
  }
  const { json, ...intakeOptions } = options;
  const intake = await startIntake(intakeOptions);
  const info = intake.describe();
  if (json) write(JSON.stringify({ listening: info }));
  else {
    write(
      `datadog intake on ${info.url}${info.httpsUrl ? ` and ${info.httpsUrl}` : ''} (API key ${info.apiKey})`,
    );
    if (info.httpsUrl) write(`trust this CA to reach it over HTTPS:\n${intake.ca.trimEnd()}`);
  }
  intake.onRequest((r) => {
    if (!json) return write(formatRequest(r));
    const { body: _body, decoded: _decoded, ...rest } = r;
    write(JSON.stringify({ request: rest }));
  });
  io.onStarted?.(intake);
  await new Promise<void>((resolve) => {
    if (io.signal) {
      if (io.signal.aborted) return resolve();
      io.signal.addEventListener('abort', () => resolve(), { once: true });
      return;
    }
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await intake.stop();
  return 0;
}

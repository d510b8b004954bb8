/**
 * How serverless-init reads its own argv: no argument selects sidecar mode; a single argument is
 * split on whitespace (no shell, quoting is not honoured, as Datadog's wrapper does); several
 * arguments are the command and its arguments as given.
 */
export type Mode =
  | { kind: 'init'; command: string; args: string[] }
  | { kind: 'sidecar' }
  | { kind: 'invalid'; reason: string };

export function parseMode(argv: readonly string[]): Mode {
  if (argv.length === 0) return { kind: 'sidecar' };
  const words = argv.length === 1 ? argv[0]!.split(/\s+/).filter((w) => w.length > 0) : [...argv];
  const [command, ...args] = words;
  if (command === undefined || command === '') {
    return { kind: 'invalid', reason: 'the command is empty: set CMD to the command to run' };
  }
  return { kind: 'init', command, args };
}

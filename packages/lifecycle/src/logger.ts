export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export const noopLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Says a thing once per key and stays quiet after, so bad input cannot flood the function's logs. */
export class OnceLogger {
  private readonly said = new Set<string>();
  constructor(private readonly logger: Logger) {}

  warn(key: string, msg: string): void {
    if (this.said.has(key)) return;
    this.said.add(key);
    this.logger.warn(msg);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

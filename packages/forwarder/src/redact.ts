import type { Logger } from './types.js';

/**
 * A logger that masks every secret it has been told about, so that an API key can reach no log line
 * whatever a message was built from (an error text, a URL, a header dump).
 */
export class RedactingLogger implements Logger {
  readonly #inner: Logger;
  readonly #secrets = new Set<string>();

  constructor(inner: Logger) {
    this.#inner = inner;
  }

  addSecret(secret: string | undefined): void {
    // Very short strings would mask ordinary words; no real key is that short.
    if (secret && secret.length >= 6) this.#secrets.add(secret);
  }

  redact(msg: string): string {
    let out = msg;
    for (const s of this.#secrets) out = out.split(s).join('***');
    return out;
  }

  debug(msg: string): void {
    this.#inner.debug(this.redact(msg));
  }
  info(msg: string): void {
    this.#inner.info(this.redact(msg));
  }
  warn(msg: string): void {
    this.#inner.warn(this.redact(msg));
  }
  error(msg: string): void {
    this.#inner.error(this.redact(msg));
  }
}

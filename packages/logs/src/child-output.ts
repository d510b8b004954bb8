import { StringDecoder } from 'node:string_decoder';
import { trimEnd } from './formats.js';
import { MAX_EVENT_BYTES } from './limits.js';
import type { LogStatus } from './types.js';

/** Where lines go: usually `LogPipeline.submit`. */
export type LineSink = (line: string, status: LogStatus) => void;

/**
 * A wrapped child's stdout and stderr as log lines: stdout is split on newlines (a partial line
 * waits for its newline, or for `end`), while each stderr write is kept whole so a stack trace
 * stays one event, as serverless-init does.
 */
export class ChildOutputLogs {
  private readonly outDecoder = new StringDecoder('utf8');
  private readonly errDecoder = new StringDecoder('utf8');
  private partial = '';

  constructor(
    private readonly sink: LineSink,
    private readonly maxLineLength = MAX_EVENT_BYTES,
  ) {}

  stdout(chunk: Uint8Array | string): void {
    const text =
      this.partial + (typeof chunk === 'string' ? chunk : this.outDecoder.write(Buffer.from(chunk)));
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      this.emitLine(text.slice(start, nl));
      start = nl + 1;
    }
    this.partial = start === 0 ? text : text.slice(start);
    // A line that never ends must not grow without bound: ship what we have (the encoder truncates).
    if (this.partial.length > this.maxLineLength) {
      this.emitLine(this.partial);
      this.partial = '';
    }
  }

  stderr(chunk: Uint8Array | string): void {
    const text = typeof chunk === 'string' ? chunk : this.errDecoder.write(Buffer.from(chunk));
    const msg = trimEnd(text);
    if (msg !== '') this.sink(msg, 'error');
  }

  /** The child exited: ships the unterminated stdout tail. */
  end(): void {
    const rest = this.partial + this.outDecoder.end();
    this.partial = '';
    if (rest !== '') this.emitLine(rest);
    const err = trimEnd(this.errDecoder.end());
    if (err !== '') this.sink(err, 'error');
  }

  private emitLine(line: string): void {
    const l = line.charCodeAt(line.length - 1) === 13 ? line.slice(0, -1) : line;
    if (l !== '') this.sink(l, 'info');
  }
}

/** The shared synchronous logger shape every package accepts. */
export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'off';

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, off: 4 };

/** DD_LOG_LEVEL as the Agent spells it (`trace` counts as debug, `critical` as error). */
export function parseLogLevel(value: string | undefined, fallback: LogLevel = 'warn'): LogLevel {
  switch ((value ?? '').trim().toLowerCase()) {
    case 'trace':
    case 'debug':
      return 'debug';
    case 'info':
      return 'info';
    case 'warn':
    case 'warning':
      return 'warn';
    case 'error':
    case 'critical':
      return 'error';
    case 'off':
      return 'off';
    default:
      return fallback;
  }
}

/**
 * Our own lines, on stderr, marked so they are told apart from the application's (and never shipped
 * as the application's logs: they do not pass through the child's pipes).
 */
export function stderrLogger(
  level: LogLevel,
  write: (line: string) => void = (l) => process.stderr.write(l),
): Logger {
  const min = RANK[level];
  const at = (l: Exclude<LogLevel, 'off'>, label: string) =>
    RANK[l] >= min ? (msg: string) => write(`datadog-init | ${label} | ${msg}\n`) : () => {};
  return {
    debug: at('debug', 'DEBUG'),
    info: at('info', 'INFO'),
    warn: at('warn', 'WARN'),
    error: at('error', 'ERROR'),
  };
}

export const noopLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

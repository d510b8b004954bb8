import type { LogStatus } from './types.js';

const LEVELS = new Map<string, LogStatus>(
  Object.entries({
    FATAL: 'critical',
    CRITICAL: 'critical',
    ERROR: 'error',
    ERR: 'error',
    WARN: 'warn',
    WARNING: 'warn',
    INFO: 'info',
    INFORMATION: 'info',
    DEBUG: 'debug',
    TRACE: 'trace',
    // .NET's short level names (`fail`, `crit`, ...) as its runtime writes them.
    FAIL: 'error',
    CRIT: 'critical',
    DBUG: 'debug',
    TRCE: 'trace',
  }) as [string, LogStatus][],
);

/** Maps a level name (`level`/`status` field or a runtime's marker) to a Datadog status; case-insensitive. */
export function statusFromLevel(level: unknown): LogStatus | undefined {
  if (typeof level !== 'string' || level.length === 0 || level.length > 11) return undefined;
  // The spellings runtimes and loggers write, compared as they are: a table lookup must hash the
  // (usually freshly sliced) string first, which costs more than these few comparisons.
  switch (level) {
    case 'INFO':
    case 'info':
      return 'info';
    case 'ERROR':
    case 'error':
      return 'error';
    case 'WARN':
    case 'warn':
    case 'WARNING':
    case 'warning':
      return 'warn';
    case 'DEBUG':
    case 'debug':
      return 'debug';
  }
  return LEVELS.get(level) ?? LEVELS.get(level.toUpperCase());
}

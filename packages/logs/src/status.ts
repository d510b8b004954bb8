import type { LogStatus } from './types.js';

const LEVELS: Record<string, LogStatus> = {
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
};

/** Maps a level name (`level`/`status` field or a runtime's marker) to a Datadog status; case-insensitive. */
export function statusFromLevel(level: unknown): LogStatus | undefined {
  if (typeof level !== 'string' || level.length === 0 || level.length > 11) return undefined;
  return LEVELS[level] ?? LEVELS[level.toUpperCase()];
}

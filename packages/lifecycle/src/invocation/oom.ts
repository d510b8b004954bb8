// The log-line OOM detector's patterns. The logs package scans lines; this is what it looks for.
export const OUT_OF_MEMORY_LOG_PATTERNS: readonly string[] = [
  'fatal error: runtime: out of memory',
  'java.lang.OutOfMemoryError',
  'JavaScript heap out of memory',
  'Runtime exited with error: signal: killed',
  'MemoryError',
  'failed to allocate memory (NoMemoryError)',
  'OutOfMemoryException',
];

export function isOutOfMemoryLogLine(line: string): boolean {
  return OUT_OF_MEMORY_LOG_PATTERNS.some((p) => line.includes(p));
}

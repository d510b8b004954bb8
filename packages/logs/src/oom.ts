/** The runtimes' out-of-memory lines, as the real extension matches them (substring, case-sensitive). */
export const OOM_PATTERNS: readonly string[] = [
  'fatal error: runtime: out of memory', // Go
  'java.lang.OutOfMemoryError', // Java
  'JavaScript heap out of memory', // Node
  'Runtime exited with error: signal: killed', // Node
  'MemoryError', // Python
  'failed to allocate memory (NoMemoryError)', // Ruby
  'OutOfMemoryException', // .NET
];

/** What the OOM hook reports; the app hands it to the lifecycle's detector, which dedupes per request. */
export interface OutOfMemoryReport {
  /** From the line's own request id, or the current invocation's; null when neither is known. */
  requestId: string | null;
  /** Unix milliseconds of the record. */
  timestamp: number;
  /** The pattern that matched. */
  pattern: string;
  line: string;
}

// Longest first, so a line reports the most specific pattern (Ruby's contains Python's).
const BY_LENGTH = [...OOM_PATTERNS].sort((a, b) => b.length - a.length);

// Past this length one regex pass over the text beats two substring searches (a quarter less time
// on 8 KiB stack traces); below it, the two searches are cheaper.
const LONG_LINE = 512;
const GATE = /mory|kill/;

/** Returns the OOM pattern a line contains, if any. */
export function findOutOfMemory(line: string): string | undefined {
  // Cheap gate: every pattern contains "mory" except the Node kill line, which has "kill"; a substring
  // search on a rare letter beats a regex alternation of the patterns trying each position.
  if (line.length >= LONG_LINE ? !GATE.test(line) : !line.includes('mory') && !line.includes('kill'))
    return undefined;
  for (const p of BY_LENGTH) if (line.includes(p)) return p;
  return undefined;
}

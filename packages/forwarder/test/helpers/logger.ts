import type { Logger } from '../../src/index.js';

export interface CapturedLogger extends Logger {
  lines: Array<{ level: string; msg: string }>;
  text(): string;
}

export function captureLogger(): CapturedLogger {
  const lines: Array<{ level: string; msg: string }> = [];
  const at = (level: string) => (msg: string) => {
    lines.push({ level, msg });
  };
  return {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    text: () => lines.map((l) => `${l.level}: ${l.msg}`).join('\n'),
  };
}

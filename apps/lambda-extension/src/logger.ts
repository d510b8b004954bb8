// The extension's own log lines, in the upstream format (`DD_EXTENSION | LEVEL | message`), written
// synchronously: Lambda freezes the process as soon as it is back on `next`, and lines still queued
// in a stream at that moment are lost or arrive an invocation late.
import { writeSync } from 'node:fs';

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'off';

const RANK: Record<LogLevel, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, off: 5 };

/** `DD_LOG_LEVEL` (any case; `warning` and `critical` as the Agent spells them); unknown → `info`. */
export function parseLogLevel(value: string | undefined): { level: LogLevel; invalid?: string } {
  if (value === undefined || value.trim() === '') return { level: 'info' };
  const v = value.trim().toLowerCase();
  if (v in RANK) return { level: v as LogLevel };
  if (v === 'warning') return { level: 'warn' };
  if (v === 'critical') return { level: 'error' };
  return { level: 'info', invalid: value };
}

export type LineWriter = (line: string) => void;

const stdoutWriter: LineWriter = (line) => {
  try {
    writeSync(1, line);
  } catch {
    // stdout closed or full (EAGAIN): a log line is never worth a crash.
  }
};

export function createLogger(level: LogLevel, write: LineWriter = stdoutWriter): Logger {
  const at = RANK[level];
  const emit = (lvl: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR', rank: number, msg: string) => {
    if (rank >= at) write(`DD_EXTENSION | ${lvl} | ${msg.replace(/\n/g, ' ')}\n`);
  };
  return {
    debug: (m) => emit('DEBUG', RANK.debug, m),
    info: (m) => emit('INFO', RANK.info, m),
    warn: (m) => emit('WARN', RANK.warn, m),
    error: (m) => emit('ERROR', RANK.error, m),
  };
}

/** Says a thing once per key (bad input repeats; the log should not). */
export function onceLogger(logger: Logger): (key: string, level: keyof Logger, msg: string) => void {
  const said = new Set<string>();
  return (key, level, msg) => {
    if (said.has(key)) return;
    said.add(key);
    logger[level](msg);
  };
}

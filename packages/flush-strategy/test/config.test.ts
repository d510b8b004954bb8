import { describe, expect, it } from 'vitest';
import {
  type FlushStrategy,
  formatStrategy,
  fromEnv,
  type Logger,
  parseFlushStrategy,
  parseFlushTimeout,
} from '../src/index.js';

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    debug: (m) => lines.push(`debug ${m}`),
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m) => lines.push(`error ${m}`),
  };
}

const DEFAULT: FlushStrategy = { kind: 'default' };

// What the extension's deserializer yields for each value: `end` only as the whole value, a
// case-sensitive first field with no trimming, a Rust u64 second field, further fields ignored.
const grammar: [string, FlushStrategy][] = [
  ['end', { kind: 'end' }],
  ['end,1000', { kind: 'end-periodically', intervalMs: 1000 }],
  ['periodically,60000', { kind: 'periodically', intervalMs: 60000 }],
  ['continuously,2000', { kind: 'continuously', intervalMs: 2000 }],
  // zero is a valid u64
  ['end,0', { kind: 'end-periodically', intervalMs: 0 }],
  ['periodically,0', { kind: 'periodically', intervalMs: 0 }],
  ['continuously,0', { kind: 'continuously', intervalMs: 0 }],
  // u64::from_str takes a leading '+' and leading zeros
  ['periodically,+5', { kind: 'periodically', intervalMs: 5 }],
  ['periodically,007', { kind: 'periodically', intervalMs: 7 }],
  ['periodically,18446744073709551615', { kind: 'periodically', intervalMs: Number(18446744073709551615n) }],
  // only the first two fields are read
  ['periodically,1000,extra', { kind: 'periodically', intervalMs: 1000 }],
  ['end,5,6', { kind: 'end-periodically', intervalMs: 5 }],
  // negative, non-numeric, out of range, empty
  ['periodically,-5', DEFAULT],
  ['end,-1', DEFAULT],
  ['continuously,-0', DEFAULT],
  ['periodically,abc', DEFAULT],
  ['periodically,1.5', DEFAULT],
  ['periodically,1e3', DEFAULT],
  ['periodically,0x10', DEFAULT],
  ['periodically,18446744073709551616', DEFAULT],
  ['periodically,+', DEFAULT],
  ['periodically,', DEFAULT],
  ['periodically', DEFAULT],
  ['continuously', DEFAULT],
  ['end,', DEFAULT],
  [',1000', DEFAULT],
  // spaces are not trimmed
  [' end', DEFAULT],
  ['end ', DEFAULT],
  ['periodically, 1000', DEFAULT],
  ['periodically,1000 ', DEFAULT],
  [' periodically,1000', DEFAULT],
  ['periodically ,1000', DEFAULT],
  // case matters
  ['END', DEFAULT],
  ['End', DEFAULT],
  ['End,1000', DEFAULT],
  ['Periodically,1000', DEFAULT],
  ['CONTINUOUSLY,1000', DEFAULT],
  // other words
  ['default', DEFAULT],
  ['periodic,1000', DEFAULT],
  ['continuous,1000', DEFAULT],
  ['never', DEFAULT],
  ['end;1000', DEFAULT],
];

describe('DD_SERVERLESS_FLUSH_STRATEGY grammar', () => {
  it.each(grammar)('%j → %j', (value, expected) => {
    const parsed = parseFlushStrategy(value);
    expect(parsed.ok ? parsed.value : DEFAULT).toEqual(expected);
    const logger = recordingLogger();
    expect(fromEnv({ DD_SERVERLESS_FLUSH_STRATEGY: value }, logger).strategy).toEqual(expected);
    // a value that falls back to the default warns exactly once (asking for `default` does not warn)
    expect(logger.lines.filter((l) => l.startsWith('warn'))).toHaveLength(
      parsed.ok || value === 'default' ? 0 : 1,
    );
  });

  it('unset or empty is the default, without a warning', () => {
    for (const env of [{}, { DD_SERVERLESS_FLUSH_STRATEGY: '' }]) {
      const logger = recordingLogger();
      expect(fromEnv(env, logger)).toEqual({ strategy: DEFAULT, flushTimeoutS: 30, managedInstances: false });
      expect(logger.lines).toEqual([]);
    }
  });

  it('bounds what it echoes of a garbage value', () => {
    const logger = recordingLogger();
    fromEnv({ DD_SERVERLESS_FLUSH_STRATEGY: 'x'.repeat(10_000) }, logger);
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]!.length).toBeLessThan(300);
  });
});

describe('DD_FLUSH_TIMEOUT', () => {
  const cases: [string, number, boolean][] = [
    ['30', 30, false],
    ['5', 5, false],
    ['0', 0, false],
    ['+7', 7, false],
    ['-1', 30, true],
    ['1.5', 30, true],
    ['abc', 30, true],
    [' 5', 30, true],
  ];
  it.each(cases)('%j → %d s', (value, seconds, warns) => {
    expect(parseFlushTimeout(value).ok).toBe(!warns);
    const logger = recordingLogger();
    expect(fromEnv({ DD_FLUSH_TIMEOUT: value }, logger).flushTimeoutS).toBe(seconds);
    expect(logger.lines.filter((l) => l.startsWith('warn'))).toHaveLength(warns ? 1 : 0);
  });
});

describe('platform modes', () => {
  const managed = { AWS_LAMBDA_INITIALIZATION_TYPE: 'lambda-managed-instances' };

  it('managed instances flush continuously every 30 s by default', () => {
    const logger = recordingLogger();
    expect(fromEnv(managed, logger)).toEqual({
      strategy: { kind: 'timer', intervalMs: 30_000 },
      flushTimeoutS: 30,
      managedInstances: true,
    });
    expect(logger.lines).toEqual([]);
  });

  it('managed instances keep a user continuously,N', () => {
    const logger = recordingLogger();
    const config = fromEnv({ ...managed, DD_SERVERLESS_FLUSH_STRATEGY: 'continuously,5000' }, logger);
    expect(config.strategy).toEqual({ kind: 'timer', intervalMs: 5000 });
    expect(logger.lines).toEqual([]);
  });

  it.each(['end', 'end,1000', 'periodically,1000'])(
    'managed instances override %s with a warning',
    (value) => {
      const logger = recordingLogger();
      const config = fromEnv({ ...managed, DD_SERVERLESS_FLUSH_STRATEGY: value }, logger);
      expect(config.strategy).toEqual({ kind: 'timer', intervalMs: 30_000 });
      expect(logger.lines.filter((l) => l.startsWith('warn'))).toHaveLength(1);
    },
  );

  it('other initialization types are on-demand', () => {
    for (const type of ['on-demand', 'provisioned-concurrency', 'snap-start']) {
      expect(fromEnv({ AWS_LAMBDA_INITIALIZATION_TYPE: type }).managedInstances).toBe(false);
    }
  });

  it('serverless-init flushes every 3 s, 5 s for the last flush, and reads neither variable', () => {
    const logger = recordingLogger();
    const config = fromEnv({ DD_SERVERLESS_FLUSH_STRATEGY: 'end', DD_FLUSH_TIMEOUT: 'junk' }, logger, {
      platform: 'serverless-init',
    });
    expect(config).toEqual({
      strategy: { kind: 'timer', intervalMs: 3000 },
      flushTimeoutS: 5,
      managedInstances: false,
    });
    expect(logger.lines).toEqual([]);
  });
});

describe('formatStrategy', () => {
  it('writes what the grammar reads back', () => {
    const all: FlushStrategy[] = [
      { kind: 'end' },
      { kind: 'end-periodically', intervalMs: 1000 },
      { kind: 'periodically', intervalMs: 0 },
      { kind: 'continuously', intervalMs: 30_000 },
    ];
    for (const s of all) expect(parseFlushStrategy(formatStrategy(s))).toEqual({ ok: true, value: s });
    expect(formatStrategy({ kind: 'default' })).toBe('default');
    expect(formatStrategy({ kind: 'timer', intervalMs: 3000 })).toBe('timer,3000');
  });
});

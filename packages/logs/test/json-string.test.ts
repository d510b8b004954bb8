import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRules, LambdaLogs } from '../src/index.js';
import { quoteJson } from '../src/json-string.js';
import { decodeAll } from './helpers/intake-schema.js';
import { ARN, fn } from './helpers/telemetry.js';

// quoteJson takes its own path from 1024 characters on: every case is tried on both sides of it.
const LONG = 1024;
const FRAME = '    at Object.handler (/var/task/index.js:12:34)\n';

/** `s` padded with plain text to `length` characters, the padding before or after it. */
function padded(s: string, length: number, before: boolean): string {
  const pad = 'p'.repeat(Math.max(0, length - s.length));
  return before ? pad + s : s + pad;
}

const CONTROL = Array.from({ length: 0x20 }, (_, c) => String.fromCharCode(c)).join('');
const TRICKY = [
  '',
  'plain text',
  '"',
  '\\',
  '\\"',
  '"\\',
  '\n',
  '\r\n',
  '\t',
  CONTROL,
  '\u007f',
  'caf\u00e9',
  '\u2028\u2029',
  '\u2713 \ufffd',
  'pair \ud83d\ude00',
  '\ud83d', // lone high surrogate
  '\ude00', // lone low surrogate
  '\ude00\ud83d', // a pair in the wrong order
  '\\u0041', // text that looks like an escape
];

describe('quoteJson', () => {
  it('is JSON.stringify for every tricky text, short and long, at either end of the text', () => {
    for (const s of TRICKY) {
      for (const length of [0, LONG - 1, LONG, LONG + 1, 3 * LONG]) {
        for (const before of [false, true]) {
          const text = padded(s, length, before);
          expect(quoteJson(text)).toBe(JSON.stringify(text));
        }
      }
    }
  });

  it('is JSON.stringify for long text with no escape, sparse escapes and dense ones', () => {
    const cases = [
      'x'.repeat(7800),
      `2024-05-01T12:00:00.431Z\tr-1\tERROR\tError: failed\n${FRAME.repeat(100)}`,
      JSON.stringify({ rows: Array.from({ length: 200 }, (_, i) => ({ id: i, name: `n${i}` })) }),
      '"'.repeat(LONG),
      '\u0001'.repeat(2 * LONG),
      `${'\n'.repeat(20)}${'y'.repeat(LONG)}`,
      `${'y'.repeat(LONG)}${'\\'.repeat(40)}`,
      '\u00e9\u2713\ud83d\ude00'.repeat(LONG),
      `${'\u00e9'.repeat(LONG)}\ud800`,
    ];
    for (const s of cases) expect(quoteJson(s)).toBe(JSON.stringify(s));
  });

  it('is JSON.stringify for arbitrary text (property)', () => {
    const piece = fc.oneof(
      fc.constantFrom(...TRICKY),
      fc.string({ unit: 'binary', maxLength: 8 }),
      fc.string({ unit: 'binary-ascii', maxLength: 8 }),
      fc.integer({ min: 1, max: 900 }).map((n) => 'a'.repeat(n)),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 60 }), (pieces) => {
        const s = pieces.join('');
        expect(quoteJson(s)).toBe(JSON.stringify(s));
      }),
      { numRuns: 400 },
    );
  });
});

describe('long messages through the pipeline', () => {
  function payloads(records: unknown[], rules: ReturnType<typeof compileRules> = []) {
    const logs = new LambdaLogs({ functionArn: ARN, rules });
    logs.ingest({ time: '2024-05-01T12:00:00.000Z', type: 'platform.start', record: { requestId: 'r-1' } });
    logs.ingest(records.map((r) => fn(r, '2024-05-01T12:00:00.431Z')));
    return logs.flush();
  }
  function ship(records: unknown[], rules: ReturnType<typeof compileRules> = []): string {
    return Buffer.concat(payloads(records, rules).map((p) => p.body)).toString();
  }

  const trace = `2024-05-01T12:00:00.431Z\tr-1\tERROR\tError: "bad" \\ input \u00e9\u2713\ud83d\ude00\u0007\n${FRAME.repeat(60)}`;
  const lone = `${'z'.repeat(2 * LONG)}\ud83d tail`;
  const ascii = `2024-05-01T12:00:00.431Z\tr-1\tERROR\t"quoted" \\path\\ \u0000\u001f\b\f\r\n${FRAME.repeat(60)}`;

  it('ships long text lines and long JSON values exactly, with rules or without', () => {
    const records = [trace, lone, ascii, { level: 'ERROR', message: lone, body: ascii }];
    const never = compileRules([{ type: 'exclude_at_match', name: 'never', pattern: 'NEVER_MATCHES' }]);
    const plain = ship(records);
    expect(ship(records, never)).toBe(plain);
    const events = decodeAll(payloads(records));
    expect(events.map((e) => e.message)).toEqual([
      'START RequestId: r-1 Version: $LATEST',
      trace.slice(0, -1),
      lone,
      ascii.slice(0, -1),
      lone,
    ]);
    // The lone surrogate travels as its escape, as JSON.stringify writes it.
    expect(plain).toContain('\\ud83d tail');
    expect(JSON.parse(plain)[4].message.body).toBe(ascii);
  });

  it("matches a text line's rules on the raw text and a JSON record's on its JSON, escapes included", () => {
    // A real line break in the pattern: present in a text line, escaped (`\n`) in a JSON record's text.
    const realBreak = compileRules([{ type: 'exclude_at_match', name: 'break', pattern: 'failed\n    at' }]);
    const line = `2024-05-01T12:00:00.431Z\tr-1\tERROR\tfailed\n${FRAME.repeat(40)}`;
    const record = { level: 'ERROR', message: 'boom', stack: `failed\n${FRAME.repeat(40)}` };
    expect(ship([line], realBreak)).not.toContain('failed');
    expect(ship([record], realBreak)).toContain('boom');
    // The escaped form (`\n` as backslash and n) is what a JSON record's rules see.
    const escapedBreak = compileRules([
      { type: 'exclude_at_match', name: 'escaped', pattern: 'failed\\\\n    at' },
    ]);
    expect(ship([record], escapedBreak)).not.toContain('boom');
    expect(ship([line], escapedBreak)).toContain('failed');
    // A mask over a quoted value in a long record: the masked JSON is read back as the event.
    const mask = compileRules([
      {
        type: 'mask_sequences',
        name: 'token',
        pattern: '\\\\"token\\\\": \\\\"[a-z]+\\\\"',
        replace_placeholder: '\\"token\\": \\"***\\"',
      },
    ]);
    const withToken = { level: 'INFO', message: `{"token": "secret"} ${'q'.repeat(2 * LONG)}` };
    const [, event] = JSON.parse(ship([withToken], mask));
    expect(event.message.message).toBe(`{"token": "***"} ${'q'.repeat(2 * LONG)}`);
  });
});

import { describe, expect, it } from 'vitest';
import {
  applyRules,
  compileRules,
  fromEnv,
  LambdaLogs,
  type Logger,
  parseProcessingRules,
} from '../src/index.js';
import { decodeAll } from './helpers/intake-schema.js';
import { ARN, fn, invocation } from './helpers/telemetry.js';

function recorder(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    debug: (m) => lines.push(`debug ${m}`),
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m) => lines.push(`error ${m}`),
  };
}

describe('processing rules', () => {
  it('exclude_at_match drops matching logs', () => {
    const rules = parseProcessingRules(
      '[{"type":"exclude_at_match","name":"no_health","pattern":"GET /health"}]',
    );
    expect(applyRules(rules, 'GET /health 200')).toBeNull();
    expect(applyRules(rules, 'GET /orders 200')).toBe('GET /orders 200');
  });

  it('include_at_match keeps only matching logs', () => {
    const rules = parseProcessingRules(
      '[{"type":"include_at_match","name":"only_users","pattern":"user_id=\\\\d+"}]',
    );
    expect(applyRules(rules, 'login user_id=42')).toBe('login user_id=42');
    expect(applyRules(rules, 'anonymous visit')).toBeNull();
  });

  it('mask_sequences replaces every match, with capture groups as RE2 writes them', () => {
    const rules = parseProcessingRules(
      JSON.stringify([
        {
          type: 'mask_sequences',
          name: 'mask_cards',
          pattern: '(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14})',
          replace_placeholder: '[masked_card]',
        },
        {
          type: 'mask_sequences',
          name: 'mask_key',
          pattern: '(api_key=)\\w+',
          // biome-ignore lint/suspicious/noTemplateCurlyInString: an RE2 group reference, not a template
          replace_placeholder: '${1}[redacted]',
        },
        {
          type: 'mask_sequences',
          name: 'named',
          pattern: '(?P<user>\\w+)@example\\.com',
          replace_placeholder: '$user@…',
        },
        { type: 'mask_sequences', name: 'dollars', pattern: 'EUR', replace_placeholder: '$$' },
        { type: 'mask_sequences', name: 'empty', pattern: 'secret' },
      ]),
    );
    expect(rules).toHaveLength(5);
    expect(
      applyRules(
        rules,
        'cards 4111111111111111 and 5500000000000004; api_key=abc123 bob@example.com 5 EUR secret!',
      ),
    ).toBe('cards [masked_card] and [masked_card]; api_key=[redacted] bob@… 5 $ !');
  });

  it('applies rules in their order: a mask before an exclude changes what the exclude sees', () => {
    const maskThenExclude = compileRules([
      { type: 'mask_sequences', name: 'm', pattern: 'token=\\S+', replace_placeholder: 'token=XXX' },
      { type: 'exclude_at_match', name: 'e', pattern: 'token=abc' },
    ]);
    const excludeThenMask = compileRules([
      { type: 'exclude_at_match', name: 'e', pattern: 'token=abc' },
      { type: 'mask_sequences', name: 'm', pattern: 'token=\\S+', replace_placeholder: 'token=XXX' },
    ]);
    expect(applyRules(maskThenExclude, 'call token=abc')).toBe('call token=XXX');
    expect(applyRules(excludeThenMask, 'call token=abc')).toBeNull();
    // include after a mask sees the masked text
    const maskThenInclude = compileRules([
      { type: 'mask_sequences', name: 'm', pattern: '\\d', replace_placeholder: '#' },
      { type: 'include_at_match', name: 'i', pattern: '\\d' },
    ]);
    expect(applyRules(maskThenInclude, 'order 42')).toBeNull();
  });

  it('accepts the RE2 inline flags and escapes users copy from the docs', () => {
    const rules = compileRules([
      { type: 'exclude_at_match', name: 'ci', pattern: '(?i)^debug' },
      { type: 'exclude_at_match', name: 'esc', pattern: 'a\\-b\\:c' },
      { type: 'exclude_at_match', name: 'anchors', pattern: '\\Aexact\\z' },
    ]);
    expect(rules).toHaveLength(3);
    expect(applyRules(rules, 'DEBUG: x')).toBeNull();
    expect(applyRules(rules, 'x a-b:c')).toBeNull();
    expect(applyRules(rules, 'exact')).toBeNull();
    expect(applyRules(rules, 'not exact here')).toBe('not exact here');
  });

  it('reports each invalid rule once, clearly, and keeps the valid ones', () => {
    const log = recorder();
    const rules = compileRules(
      [
        { type: 'exclude_at_match', name: 'bad_regex', pattern: '([a-z' },
        { type: 'exclude_at_match', pattern: 'x' },
        { type: 'drop_everything', name: 'unknown', pattern: 'x' },
        { type: 'mask_sequences', name: 'no_pattern' },
        { name: 'no_type', pattern: 'x' },
        { type: 'mask_sequences', name: 'bad_placeholder', pattern: 'x', replace_placeholder: 5 },
        'not an object',
        { type: 'exclude_at_match', name: 'good', pattern: 'noise' },
      ],
      log,
    );
    expect(rules.map((r) => r.name)).toEqual(['good']);
    expect(log.lines).toHaveLength(7);
    expect(log.lines.every((l) => l.startsWith('error logs: processing rule'))).toBe(true);
    expect(log.lines[0]).toContain('"bad_regex": invalid pattern "([a-z"');
    expect(log.lines[1]).toContain('#1 (unnamed): every rule needs a "name"');
    expect(log.lines[2]).toContain('type "drop_everything" is not supported');
    expect(log.lines[3]).toContain('"no_pattern": no "pattern" given');
    expect(log.lines[4]).toContain('"no_type": "type" must be set');
  });

  it('ignores rules that are not valid JSON, with one error, and logs keep flowing', () => {
    const log = recorder();
    const cfg = fromEnv({ DD_LOGS_CONFIG_PROCESSING_RULES: '[{"type":"exclude_at_match",' }, log);
    expect(cfg.rules).toEqual([]);
    expect(log.lines).toHaveLength(1);
    expect(log.lines[0]).toMatch(/^error logs: DD_LOGS_CONFIG_PROCESSING_RULES is not valid JSON/);
    const notArray = recorder();
    expect(
      fromEnv({ DD_LOGS_CONFIG_PROCESSING_RULES: '{"type":"exclude_at_match"}' }, notArray).rules,
    ).toEqual([]);
    expect(notArray.lines).toHaveLength(1);

    const logs = new LambdaLogs({ functionArn: ARN, rules: cfg.rules });
    logs.ingest(invocation('r-1', ['still shipped\n']));
    expect(decodeAll(logs.flush()).map((e) => e.message)).toContain('still shipped');
  });

  it('filters platform lines too: the START/END/REPORT exclusion users write (issue #521)', () => {
    const { rules } = fromEnv({
      DD_LOGS_CONFIG_PROCESSING_RULES:
        '[{"type":"exclude_at_match","name":"exclude_lambda_metadata","pattern":"^(START|END|INIT|REPORT).*"}]',
    });
    const logs = new LambdaLogs({ functionArn: ARN, rules });
    logs.ingest(invocation('r-2', ['2024-05-01T12:00:00.431Z\tr-2\tINFO\tuser line\n']));
    const events = decodeAll(logs.flush());
    expect(events.map((e) => e.message)).toEqual(['2024-05-01T12:00:00.431Z\tr-2\tINFO\tuser line']);
    expect(logs.stats().excluded).toBe(3);
  });

  it('masks JSON records before they are parsed, so attributes are masked too', () => {
    const rules = compileRules([
      { type: 'mask_sequences', name: 'email', pattern: '[\\w.]+@[\\w.]+', replace_placeholder: '<email>' },
      { type: 'exclude_at_match', name: 'drop_debug', pattern: '"level":"DEBUG"' },
    ]);
    const logs = new LambdaLogs({ functionArn: ARN, rules });
    logs.ingest([
      fn({ level: 'INFO', requestId: 'r-3', message: 'signup', email: 'ann@example.com' }),
      fn({ level: 'DEBUG', requestId: 'r-3', message: 'noise' }),
      fn({ level: 'WARN', requestId: 'r-3', message: 'plain' }),
    ]);
    const events = decodeAll(logs.flush());
    expect(events.map((e) => [e.message, e.status, e.attributes['email']])).toEqual([
      ['signup', 'info', '<email>'],
      ['plain', 'warn', undefined],
    ]);
  });
  it('ships a JSON record as without rules when none matches, small or with a long value, and masks both', () => {
    const noMatch = compileRules([
      {
        type: 'mask_sequences',
        name: 'cards',
        pattern: '\\b4[0-9]{12}(?:[0-9]{3})?\\b',
        replace_placeholder: '[card]',
      },
    ]);
    const records = [
      { level: 'INFO', requestId: 'r-4', message: 'cart updated', items: 3, nested: { a: [1, 'b'] } },
      { level: 'ERROR', requestId: 'r-4', message: 'upstream failed', body: 'x'.repeat(300), code: 502 },
    ];
    const shipped = (rules: ReturnType<typeof compileRules>, recs: unknown[]) => {
      const logs = new LambdaLogs({ functionArn: ARN, rules });
      logs.ingest(recs.map((r) => fn(r, '2024-05-01T12:00:00.431Z')));
      return decodeAll(logs.flush());
    };
    expect(shipped(noMatch, records)).toEqual(shipped([], records));
    const events = shipped(noMatch, [
      { ...records[0], card: '4111111111111111' },
      { ...records[1], card: '4111111111111111' },
    ]);
    expect(
      events.map((e) => [e.message, e.attributes['card'], e.attributes['items'] ?? e.attributes['code']]),
    ).toEqual([
      ['cart updated', '[card]', 3],
      ['upstream failed', '[card]', 502],
    ]);
  });
});

describe('the \\b<literal> pre-check', () => {
  it('finds the literal that starts every match, or none when it is not required', async () => {
    const { leadingLiteral } = await import('../src/rules.js');
    expect(leadingLiteral(String.raw`\b4[0-9]{12}(?:[0-9]{3})?\b`, 'u')).toBe('4');
    expect(leadingLiteral(String.raw`\bapi_key=\w+`, 'u')).toBe('api_key=');
    expect(leadingLiteral(String.raw`\bab?c`, 'u')).toBe('a');
    expect(leadingLiteral(String.raw`\ba+b`, 'u')).toBe('a');
    expect(leadingLiteral(String.raw`\b\-x`, '')).toBe('-x');
    expect(leadingLiteral(String.raw`\ba*b`, 'u')).toBeUndefined();
    expect(leadingLiteral(String.raw`\ba{0,2}b`, 'u')).toBeUndefined();
    expect(leadingLiteral(String.raw`\b4x|y`, 'u')).toBeUndefined();
    expect(leadingLiteral(String.raw`\b4(x|y)`, 'u')).toBeUndefined();
    expect(leadingLiteral(String.raw`\b\d{3}`, 'u')).toBeUndefined();
    expect(leadingLiteral(String.raw`\b4x`, 'iu')).toBeUndefined();
    expect(leadingLiteral('4x', 'u')).toBeUndefined();
    expect(leadingLiteral(String.raw`(api_key=)\w+`, 'u')).toBe('api_key=');
    expect(leadingLiteral(String.raw`(?:key=)\w+`, 'u')).toBe('key=');
    expect(leadingLiteral(String.raw`(?<k>key=)\w+`, 'u')).toBe('key=');
    expect(leadingLiteral(String.raw`(key=)?\w+`, 'u')).toBeUndefined();
    expect(leadingLiteral('(?:ab)*c', 'u')).toBeUndefined();
    expect(leadingLiteral('(a|b)c', 'u')).toBeUndefined();
    expect(leadingLiteral('(?=x)x', 'u')).toBeUndefined();
    expect(leadingLiteral('(?<=x)y', 'u')).toBeUndefined();
    expect(leadingLiteral('(?<!x)y', 'u')).toBeUndefined();
  });

  it('searches a literal from its least frequent character', async () => {
    const { rarestOffset } = await import('../src/rules.js');
    expect(rarestOffset('api_key=')).toBe(7);
    expect(rarestOffset('GET /healthz')).toBe(0);
    expect(rarestOffset('4')).toBe(0);
    expect(rarestOffset('user@host')).toBe(4);
    expect(rarestOffset('ab')).toBe(1);
  });

  it('knows a pattern of plain text, which matches where indexOf finds it', async () => {
    const { wholeLiteral } = await import('../src/rules.js');
    expect(wholeLiteral(String.raw`GET \/healthz`, 'u')).toBe('GET /healthz');
    expect(wholeLiteral(String.raw`a\.b\-c`, '')).toBe('a.b-c');
    expect(wholeLiteral('a.b', 'u')).toBeUndefined();
    expect(wholeLiteral('ab?', 'u')).toBeUndefined();
    expect(wholeLiteral(String.raw`a\d`, 'u')).toBeUndefined();
    expect(wholeLiteral('^ab', 'u')).toBeUndefined();
    expect(wholeLiteral('ab', 'iu')).toBeUndefined();
  });

  it('gives exactly what the plain regex gives', () => {
    const patterns = [
      String.raw`\b4[0-9]{12}(?:[0-9]{3})?\b`,
      String.raw`\bkey=\w+`,
      String.raw`\bab?c`,
      String.raw`\ba+b\b`,
      String.raw`\b4[xy]z`,
      String.raw`\b-key=\w+`,
      String.raw`(key=)\w+`,
      String.raw`(api_key=)\w+`,
      String.raw`\bapi_key=\w+`,
      String.raw`x\=\=y`,
      '(?<k>ab?c)d',
      'GET /healthz',
      String.raw`a\.b`,
    ];
    const inputs = [
      '',
      '4111111111111111',
      'card 4111111111111 and 4222222222222222!',
      'x4111111111111111 no boundary',
      'key=1 akey=2 key=',
      'ac abc abbc a',
      'aab ab b a ab_',
      '4xz 4yz 44xz x4yz',
      '2024-05-01T12:00:00.431Z\t6d68ca91-49c9-448d-89b8-7ca3e6dc66aa\tINFO\torder 4 of 14',
      'é4111111111111 ✓ 4111111111111 😀',
      '_4111111111111 -4111111111111 a.4111111111111',
      'akey=1 _key=2 -key=3 key=4 a-key=5',
      `${'x'.repeat(600)} 4111111111111111 key=1 abcd 4xz a-key=2`,
      `${'y4 _4 -4 '.repeat(100)}4111111111111 acd`,
      `${'z'.repeat(600)} 41111 ke y= ab`,
      'GET /healthz 200 GET /health a.b axb',
      'api_key=1 api_key= pi_key=2 api_key api_key==3 aapi_key=4 _api_key=5',
      `${'a='.repeat(400)}api_key=abc x==y x=y =x==y`,
      '=api_key=a==x==y=',
      'get /healthz',
    ];
    for (const pattern of patterns) {
      const compiled = compileRules([
        { type: 'exclude_at_match', name: 'e', pattern },
        { type: 'include_at_match', name: 'i', pattern },
        { type: 'mask_sequences', name: 'm', pattern, replace_placeholder: '<$0>' },
        { type: 'mask_sequences', name: 'l', pattern, replace_placeholder: '#' },
      ]);
      expect(compiled.every((r) => r.lead !== undefined)).toBe(true);
      for (const input of inputs) {
        const plain = compiled.map((r) => ({
          ...r,
          lead: undefined,
          stickyRegex: undefined,
          anchor: undefined,
        }));
        for (let k = 0; k < compiled.length; k++) {
          expect(applyRules([compiled[k]!], input), `${pattern} ${compiled[k]!.type} on ${input}`).toBe(
            applyRules([plain[k]!], input),
          );
        }
      }
    }
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MetricType } from '../src/index.js';
import { collect, fixtureDatagrams } from './helpers.js';

describe('metric lines', () => {
  it('parses every type symbol', () => {
    const r = collect('a:1|c\nb:2|g\nc:3|h\nd:4|ms\ne:5|d\nf:x|s');
    expect(r.invalid).toEqual([]);
    expect(r.metrics.map((m) => [m.name, m.type])).toEqual([
      ['a', MetricType.Count],
      ['b', MetricType.Gauge],
      ['c', MetricType.Histogram],
      ['d', MetricType.Timing],
      ['e', MetricType.Distribution],
      ['f', MetricType.Set],
    ]);
    expect(r.metrics[5]!.raw).toBe('x');
  });

  it('reads optional fields in any order and ignores unknown ones', () => {
    const [m] = collect(
      'n:1.5|c|#a:b,c|@0.25|T1700000000|c:ci-abc|e:it-false,cn-x|card:high|x:unknown',
    ).metrics;
    expect(m).toMatchObject({
      name: 'n',
      values: [1.5],
      sampleRate: 0.25,
      tags: 'a:b,c',
      timestamp: 1700000000,
    });
    const [m2] = collect('n:1|d|T1700000001|@0.5|#z').metrics;
    expect(m2).toMatchObject({ sampleRate: 0.5, tags: 'z', timestamp: 1700000001 });
  });

  it('splits packed values, skipping empty items; sets keep the raw member', () => {
    expect(collect('n:1:2::3|d').metrics[0]!.values).toEqual([1, 2, 3]);
    expect(collect('n:a:b|s').metrics[0]!.raw).toBe('a:b');
    expect(collect('n:1:x|d').invalid[0]!.reason).toBe('invalid metric value');
    expect(collect('n::|d').invalid[0]!.reason).toBe('empty metric value');
  });

  it('keeps a tag value that contains colons', () => {
    expect(collect('n:1|c|#url:http://x:80/a').metrics[0]!.tags).toBe('url:http://x:80/a');
  });

  it('accepts numbers as the agent does and rejects the rest', () => {
    const ok = ['0', '-2', '+3', '1.5', '.5', '5.', '1e3', '-1.5E-3', '123456789012345678'];
    for (const v of ok) expect(collect(`n:${v}|g`).metrics[0]!.values[0]).toBe(Number(v));
    for (const v of ['abc', '1.2.3', '0x10', 'NaN', 'Infinity', ' 1', '1 ', '-', 'e5', '1e', '1e999']) {
      expect(collect(`n:${v}|g`).invalid.length, v).toBe(1);
    }
  });

  it('reads every plain decimal exactly as Number() rounds it, short or long', () => {
    const digits = fc.stringMatching(/^[0-9]{0,20}$/);
    fc.assert(
      fc.property(fc.constantFrom('', '-', '+'), digits, fc.option(digits), (sign, int, frac) => {
        const v = `${sign}${int}${frac === null ? '' : `.${frac}`}`;
        const m = collect(`n:${v}|d\nm:${v}:${v}|d`).metrics;
        if (int === '' && (frac === null || frac === '')) {
          expect(m.length, v).toBe(0);
          return;
        }
        expect(m[0]!.values, v).toEqual([Number(v)]);
        expect(m[1]!.values, v).toEqual([Number(v), Number(v)]);
      }),
      { numRuns: 2000 },
    );
  });

  it('handles several lines, CRLF, empty lines and a trailing newline', () => {
    const r = collect('a:1|c\r\n\n\nb:2|c\n');
    expect(r.metrics.map((m) => m.name)).toEqual(['a', 'b']);
    expect(r.lines).toBe(2);
  });

  it('rejects a carriage return inside a line, keeps the next line', () => {
    const r = collect('a:1|c|#x\ry\nb:1|c\r\n_m:1|c\rz\n_n:2|g\r');
    expect(r.metrics.map((m) => m.name)).toEqual(['b', '_n']);
    expect(r.invalid.map((i) => i.reason)).toEqual([
      'carriage return inside the line',
      'carriage return inside the line',
    ]);
  });

  it('skips a bad line and keeps the rest of the datagram', () => {
    const r = collect('good:1|c\nbad\nno_value:|c\n:1|c\nx:1|zz\ny:1|c|@nope\nz:1|c|T0\nalso.good:2|g');
    expect(r.metrics.map((m) => m.name)).toEqual(['good', 'also.good']);
    expect(r.invalid.map((i) => i.reason)).toEqual([
      'missing |',
      'empty metric value',
      'empty metric name',
      'invalid metric type',
      'invalid sample rate',
      'invalid timestamp',
    ]);
  });

  it('rounds a fractional timestamp to the nearest second', () => {
    const r = collect('a:1|d|T1700000000.4\nb:1|d|T1700000000.5\nc:1|d|T1700000000.7');
    expect(r.metrics.map((m) => m.timestamp)).toEqual([1700000000, 1700000001, 1700000001]);
  });

  it('decodes UTF-8 names and tags', () => {
    const [m] = collect('métrique.ü:1|c|#clé:värde').metrics;
    expect(m).toMatchObject({ name: 'métrique.ü', tags: 'clé:värde' });
  });
});

describe('events', () => {
  it('parses title and text by byte length, unescapes \\n and reads optional fields', () => {
    const r = collect('_e{6,14}:tïtle|my text\\nline2|d:1700000000|h:web1|k:agg|p:low|s:src|t:error|#a:b,c');
    expect(r.invalid).toEqual([]);
    expect(r.events[0]).toEqual({
      title: 'tïtle',
      text: 'my text\nline2',
      timestamp: 1700000000,
      host: 'web1',
      aggregationKey: 'agg',
      priority: 'low',
      sourceTypeName: 'src',
      alertType: 'error',
      tags: ['a:b', 'c'],
    });
  });

  it('defaults priority and alert type, keeps the event when an optional value is bad', () => {
    const [e] = collect('_e{1,0}:t||p:urgent|t:bad|d:x').events;
    expect(e).toMatchObject({ title: 't', text: '', priority: 'normal', alertType: 'info', timestamp: 0 });
  });

  it('rejects malformed headers and short bodies', () => {
    for (const bad of ['_e{0,1}:|x', '_e{1}:t|x', '_e{5,5}:short|x', '_e{a,b}:t|x', '_e{1,1}:tx']) {
      expect(collect(bad).invalid.length, bad).toBe(1);
    }
  });
});

describe('events, sliced by their lengths as the agent does', () => {
  it('does not check the separators around title and text', () => {
    const r = collect('_e{1,1]:tXy\n_e{+1,2}:t|xyZd:1700000000|h:web');
    expect(r.invalid).toEqual([]);
    expect(r.events.map((e) => [e.title, e.text, e.timestamp, e.host])).toEqual([
      ['t', 'y', 0, ''],
      // The byte after the text starts the first optional field: `Zd:…` is no timestamp.
      ['t', 'xy', 0, 'web'],
    ]);
  });

  it("reads lengths as Go's Atoi: a sign is allowed, a fraction or a space is not", () => {
    expect(collect('_e{-0,1}:t|x').invalid.map((i) => i.reason)).toEqual(['empty event title']);
    for (const bad of ['_e{1.0,1}:t|x', '_e{1,1.0}:t|x', '_e{ 1,1}:t|x', '_e{1,-1}:t|x', '_e{1e0,1}:t|x']) {
      expect(collect(bad).invalid.length, bad).toBe(1);
    }
    expect(collect('_e{+1,+1}:t|x').events.map((e) => [e.title, e.text])).toEqual([['t', 'x']]);
  });
});

describe('service checks', () => {
  it('parses name, status and optional fields', () => {
    const [c] = collect('_sc|db.up|2|d:1700000000|h:h1|#a:b|m:down hard').checks;
    expect(c).toEqual({
      name: 'db.up',
      status: 2,
      timestamp: 1700000000,
      host: 'h1',
      message: 'down hard',
      tags: ['a:b'],
    });
  });

  it('rejects bad statuses and empty names', () => {
    for (const bad of ['_sc|x|4', '_sc||0', '_sc|x', '_sc']) expect(collect(bad).invalid.length, bad).toBe(1);
  });
});

describe('what the real clients sent (captured datagrams)', () => {
  it('hot-shots 17: every type, event, service check, buffered datagram and telegraf line', () => {
    const all = fixtureDatagrams('hot-shots-17').map(collect);
    const metrics = all.flatMap((r) => r.metrics);
    expect(all.flatMap((r) => r.invalid)).toEqual([]);
    expect(metrics.map((m) => m.name)).toEqual([
      'hs.count',
      'hs.count',
      'hs.gauge',
      'hs.hist',
      'hs.dist',
      'hs.timing',
      'hs.set',
      'hs.buffered',
      'hs.buffered',
      'hs.buffered',
      'hs.buffered',
      'hs.buffered',
      'hs.telegraf,t=1',
    ]);
    expect(metrics.find((m) => m.name === 'hs.dist')!.tags).toBe('env:test,d:1,weird tag!');
    expect(all.flatMap((r) => r.events)[0]).toMatchObject({ title: 'my title', text: 'my text\nline2' });
    expect(all.flatMap((r) => r.checks)[0]).toMatchObject({ name: 'hs.check', host: 'h1', message: 'fine' });
  });

  it('datadog-lambda-js 12: timestamped distributions', () => {
    const metrics = fixtureDatagrams('dd-lambda-v12').flatMap((d) => collect(d).metrics);
    expect(metrics.every((m) => m.type === MetricType.Distribution && m.timestamp === 1796311860)).toBe(true);
  });
});

describe('robustness', () => {
  it('never throws on random bytes and accounts for every non-empty line', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const r = collect(Buffer.from(bytes));
        expect(r.metrics.length + r.events.length + r.checks.length + r.invalid.length).toBe(r.lines);
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws on near-valid lines built from the protocol alphabet', () => {
    const piece = fc.constantFrom(
      'a',
      ':',
      '|',
      '#',
      '@',
      ',',
      'T',
      '1',
      '.',
      'e',
      '-',
      'c',
      'd',
      'g',
      'ms',
      's',
      'h',
      '_e{',
      '_sc',
      '}',
      '\n',
      '\r',
      '\\n',
      'é',
      '0.5',
      '9999999999999999',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 60 }), (parts) => {
        const r = collect(parts.join(''));
        expect(r.metrics.length + r.events.length + r.checks.length + r.invalid.length).toBe(r.lines);
        for (const m of r.metrics) for (const v of m.values) expect(Number.isFinite(v)).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });
});

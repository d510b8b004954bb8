import { describe, expect, it } from 'vitest';
import { Aggregator, type AggregatorOptions, type Logger, type Serie } from '../src/index.js';

const T0 = 1_700_000_003; // inside the bucket that starts at 1_700_000_000

function agg(options: AggregatorOptions = {}, clock = { now: T0 * 1000 }) {
  const a = new Aggregator({ now: () => clock.now, ...options });
  const send = (s: string) => a.ingest(Buffer.from(s));
  return { a, send, clock };
}

function byName(series: Serie[]): Record<string, Serie> {
  return Object.fromEntries(
    series.map((s) => [`${s.metric}${s.tags.length ? `#${s.tags.join(',')}` : ''}`, s]),
  );
}

function value(series: Serie[], metric: string): number | undefined {
  return series.find((s) => s.metric === metric)?.points[0]?.value;
}

describe('sample rates per type (the agent semantics)', () => {
  it('scales counts by 1/rate and ignores out-of-range rates', async () => {
    const { a, send } = agg();
    send('c:1|c|@0.5\nc:1|c|@0.1\nc:1|c|@0\nc:1|c|@2\nc:3|c');
    const { series } = await a.flush({ all: true });
    expect(series).toEqual([
      {
        metric: 'c',
        type: 1,
        points: [{ timestamp: 1_700_000_000, value: 2 + 10 + 1 + 1 + 3 }],
        tags: [],
        interval: 10,
      },
    ]);
  });

  it('weights histogram samples by trunc(1/rate)', async () => {
    const { a, send } = agg({ histogramAggregates: ['max', 'min', 'median', 'avg', 'sum', 'count'] });
    send('h:10|h|@0.5\nh:20|ms|@0.3');
    const { series } = await a.flush({ all: true });
    // weights 2 and 3 (trunc(1/0.3)); sum 10/0.5 + 20/0.3; count 5
    expect(value(series, 'h.count')).toBeCloseTo(0.5, 12);
    expect(value(series, 'h.sum')).toBeCloseTo(20 + 20 / 0.3, 9);
    expect(value(series, 'h.avg')).toBeCloseTo((20 + 20 / 0.3) / 5, 9);
    expect(value(series, 'h.median')).toBe(20);
    expect(value(series, 'h.min')).toBe(10);
  });

  it('keeps earlier unsampled histogram samples at weight 1 once a sampled one arrives', async () => {
    const { a, send } = agg({ histogramAggregates: ['median', 'count'], histogramPercentiles: [] });
    send('h:1|h\nh:2|h\nh:3|h|@0.5');
    const { series } = await a.flush({ all: true });
    expect(value(series, 'h.count')).toBeCloseTo(0.4, 12);
    expect(value(series, 'h.median')).toBe(2);
  });

  it('inserts distribution samples n = trunc(1/rate) times', async () => {
    const { a, send } = agg();
    send('d:5|d|@0.25\nd:7|d');
    const { sketches } = await a.flush({ all: true });
    expect(sketches).toHaveLength(1);
    expect(sketches[0]!.sketch.count).toBe(5);
    expect(sketches[0]!.sketch.sum).toBe(27);
  });

  it('ignores the rate on gauges and sets', async () => {
    const { a, send } = agg();
    send('g:5|g|@0.1\ns:a|s|@0.1\ns:a|s|@0.5\ns:b|s');
    const { series } = await a.flush({ all: true });
    expect(value(series, 'g')).toBe(5);
    expect(value(series, 's')).toBe(2);
  });
});

describe('histogram aggregates', () => {
  it('uses the agent defaults: max, median, avg, count and the 95th percentile', async () => {
    const { a, send } = agg();
    const lines: string[] = [];
    for (let i = 100; i >= 1; i--) lines.push(`lat:${i}|ms|#x:y`);
    send(lines.join('\n'));
    const { series } = await a.flush({ all: true });
    expect(series.map((s) => [s.metric, s.type, s.points[0]!.value, s.interval])).toEqual([
      ['lat.max', 3, 100, undefined],
      ['lat.median', 3, 50, undefined],
      ['lat.avg', 3, 50.5, undefined],
      ['lat.count', 2, 10, 10],
      ['lat.95percentile', 3, 95, undefined],
    ]);
  });

  it('honours configured aggregates and percentiles', async () => {
    const { a, send } = agg({ histogramAggregates: ['min', 'sum'], histogramPercentiles: [0.5, 0.99] });
    send('h:1:2:3:4|h');
    const { series } = await a.flush({ all: true });
    expect(series.map((s) => [s.metric, s.points[0]!.value])).toEqual([
      ['h.min', 1],
      ['h.sum', 10],
      ['h.50percentile', 2],
      ['h.99percentile', 4],
    ]);
  });
});

describe('contexts', () => {
  it('treats tag order and duplicates as the same context', async () => {
    const { a, send } = agg();
    send('m:1|c|#b:2,a:1\nm:1|c|#a:1,b:2,a:1\nm:1|c|#a:1,,b:2');
    const { series } = await a.flush({ all: true });
    expect(series).toHaveLength(1);
    expect(series[0]!.tags).toEqual(['a:1', 'b:2']);
    expect(series[0]!.points[0]!.value).toBe(3);
    expect(a.stats().metricSamples).toBe(3);
  });

  it('keeps different names and tag sets apart, and counts sets by unique member', async () => {
    const { a, send } = agg();
    send('m:1|c\nn:1|g\nm:1|c|#t\ns:u1|s\ns:u2|s\ns:u1|s\ns:u3|s|#other');
    const { series } = await a.flush({ all: true });
    const s = byName(series);
    expect(Object.keys(s).sort()).toEqual(['m', 'm#t', 'n', 's', 's#other']);
    expect(s['s']!.points[0]!.value).toBe(2);
  });

  it('keys a context by name, host and tags only: the first type seen wins, later samples join it', async () => {
    const { a, send } = agg();
    send('m:1|c\nm:5|g\ng:1|g\ng:7|c\ns:u1|s\ns:3|c\nz:4|g\nz:u1|s');
    const { series } = await a.flush({ all: true });
    expect(series.map((x) => [x.metric, x.type, x.points[0]!.value])).toEqual([
      ['m', 1, 6],
      ['g', 3, 7],
      ['s', 3, 2],
      // A set member carries no number: the agent adds it as 0.
      ['z', 3, 0],
    ]);
    expect(a.stats().contexts).toBe(0);
  });

  it('keeps distributions apart from series of the same name, as the agent keeps its sketches', async () => {
    const { a, send } = agg();
    send('m:1|c\nm:2|d');
    const { series, sketches } = await a.flush({ all: true });
    expect(series.map((x) => [x.metric, x.points[0]!.value])).toEqual([['m', 1]]);
    expect(sketches.map((x) => [x.metric, x.sketch.count])).toEqual([['m', 1]]);
  });

  it('treats h and ms as one histogram context', async () => {
    const { a, send } = agg();
    send('x:1|h\nx:3|ms');
    const { series } = await a.flush({ all: true });
    expect(value(series, 'x.avg')).toBe(2);
  });

  it('takes host: out of the tags and ignores it (serverless mode), drops dd.internal tags', async () => {
    const { a, send } = agg();
    send('m:1|g|#host:web1,a,dd.internal.entity_id:x,dd.internal.card:low\nm:2|g|#a');
    const { series, sketches } = await a.flush({ all: true });
    expect(series).toEqual([
      { metric: 'm', type: 3, points: [{ timestamp: 1_700_000_000, value: 2 }], tags: ['a'] },
    ]);
    send('d:1|d|#host:web1');
    expect((await a.flush({ all: true })).sketches.map((s) => [s.host, s.tags])).toEqual([['', []]]);
    expect(sketches).toEqual([]);
  });

  it('lets host: set the host resource with hostTagOverride (the agent outside serverless)', async () => {
    const { a, send } = agg({ hostTagOverride: true, hostname: 'h0' });
    send('m:1|g|#host:web1,a\nm:1|g|#a');
    const { series } = await a.flush({ all: true });
    expect(series.map((s) => [s.tags, s.resources])).toEqual([
      [['a'], [{ type: 'host', name: 'web1' }]],
      [['a'], [{ type: 'host', name: 'h0' }]],
    ]);
  });

  it('turns dd.internal.resource:<name>:<type> tags into series resources, as the extension does', async () => {
    const { a, send } = agg();
    send(
      'm:1|g|#dd.internal.resource:db1:database_instance,a,dd.internal.resource:q:x:queue,dd.internal.resource:bad',
    );
    const flush = async (visitor: 'objects' | 'json') => {
      if (visitor === 'objects') return (await a.flush({ all: true })).series;
      const json: string[] = [];
      await a.flushTo({ serie: () => {}, sketch: () => {}, serieJson: (j) => json.push(j) }, { all: true });
      return json.map((j) => JSON.parse(j) as Serie);
    };
    const expected = {
      metric: 'm',
      tags: [
        'a',
        'dd.internal.resource:bad',
        'dd.internal.resource:db1:database_instance',
        'dd.internal.resource:q:x:queue',
      ],
      resources: [
        { type: 'database_instance', name: 'db1' },
        { type: 'x:queue', name: 'q' },
      ],
    };
    expect(await flush('objects')).toMatchObject([expected]);
    send(
      'm:1|g|#dd.internal.resource:db1:database_instance,a,dd.internal.resource:q:x:queue,dd.internal.resource:bad',
    );
    expect(await flush('json')).toMatchObject([expected]);
    const b = agg({ hostTagOverride: true }).a;
    const withHost = [
      { type: 'host', name: 'h1' },
      { type: 'database_instance', name: 'db1' },
    ];
    b.ingest(Buffer.from('m:1|g|#host:h1,dd.internal.resource:db1:database_instance'));
    expect((await b.flush({ all: true })).series[0]!.resources).toEqual(withHost);
    b.ingest(Buffer.from('m:1|g|#host:h1,dd.internal.resource:db1:database_instance'));
    const json: string[] = [];
    await b.flushTo({ serie: () => {}, sketch: () => {}, serieJson: (j) => json.push(j) }, { all: true });
    expect(json.map((j) => (JSON.parse(j) as Serie).resources)).toEqual([withHost]);
  });

  it('drops samples of new contexts beyond maxContexts and counts them', async () => {
    const { a, send } = agg({ maxContexts: 3 });
    send('a:1|c\nb:1|c\nc:1|c\nd:1|c\ne:1|c\na:1|c');
    expect(a.stats()).toMatchObject({ contexts: 3, contextsDropped: 2 });
    const { series } = await a.flush({ all: true });
    expect(series.map((s) => s.metric)).toEqual(['a', 'b', 'c']);
    expect(a.stats().contexts).toBe(0);
    send('d:1|c');
    expect(a.stats().contexts).toBe(1);
  });
});

describe('lines aggregated in batches', () => {
  it('keeps the order of samples across batches, set lines and submit', async () => {
    const { a, send } = agg();
    // More lines than one batch holds, so some are aggregated when it fills, the rest at flush.
    const lines = Array.from({ length: 10_000 }, (_, i) => `c:1|c\ng:${i}|g`);
    for (let i = 0; i < lines.length; i += 100) send(lines.slice(i, i + 100).join('\n'));
    // A set member joining a gauge sets it to 0, after the gauges before it.
    send('g2:5|g\ng2:x|s');
    send('g3:5|g');
    a.submit({ name: 'g3', type: 'gauge', value: 7 });
    const { series } = await a.flush({ all: true });
    expect(value(series, 'c')).toBe(10_000);
    expect(value(series, 'g')).toBe(9_999);
    expect(value(series, 'g2')).toBe(0);
    expect(value(series, 'g3')).toBe(7);
  });

  it('takes a line with more packed values than a batch holds', async () => {
    const { a, send } = agg();
    send(`d:${Array.from({ length: 9000 }, (_, i) => i % 7).join(':')}|d\nn:1|c`);
    expect(a.stats()).toMatchObject({ contexts: 2, metricSamples: 9001 });
    const { sketches, series } = await a.flush({ all: true });
    expect(sketches[0]!.sketch.count).toBe(9000);
    expect(value(series, 'n')).toBe(1);
  });
});

describe('timestamps and buckets', () => {
  it('aggregates timestamped samples into the 10 s bucket of their timestamp', async () => {
    const { a, send } = agg();
    send(
      'd:1|d|T1699999981\nd:2|d|T1699999989\nd:3|d|T1699999990\nc:1|c|@0.5|T1699999985\nc:2|c|T1699999982',
    );
    const { series, sketches } = await a.flush({ all: true });
    expect(sketches.map((s) => [s.ts, s.sketch.count])).toEqual([
      [1_699_999_980, 2],
      [1_699_999_990, 1],
    ]);
    // Timestamped lines ignore the sample rate; counts are type 1 with interval 10 and the raw sum.
    expect(series).toEqual([
      { metric: 'c', type: 1, points: [{ timestamp: 1_699_999_980, value: 3 }], tags: [], interval: 10 },
    ]);
  });

  it('clamps future timestamps to now', async () => {
    const { a, send } = agg();
    send(`g:1|g|T${T0 + 3600}`);
    const { series } = await a.flush({ all: true });
    expect(series[0]!.points[0]!.timestamp).toBe(1_700_000_000);
  });

  it('without `all`, flushes only buckets whose 10 s have passed', async () => {
    const { a, send, clock } = agg();
    send('c:1|c');
    expect((await a.flush()).series).toEqual([]);
    clock.now = (T0 + 7) * 1000; // next bucket
    send('c:5|c');
    const first = await a.flush();
    expect(first.series.map((s) => [s.points[0]!.timestamp, s.points[0]!.value])).toEqual([
      [1_700_000_000, 1],
    ]);
    const rest = await a.flush({ all: true });
    expect(rest.series.map((s) => [s.points[0]!.timestamp, s.points[0]!.value])).toEqual([
      [1_700_000_010, 5],
    ]);
  });
});

describe('tags, namespace and the Lambda rules', () => {
  it('adds global tags to custom metrics without the excluded keys, and all of them to submitted ones', async () => {
    const { a, send } = agg({
      globalTags: ['env:prod', 'functionname:f', 'memorysize:128', 'service:api'],
      customMetricsExcludeTagKeys: ['memorysize', 'functionname'],
    });
    send('custom:1|c|#team:a,env:prod');
    a.submit({ name: 'aws.lambda.enhanced.duration', value: 0.5, tags: ['cold_start:true'] });
    const { series, sketches } = await a.flush({ all: true });
    expect(series[0]!.tags).toEqual(['env:prod', 'service:api', 'team:a']);
    expect(sketches[0]!.tags).toEqual([
      'cold_start:true',
      'env:prod',
      'functionname:f',
      'memorysize:128',
      'service:api',
    ]);
  });

  it('one context for a metric sent over DogStatsD and by submit; the custom-metric rules only for custom ones', async () => {
    const { a, send } = agg({
      globalTags: ['env:prod', 'memorysize:128'],
      customMetricsExcludeTagKeys: ['memorysize'],
    });
    send('aws.lambda.enhanced.errors:1|d|#functionname:f\ncustom:2|d|#functionname:f');
    a.submit({ name: 'aws.lambda.enhanced.errors', value: 3, tags: ['functionname:f'] });
    send('aws.lambda.enhanced.errors:4|d|#functionname:f');
    const { sketches } = await a.flush({ all: true });
    expect(sketches.map((x) => [x.metric, x.sketch.count, x.sketch.sum, x.tags])).toEqual([
      // Shared with a submitted sample: not only custom, so every global tag.
      ['aws.lambda.enhanced.errors', 3, 8, ['env:prod', 'functionname:f', 'memorysize:128']],
      ['custom', 1, 2, ['env:prod', 'functionname:f']],
    ]);
    expect(a.stats().contexts).toBe(0);
  });

  it('prefixes custom metric names with the namespace, not submitted ones', async () => {
    const { a, send } = agg({ namespace: 'myapp' });
    send('req:1|c');
    a.submit({ name: 'aws.lambda.enhanced.invocations', value: 1, type: 'count' });
    const { series } = await a.flush({ all: true });
    expect(series.map((s) => s.metric).sort()).toEqual(['aws.lambda.enhanced.invocations', 'myapp.req']);
  });

  it("drops the library's own invocation count over DogStatsD, keeps the extension's", async () => {
    const { a, send } = agg();
    send('aws.lambda.enhanced.invocations:1|d|#functionname:f|T1700000000\naws.lambda.enhanced.errors:1|d');
    a.submit({ name: 'aws.lambda.enhanced.invocations', value: 1, timestamp: T0 });
    const { sketches } = await a.flush({ all: true });
    expect(sketches.map((s) => s.metric).sort()).toEqual([
      'aws.lambda.enhanced.errors',
      'aws.lambda.enhanced.invocations',
    ]);
    expect(sketches.find((s) => s.metric === 'aws.lambda.enhanced.invocations')!.tags).toEqual([]);
    expect(a.stats().libraryInvocationsDropped).toBe(1);
  });

  it('drops every DogStatsD line whose name starts with the invocation count', async () => {
    const { a, send } = agg();
    send(
      'aws.lambda.enhanced.invocations.extra:1|d\naws.lambda.enhanced.invocationsX:1|c\naws.lambda.enhanced.invocation:1|c',
    );
    const { series, sketches } = await a.flush({ all: true });
    expect(sketches).toEqual([]);
    expect(series.map((s) => s.metric)).toEqual(['aws.lambda.enhanced.invocation']);
    expect(a.stats().libraryInvocationsDropped).toBe(2);
  });

  it('submit aggregates every type with its own timestamp', async () => {
    const { a } = agg();
    expect(a.submit({ name: 'c', value: 2, type: 'count', timestamp: T0 - 20 })).toBe(true);
    a.submit({ name: 'g', value: 3, type: 'gauge' });
    a.submit({ name: 's', value: 'x', type: 'set' });
    a.submit({ name: 's', value: 'x', type: 'set' });
    a.submit({ name: 'h', value: 4, type: 'histogram' });
    expect(a.submit({ name: 'bad', value: Number.NaN })).toBe(false);
    const { series } = await a.flush({ all: true });
    expect(series.find((s) => s.metric === 'c')!.points[0]).toEqual({ timestamp: 1_699_999_980, value: 2 });
    expect(value(series, 'g')).toBe(3);
    expect(value(series, 's')).toBe(1);
    expect(value(series, 'h.max')).toBe(4);
  });

  it('attaches origin metadata when asked', async () => {
    const { a, send } = agg({
      origin: (name) => ({ product: 1, category: 38, service: name.startsWith('aws.lambda') ? 473 : 472 }),
    });
    send('x:1|g');
    const { series } = await a.flush({ all: true });
    expect(series[0]!.metadata).toEqual({
      origin: { origin_product: 1, origin_sub_product: 38, origin_product_detail: 472 },
    });
  });
});

describe('events, service checks, errors and self-metrics', () => {
  it('buffers events and checks with timestamps, host and global tags; bounded and counted', async () => {
    const { a, send } = agg({ globalTags: ['env:prod'], maxEvents: 1, hostname: 'h0' });
    send('_e{1,1}:a|b|#host:web2\n_e{1,1}:c|d\n_sc|chk|0');
    const { events, serviceChecks } = await a.flush({ all: true });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ timestamp: T0, host: 'web2', tags: ['env:prod'] });
    expect(serviceChecks[0]).toMatchObject({ name: 'chk', timestamp: T0, host: 'h0', tags: ['env:prod'] });
    expect(a.stats()).toMatchObject({ events: 2, eventsDropped: 1, serviceChecks: 1 });
  });

  it('counts bad lines and logs them at most once per 10 s', () => {
    const warnings: string[] = [];
    const logger: Logger = { debug() {}, info() {}, error() {}, warn: (m) => warnings.push(m) };
    const { a, send, clock } = agg({ logger });
    for (let i = 0; i < 100; i++) send('garbage\nok:1|c');
    expect(a.stats()).toMatchObject({ parseErrors: 100, lines: 200, datagrams: 100, metricSamples: 100 });
    expect(warnings).toEqual(['dogstatsd: skipping invalid line (missing |): "garbage"']);
    clock.now += 10_000;
    send('bad2');
    expect(warnings[1]).toBe(
      'dogstatsd: skipping invalid line (missing |): "bad2" (99 similar messages suppressed)',
    );
  });
});

describe('flush in slices', () => {
  it('yields to the event loop while flushing 100k contexts', async () => {
    const { a } = agg({ maxContexts: 200_000 });
    const lines: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      lines.push(`metric.${i % 100}:1|${i % 2 ? 'c' : 'd'}|#ctx:${i}`);
      if (lines.length === 50) {
        a.ingest(Buffer.from(lines.join('\n')));
        lines.length = 0;
      }
    }
    expect(a.stats().contexts).toBe(100_000);
    let ticks = 0;
    let done = false;
    const tick = () => {
      ticks++;
      if (!done) setImmediate(tick);
    };
    setImmediate(tick);
    let n = 0;
    await a.flushTo({ serie: () => n++, sketch: () => n++ }, { all: true });
    done = true;
    expect(n).toBe(100_000);
    // Other callbacks ran between the slices: the flush did not hold the loop for its whole length.
    expect(ticks).toBeGreaterThan(1);
  });
});

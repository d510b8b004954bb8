import { readFileSync } from 'node:fs';
import {
  type DogStatsDEvent,
  MetricLine,
  type MetricType,
  type ParseSink,
  parseDatagram,
  type ServiceCheck,
} from '../src/index.js';

export interface ParsedMetric {
  name: string;
  type: MetricType;
  values: number[];
  raw: string;
  sampleRate: number;
  tags: string;
  timestamp: number;
}

export interface Collected {
  metrics: ParsedMetric[];
  events: DogStatsDEvent[];
  checks: ServiceCheck[];
  invalid: { reason: string; line: string }[];
  lines: number;
}

/** Parses a datagram into plain objects (tests only; the server path never allocates these). */
export function collect(datagram: string | Buffer): Collected {
  const out: Collected = { metrics: [], events: [], checks: [], invalid: [], lines: 0 };
  const sink: ParseSink = {
    metric: (l) =>
      out.metrics.push({
        name: l.name(),
        type: l.type,
        values: l.values.slice(0, l.valueCount),
        raw: l.rawValue(),
        sampleRate: l.sampleRate,
        tags: l.rawTags(),
        timestamp: l.timestamp,
      }),
    event: (e) => out.events.push(e),
    serviceCheck: (c) => out.checks.push(c),
    invalid: (reason, buf, s, e) => out.invalid.push({ reason, line: buf.toString('utf8', s, e) }),
  };
  const buf = typeof datagram === 'string' ? Buffer.from(datagram) : datagram;
  out.lines = parseDatagram(buf, sink, new MetricLine());
  return out;
}

/** Datagrams captured from the real clients (`test/fixtures/*.dogstatsd.jsonl`). */
export function fixtureDatagrams(name: string): string[] {
  const text = readFileSync(new URL(`./fixtures/${name}.dogstatsd.jsonl`, import.meta.url), 'utf8');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (JSON.parse(l) as { datagram: string }).datagram);
}

/** Polls until `cond` holds (no fixed sleeps for correctness). */
export async function waitFor(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

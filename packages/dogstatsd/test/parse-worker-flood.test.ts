import { describe, expect, it } from 'vitest';
import { Aggregator } from '../src/index.js';
import { createRing, RingReader, RingWriter } from '../src/ring.js';
import { ParseWorkerLink } from '../src/worker-link.js';

describe('the ring read up to a mark', () => {
  it('stops at the records queued when the mark was taken, across a wrap, while more are pushed', () => {
    const ring = createRing(1024);
    const writer = new RingWriter(ring);
    const reader = new RingReader(ring);
    const into = Buffer.alloc(256);
    let pushed = 0;
    let read = 0;
    const push = () => writer.push(Buffer.from(`m:${pushed}|c`.padEnd(100, ' ')), 100, pushed++);
    for (let round = 0; round < 20; round++) {
      while (push()) {}
      pushed--; // the last push did not fit
      const mark = reader.mark();
      const before = pushed;
      // Records pushed after the mark are not read before it.
      for (let i = 0; i < 3; i++) {
        reader.next(into, mark) >= 0 && read++;
        reader.release();
        if (push()) continue;
        pushed--;
      }
      while (reader.next(into, mark) >= 0) read++;
      reader.release();
      expect(read).toBe(before);
      expect(reader.next(into, mark)).toBe(-1);
      // Then everything pushed since, read without a mark.
      while (reader.next(into) >= 0) read++;
      reader.release();
      expect(read).toBe(pushed);
    }
  });
});

describe('the parser worker under a flood', () => {
  it('answers a flush with what was queued before it, while datagrams keep coming', async () => {
    const aggregator = new Aggregator();
    const link = ParseWorkerLink.start(aggregator, { queueBytes: 1 << 20 });
    expect(link).toBeDefined();
    const lines: string[] = [];
    for (let i = 0; i < 200; i++) lines.push(`flood.m${i % 50}:1|c|#k:${i},host:h${i % 13}`);
    const datagram = Buffer.from(lines.join('\n'));
    // The flood lasts until the flush is answered (at most 15 s): faster than the worker parses,
    // so the ring refills as it is read.
    let answered = false;
    const started = Date.now();
    let ingested = 0;
    const produce = () => {
      if (answered || Date.now() - started > 15_000) return;
      for (let i = 0; i < 300; i++) aggregator.ingest(datagram);
      ingested += 300;
      setImmediate(produce);
    };
    produce();
    await new Promise((r) => setTimeout(r, 300));
    const flushed = await aggregator.flush({ all: true });
    const floodStillOn = Date.now() - started <= 15_000;
    answered = true;
    expect(floodStillOn).toBe(true);
    const total = (series: typeof flushed.series) =>
      series
        .filter((s) => s.metric.startsWith('flood.'))
        .reduce((n, s) => n + s.points.reduce((m, p) => m + p.value, 0), 0);
    const counted = total(flushed.series);
    expect(counted).toBeGreaterThan(0);
    await link!.close();
    // Nothing of the flood is lost or counted twice: what the first flush did not take, the last one does.
    const rest = await aggregator.flush({ all: true });
    const later = total(rest.series);
    const dropped = aggregator.stats().datagramsDropped;
    expect(counted + later).toBe((ingested - dropped) * 200);
  }, 30_000);
});

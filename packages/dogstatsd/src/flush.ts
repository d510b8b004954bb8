import { Aggregator, type AggregatorOptions, type FlushOptions } from './aggregator.js';
import {
  buildEventPayloads,
  buildServiceCheckPayloads,
  type PayloadLimits,
  SeriesPayloadBuilder,
  SketchPayloadBuilder,
} from './payloads.js';
import type { OutgoingPayload } from './types.js';

export interface FlushPayloadsOptions extends FlushOptions {
  /** Hostname for the events payload's `internalHostname`. */
  hostname?: string;
  seriesLimits?: PayloadLimits;
  sketchLimits?: PayloadLimits;
}

/**
 * Flushes the aggregator straight into payloads for the forwarder: series, sketches, service
 * checks and events. Serialisation happens inside the aggregator's time slices, so building
 * payloads for 100k contexts does not block the event loop either.
 */
export async function flushPayloads(
  aggregator: Aggregator,
  options: FlushPayloadsOptions = {},
): Promise<OutgoingPayload[]> {
  const series = new SeriesPayloadBuilder(options.seriesLimits);
  const sketches = new SketchPayloadBuilder(options.sketchLimits);
  await aggregator.flushTo(
    {
      serie: (s) => series.add(s),
      serieJson: (j) => series.addJson(j),
      sketch: (s) => sketches.add(s),
      sketchEncoded: (bytes) => sketches.addEncoded(bytes),
      // Each sketch is encoded inside add(): the aggregator may reuse it.
      consumesSketches: true,
    },
    options,
  );
  const { events, serviceChecks } = aggregator.takeEventsAndChecks();
  const hostname = options.hostname === undefined ? {} : { hostname: options.hostname };
  return [
    ...series.finish(),
    ...sketches.finish(),
    ...buildServiceCheckPayloads(serviceChecks),
    ...buildEventPayloads(events, hostname),
  ];
}

/**
 * Runs the flush's encoders on throwaway metrics (an aggregator of its own; nothing is kept or
 * sent), for an idle moment before the first real flush: a V8 code cache holds bytecode but no
 * type feedback, so without this the first flush runs its encoders cold, which on Lambda is the
 * first invocation's blocking flush. `options` as the real aggregator's (its global tags make the
 * encoded sizes alike).
 */
export async function warmUpPayloads(options: AggregatorOptions = {}, contexts = 32): Promise<void> {
  const aggregator = new Aggregator({ ...options, logger: undefined });
  const line = Buffer.from('warm.up.count:1|c|#a:b\nwarm.up.dist:2.5|d|#a:b\nwarm.up.gauge:3|g');
  aggregator.ingest(line);
  for (let i = 0; i < contexts; i++) {
    aggregator.submit({ name: `warm.up.d${i}`, value: i + 0.5, tags: [`n:${i}`], type: 'distribution' });
  }
  await flushPayloads(aggregator, { all: true });
}

import type { Aggregator, FlushOptions } from './aggregator.js';
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

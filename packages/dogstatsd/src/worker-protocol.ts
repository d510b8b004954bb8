import type { AggregatorStats, FlushOptions, Sample, Serie, WorkerAggregatorOptions } from './aggregator.js';
import type { RingBuffers } from './ring.js';
import type { SketchState } from './sketch.js';
import type { DogStatsDEvent, ServiceCheck } from './types.js';

/** The order in which the worker publishes its counters into the shared stats array. */
export const STAT_KEYS: readonly (keyof AggregatorStats)[] = [
  'datagrams',
  'bytes',
  'lines',
  'metricSamples',
  'events',
  'serviceChecks',
  'parseErrors',
  'contexts',
  'contextsDropped',
  'samplesDropped',
  'eventsDropped',
  'serviceChecksDropped',
  'libraryInvocationsDropped',
  'datagramsDropped',
  'flushes',
  'lastFlushLongestSliceMs',
];

export interface WorkerData {
  ring: RingBuffers;
  stats: SharedArrayBuffer;
  options: WorkerAggregatorOptions;
}

/** A sketch entry whose sketch crossed as plain data. */
export interface SketchEntryState {
  metric: string;
  host: string;
  tags: string[];
  ts: number;
  sketch: SketchState;
  origin?: undefined;
}

export type ToWorker =
  | { t: 'submit'; sample: Sample; now: number }
  | { t: 'flush'; id: number; options: FlushOptions; now: number; json: boolean; encoded: boolean }
  | { t: 'drain'; id: number }
  /** A flush chunk was handed to the visitor: the worker may post another. */
  | { t: 'taken' };

export type FromWorker =
  | { t: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; msg: string }
  | { t: 'events'; events: DogStatsDEvent[]; checks: ServiceCheck[] }
  | {
      t: 'chunk';
      id: number;
      series: (string | Serie)[];
      sketches: SketchEntryState[];
      /** Encoded sketches, back to back, and the length of each. */
      encoded: Uint8Array | undefined;
      lengths: number[];
    }
  | { t: 'flushed'; id: number }
  | { t: 'drained'; id: number };

/** DogStatsD metric types, as numbers so the hot path compares small integers. */
export const MetricType = {
  Count: 0,
  Gauge: 1,
  Histogram: 2,
  Timing: 3,
  Distribution: 4,
  Set: 5,
} as const;
export type MetricType = (typeof MetricType)[keyof typeof MetricType];

export const METRIC_TYPE_SYMBOL: Record<MetricType, string> = {
  0: 'c',
  1: 'g',
  2: 'h',
  3: 'ms',
  4: 'd',
  5: 's',
};

export type EventPriority = 'normal' | 'low';
export type EventAlertType = 'error' | 'warning' | 'info' | 'success';

export interface DogStatsDEvent {
  title: string;
  text: string;
  /** Unix seconds; 0 when the client sent none (the aggregator stamps it). */
  timestamp: number;
  host: string;
  aggregationKey: string;
  priority: EventPriority;
  sourceTypeName: string;
  alertType: EventAlertType;
  tags: string[];
}

export type ServiceCheckStatus = 0 | 1 | 2 | 3;

export interface ServiceCheck {
  name: string;
  status: ServiceCheckStatus;
  /** Unix seconds; 0 when the client sent none. */
  timestamp: number;
  host: string;
  message: string;
  tags: string[];
}

/**
 * A payload handed to the forwarder. `body` is uncompressed; the forwarder compresses it.
 * `split()` returns two smaller payloads for a 413, or undefined when the payload holds one item.
 */
export type EndpointKind = 'series' | 'sketches' | 'check_run' | 'events';
export interface OutgoingPayload {
  kind: EndpointKind;
  body: Uint8Array;
  contentType: string;
  headers?: Record<string, string>;
  items?: number;
  split?: () => OutgoingPayload[] | undefined;
}

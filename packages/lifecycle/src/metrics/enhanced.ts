// `aws.lambda.enhanced.*`: names, units and the cost formula of the real extension. Values leave
// as distribution samples through a callback; the app connects it to dogstatsd's aggregator, which
// adds the function-level tags.

const P = 'aws.lambda.enhanced.';

export const ENHANCED = {
  invocations: `${P}invocations`,
  errors: `${P}errors`,
  timeouts: `${P}timeouts`,
  outOfMemory: `${P}out_of_memory`,
  runtimeDuration: `${P}runtime_duration`,
  producedBytes: `${P}produced_bytes`,
  postRuntimeDuration: `${P}post_runtime_duration`,
  duration: `${P}duration`,
  billedDuration: `${P}billed_duration`,
  maxMemoryUsed: `${P}max_memory_used`,
  memorySize: `${P}memorysize`,
  estimatedCost: `${P}estimated_cost`,
  initDuration: `${P}init_duration`,
  snapstartRestoreDuration: `${P}snapstart_restore_duration`,
  shutdowns: `${P}shutdowns`,
  unusedInit: `${P}unused_init`,
  rxBytes: `${P}rx_bytes`,
  txBytes: `${P}tx_bytes`,
  totalNetwork: `${P}total_network`,
  cpuUserTime: `${P}cpu_user_time`,
  cpuSystemTime: `${P}cpu_system_time`,
  cpuTotalTime: `${P}cpu_total_time`,
  cpuTotalUtilizationPct: `${P}cpu_total_utilization_pct`,
  cpuTotalUtilization: `${P}cpu_total_utilization`,
  numCores: `${P}num_cores`,
  cpuMaxUtilization: `${P}cpu_max_utilization`,
  cpuMinUtilization: `${P}cpu_min_utilization`,
  tmpMax: `${P}tmp_max`,
  tmpUsed: `${P}tmp_used`,
  tmpFree: `${P}tmp_free`,
  fdMax: `${P}fd_max`,
  fdUse: `${P}fd_use`,
  threadsMax: `${P}threads_max`,
  threadsUse: `${P}threads_use`,
} as const;

export type EnhancedMetricName = (typeof ENHANCED)[keyof typeof ENHANCED];

export interface EnhancedMetricSample {
  name: EnhancedMetricName;
  value: number;
  /** The per-invocation tags (`cold_start:…`, …); the aggregator adds the function's own. */
  tags: string[];
  /** Unix seconds of the telemetry event the value comes from. */
  timestamp: number;
  type: 'distribution';
}

export type MetricSubmit = (sample: EnhancedMetricSample) => void;

export type Architecture = 'x86_64' | 'arm64' | string;

export const BASE_LAMBDA_INVOCATION_PRICE = 0.0000002;
export const X86_LAMBDA_PRICE_PER_GB_SECOND = 0.0000166667;
export const ARM_LAMBDA_PRICE_PER_GB_SECOND = 0.0000133334;

export function architectureOf(nodeArch: string): Architecture {
  if (nodeArch === 'x64') return 'x86_64';
  if (nodeArch === 'arm64') return 'arm64';
  return nodeArch;
}

export function pricePerGbSecond(arch: Architecture): number {
  if (arch === 'x86_64') return X86_LAMBDA_PRICE_PER_GB_SECOND;
  if (arch === 'arm64') return ARM_LAMBDA_PRICE_PER_GB_SECOND;
  return 0;
}

/** USD: base request price plus GB-seconds billed at the architecture's price, to 12 decimals. */
export function estimatedCostUsd(billedDurationMs: number, memorySizeMb: number, arch: Architecture): number {
  const gbSeconds = billedDurationMs * 0.001 * (memorySizeMb / 1024);
  const cost = BASE_LAMBDA_INVOCATION_PRICE + gbSeconds * pricePerGbSecond(arch);
  return Math.round(cost * 1e12) / 1e12;
}

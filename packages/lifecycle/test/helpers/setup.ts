// A Lifecycle against a fresh FakeLambdaApi on loopback, recording what it publishes, submits and logs.
import {
  type EnhancedMetricSample,
  fromEnv,
  Lifecycle,
  type LifecycleDeps,
  type LifecycleEvent,
  type LifecycleOptions,
} from '../../src/index.js';
import { FakeLambdaApi } from './lambda-api.js';

/** `closers` gets what the test's afterEach must close (the API, then the lifecycle). */
export async function setupLifecycle(
  closers: Array<() => Promise<void> | void>,
  opts: Partial<LifecycleOptions> = {},
  deps: Partial<LifecycleDeps> = {},
) {
  const api = new FakeLambdaApi();
  closers.push(() => api.close());
  const runtimeApi = await api.start();
  const samples: EnhancedMetricSample[] = [];
  const events: LifecycleEvent[] = [];
  const logs: string[] = [];
  const logger = {
    debug() {},
    info: (m: string) => logs.push(`info ${m}`),
    warn: (m: string) => logs.push(`warn ${m}`),
    error: (m: string) => logs.push(`error ${m}`),
  };
  const lc = new Lifecycle(
    { ...fromEnv({}), runtimeApi, telemetryPort: 0, hooksPort: 0, procEnhancedMetrics: false, ...opts },
    { logger, submit: (s) => samples.push(s), telemetryHost: '127.0.0.1', ...deps },
  );
  closers.push(() => lc.close());
  lc.subscribe((e) => events.push(e));
  return { api, runtimeApi, lc, samples, events, logs };
}

// Ties the pieces together in the real extension's order: register, listeners, subscription,
// then the `next` loop. Whatever goes wrong inside, the function keeps working: the loop drops to
// a plain `next` loop (idle mode) and says why, once. It never calls init/error for its own fault.
import {
  type ExtensionEvent,
  ExtensionsClient,
  type InvokeEvent,
  type ShutdownEvent,
} from './extensions-client.js';
import { type ContextExtractor, HooksServer } from './hooks/server.js';
import type { ListeningSocket } from './http-listen.js';
import type { LifecycleListener } from './invocation/events.js';
import { InvocationProcessor } from './invocation/processor.js';
import { errorMessage, type Logger, noopLogger } from './logger.js';
import type { MetricSubmit } from './metrics/enhanced.js';
import type { ProcReader } from './metrics/proc.js';
import type { LifecycleOptions } from './options.js';
import { type Registration, register } from './register.cjs';
import { TelemetryListener } from './telemetry/listener.js';
import { type SubscribeOutcome, subscribeTelemetry } from './telemetry/subscribe.js';

export interface LifecycleDeps {
  logger?: Logger;
  /** Enhanced-metric samples (dogstatsd's in-process submit). */
  submit?: MetricSubmit;
  /** Trace-context extraction for start-invocation (trace-intake's, injected by the app). */
  extractContext?: ContextExtractor;
  /** `/lambda/flush`. */
  onFlush?: () => Promise<void> | void;
  now?: () => number;
  startedAt?: number;
  proc?: ProcReader;
  invocationTags?: readonly string[] | (() => readonly string[]);
  /** Bind address of the hooks (tests only; the default is loopback). */
  hooksHost?: string;
  /** Bind address of the telemetry listener (default all interfaces). */
  telemetryHost?: string;
}

export interface LoopHandlers {
  /** Awaited before the next `next`: the time it takes is post-runtime duration. */
  onInvoke?: (event: InvokeEvent) => Promise<void> | void;
  /** The app's final flush; awaited before `run` resolves. */
  onShutdown?: (event: ShutdownEvent) => Promise<void> | void;
}

/**
 * What an entry already did before the lifecycle loaded (all optional): it bound the Telemetry
 * listener's socket, subscribed, and sent the first `next` (`client.prefetchNext()`), so that
 * Lambda hears "init done" before the rest of the extension is even compiled.
 */
export interface EarlyStart {
  /** The Telemetry listener's socket; the deliveries it held are handled once the lifecycle starts. */
  telemetry?: ListeningSocket;
  /** The client made with the registration; its prefetched `next` is the loop's first event. */
  client?: ExtensionsClient;
  /** The subscription, made once registered and answered before `client`'s first `next` went out. */
  subscription?: Promise<SubscribeOutcome>;
}

export type LifecycleState = 'new' | 'ready' | 'idle' | 'unregistered' | 'shutdown';

export interface StartResult {
  state: LifecycleState;
  registration?: Registration;
  telemetry?: SubscribeOutcome | 'failed';
  telemetryPort?: number;
  hooksPort?: number;
  readyInMs: number;
}

const REGISTER_ATTEMPTS = 3;
const SHUTDOWN_REPORT_WAIT_MS = 300;

export class Lifecycle {
  readonly processor: InvocationProcessor;
  readonly telemetry: TelemetryListener;
  readonly hooks: HooksServer;
  private readonly logger: Logger;
  private readonly now: () => number;
  private client: ExtensionsClient | undefined;
  private stateValue: LifecycleState = 'new';
  private idleReason: string | undefined;

  constructor(
    readonly options: LifecycleOptions,
    deps: LifecycleDeps = {},
  ) {
    this.logger = deps.logger ?? noopLogger;
    this.now = deps.now ?? Date.now;
    this.processor = new InvocationProcessor({
      enhancedMetrics: options.enhancedMetrics,
      procEnhancedMetrics: options.procEnhancedMetrics,
      managedInstances: options.managedInstances,
      snapStart: options.snapStart,
      architecture: options.architecture,
      logger: this.logger,
      ...(deps.submit ? { submit: deps.submit } : {}),
      ...(deps.now ? { now: deps.now } : {}),
      ...(deps.startedAt !== undefined ? { startedAt: deps.startedAt } : {}),
      ...(deps.proc ? { proc: deps.proc } : {}),
      ...(deps.invocationTags ? { invocationTags: deps.invocationTags } : {}),
    });
    this.telemetry = new TelemetryListener((events) => this.processor.onTelemetry(events), {
      port: options.telemetryPort,
      host: deps.telemetryHost ?? '0.0.0.0',
      logger: this.logger,
    });
    this.hooks = new HooksServer(this.processor, {
      port: options.hooksPort,
      host: deps.hooksHost ?? '127.0.0.1',
      logger: this.logger,
      ...(deps.extractContext ? { extractContext: deps.extractContext } : {}),
      ...(deps.onFlush ? { onFlush: deps.onFlush } : {}),
      ...(deps.now ? { now: deps.now } : {}),
    });
  }

  get state(): LifecycleState {
    return this.stateValue;
  }

  subscribe(listener: LifecycleListener): () => void {
    return this.processor.subscribe(listener);
  }

  /**
   * Registers (unless given a registration from the early `register()` entry), starts the
   * listeners and subscribes to telemetry. Never throws.
   */
  async start(early?: Registration | Promise<Registration>, done: EarlyStart = {}): Promise<StartResult> {
    const t0 = this.now();
    const result: StartResult = { state: 'new', readyInMs: 0 };
    if (done.telemetry) this.telemetry.adopt(done.telemetry);
    // The sockets need no registration: bind them while it is on its way.
    const listening = Promise.all([this.telemetry.start(), this.hooks.start()]).then(
      (ports) => ({ ports, error: undefined }),
      (error: unknown) => ({ ports: undefined, error }),
    );
    const registration = await this.registerOnce(early);
    const bound = await listening;
    if (!registration) {
      await this.close();
      this.stateValue = 'unregistered';
      result.state = this.stateValue;
      result.readyInMs = this.now() - t0;
      return result;
    }
    result.registration = registration;
    this.client =
      done.client ?? new ExtensionsClient(this.options.runtimeApi ?? '', registration, { now: this.now });
    if (bound.ports) {
      [result.telemetryPort, result.hooksPort] = bound.ports;
    } else {
      this.fallBackToIdle(`a listener could not start: ${errorMessage(bound.error)}`);
    }
    if (this.stateValue !== 'idle') {
      try {
        result.telemetry = await (done.subscription ??
          subscribeTelemetry({
            runtimeApi: this.options.runtimeApi ?? '',
            extensionId: registration.extensionId,
            port: this.telemetry.port,
            logsEnabled: this.options.logsEnabled,
            managedInstances: this.options.managedInstances,
          }));
        if (result.telemetry === 'not-supported')
          this.logger.warn('Telemetry API is not supported here: running without platform events');
      } catch (err) {
        result.telemetry = 'failed';
        this.logger.warn(
          `telemetry subscription failed, running without platform events: ${errorMessage(err)}`,
        );
      }
      if (result.telemetry !== 'subscribed') this.processor.telemetryUnavailable();
    }
    if (this.stateValue === 'new') this.stateValue = 'ready';
    result.state = this.stateValue;
    result.readyInMs = this.now() - t0;
    if (this.stateValue === 'ready') this.logger.info(`lifecycle ready in ${result.readyInMs} ms`);
    return result;
  }

  /** Any internal fatal error (the app calls this from its crash guards too): keep the function alive, say why once. */
  fallBackToIdle(reason: string): void {
    if (this.idleReason !== undefined || this.stateValue === 'shutdown') return;
    this.idleReason = reason;
    if (this.stateValue !== 'unregistered') this.stateValue = 'idle';
    this.logger.error(`falling back to a plain event loop without instrumentation: ${reason}`);
    void this.telemetry.close().catch(() => {});
    void this.hooks.close().catch(() => {});
  }

  /** The `next` loop. Resolves with the SHUTDOWN event once everything is handed over. */
  async run(handlers: LoopHandlers = {}): Promise<ShutdownEvent> {
    const client = this.client;
    if (!client) return this.stayAliveUnregistered();
    let failures = 0;
    for (;;) {
      let event: ExtensionEvent;
      try {
        event = await client.next();
        failures = 0;
      } catch (err) {
        if (!this.options.managedInstances) {
          // As the real extension: an event/next error is a SHUTDOWN with reason `panic`, handled
          // at once (final flush included), not retried.
          this.logger.error(`event/next failed, shutting down: ${errorMessage(err)}`);
          const panic: ShutdownEvent = {
            eventType: 'SHUTDOWN',
            shutdownReason: 'panic',
            deadlineMs: this.now(),
          };
          await this.shutdown(panic, handlers);
          return panic;
        }
        // Managed instances: the real extension's `next` task retries.
        failures++;
        if (failures === 1) this.logger.warn(`event/next failed, retrying: ${errorMessage(err)}`);
        if (failures >= 20) {
          this.logger.error('event/next keeps failing: stopping');
          this.stateValue = 'shutdown';
          return { eventType: 'SHUTDOWN', shutdownReason: 'panic', deadlineMs: this.now() };
        }
        await sleep(Math.min(1000, 50 * failures));
        continue;
      }
      if (event.eventType === 'SHUTDOWN') {
        await this.shutdown(event, handlers);
        return event;
      }
      if (this.stateValue === 'idle') continue;
      try {
        this.processor.onInvoke(event, client.receivedAt);
        await handlers.onInvoke?.(event);
      } catch (err) {
        this.fallBackToIdle(`invocation handling failed: ${errorMessage(err)}`);
      }
    }
  }

  /** Stops the listeners (for tests and for apps that end the loop themselves). */
  async close(): Promise<void> {
    await Promise.all([this.telemetry.close(), this.hooks.close()]);
  }

  private async shutdown(event: ShutdownEvent, handlers: LoopHandlers): Promise<void> {
    if (this.stateValue !== 'idle') {
      try {
        // Reports of the last invocation may still be on their way; give them a short, bounded wait.
        const budget = Math.min(SHUTDOWN_REPORT_WAIT_MS, Math.max(0, event.deadlineMs - this.now() - 500));
        const until = this.now() + budget;
        while (this.processor.pending().length > 0 && this.now() < until) await sleep(5);
        this.telemetry.drain();
        this.processor.onShutdown(event);
        await handlers.onShutdown?.(event);
      } catch (err) {
        this.logger.error(`shutdown handling failed: ${errorMessage(err)}`);
      }
    }
    this.stateValue = 'shutdown';
    await this.close();
  }

  private async registerOnce(
    early?: Registration | Promise<Registration>,
  ): Promise<Registration | undefined> {
    let lastError: unknown;
    for (let attempt = 0; attempt < REGISTER_ATTEMPTS; attempt++) {
      try {
        if (attempt === 0 && early) return await early;
        return await register({
          ...(this.options.runtimeApi ? { runtimeApi: this.options.runtimeApi } : {}),
          managedInstances: this.options.managedInstances,
          timeoutMs: 2000,
        });
      } catch (err) {
        lastError = err;
        // A 4xx will not get better by asking again.
        const status = (err as { status?: number }).status ?? 0;
        if (status >= 400 && status < 500) break;
        await sleep(20 * (attempt + 1));
      }
    }
    this.idleReason = `registration failed: ${errorMessage(lastError)}`;
    this.logger.error(`not registered with the Extensions API, staying out of the way: ${this.idleReason}`);
    return undefined;
  }

  private stayAliveUnregistered(): Promise<ShutdownEvent> {
    // Exiting during init would fail the function's init (Extension.Crash): stay, doing nothing.
    return new Promise((resolve) => {
      const timer = setInterval(() => {}, 1 << 30);
      process.once('SIGTERM', () => {
        clearInterval(timer);
        resolve({ eventType: 'SHUTDOWN', shutdownReason: 'spindown', deadlineMs: this.now() });
      });
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

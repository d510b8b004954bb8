import { Agent } from 'node:http';
import {
  EXTENSIONS_API_VERSION,
  ExtensionsApiError,
  errorTypeOf,
  lambdaApiRequest,
  lambdaApiRequestRetried,
  type Registration,
} from './register.cjs';

export interface TracingHeader {
  type: string;
  value: string;
}

export interface InvokeEvent {
  eventType: 'INVOKE';
  requestId: string;
  deadlineMs: number;
  invokedFunctionArn: string;
  tracing?: TracingHeader;
}

export type ShutdownReason = 'spindown' | 'timeout' | 'failure' | string;

export interface ShutdownEvent {
  eventType: 'SHUTDOWN';
  shutdownReason: ShutdownReason;
  deadlineMs: number;
}

export type ExtensionEvent = InvokeEvent | ShutdownEvent;

export interface ErrorReport {
  errorMessage: string;
  errorType: string;
  stackTrace?: string[];
}

/** The Extensions API after registration: `event/next`, and the two error reports. */
export class ExtensionsClient {
  // `next` goes out on the connection the previous event came back on: written at once, before
  // anything else the event set off gets the thread (a new connection is only written to once
  // its connect is seen, a turn of the event loop later, after timers and other I/O). That
  // connection is never idle: it carries the pending `next` through the freeze.
  private readonly nextAgent: Agent;
  private readonly now: () => number;
  private prefetched: Promise<ExtensionEvent> | undefined;
  /** When the event `next` last resolved with came back (it may have waited for its taker). */
  receivedAt = 0;

  constructor(
    readonly runtimeApi: string,
    readonly registration: Registration,
    options: {
      now?: () => number;
      /** The kept-alive agent registration went out on, reused. */
      agent?: Agent;
    } = {},
  ) {
    this.now = options.now ?? Date.now;
    this.nextAgent = options.agent ?? new Agent({ keepAlive: true, maxSockets: 1 });
  }

  get extensionId(): string {
    return this.registration.extensionId;
  }

  /**
   * Sends `event/next` now, before its taker is ready (an entry that says "init done" while the rest
   * of the extension still loads); the next call of `next()` resolves with its answer, which waits
   * for it however early it came. A failure is that call's failure.
   */
  prefetchNext(): void {
    if (this.prefetched) return;
    this.prefetched = this.ask();
    this.prefetched.catch(() => {});
  }

  /** Blocks until Lambda has an event for us; calling it also says "done with this phase". */
  next(): Promise<ExtensionEvent> {
    const pending = this.prefetched;
    this.prefetched = undefined;
    return pending ?? this.ask();
  }

  private async ask(): Promise<ExtensionEvent> {
    const res = await lambdaApiRequestRetried(
      this.runtimeApi,
      'GET',
      `/${EXTENSIONS_API_VERSION}/extension/event/next`,
      { 'lambda-extension-identifier': this.extensionId },
      undefined,
      undefined,
      this.nextAgent,
    );
    if (res.status !== 200) {
      const errorType = errorTypeOf(res.body);
      throw new ExtensionsApiError(
        `event/next answered ${res.status}${errorType ? ` ${errorType}` : ''}`,
        res.status,
        errorType,
      );
    }
    const event = parseExtensionEvent(res.body);
    this.receivedAt = this.now();
    return event;
  }

  /** Fails the function's init. The loop never calls it for a fault of its own. */
  initError(functionErrorType: string, report?: ErrorReport): Promise<number> {
    return this.reportError('init', functionErrorType, report);
  }

  /** Reports an error just before exiting. */
  exitError(functionErrorType: string, report?: ErrorReport): Promise<number> {
    return this.reportError('exit', functionErrorType, report);
  }

  private async reportError(kind: 'init' | 'exit', type: string, report?: ErrorReport): Promise<number> {
    const res = await lambdaApiRequest(
      this.runtimeApi,
      'POST',
      `/${EXTENSIONS_API_VERSION}/extension/${kind}/error`,
      { 'lambda-extension-identifier': this.extensionId, 'lambda-extension-function-error-type': type },
      report ? JSON.stringify(report) : undefined,
      2000,
    );
    return res.status;
  }
}

export function parseExtensionEvent(body: string): ExtensionEvent {
  const raw = JSON.parse(body) as Record<string, unknown>;
  const deadlineMs = typeof raw['deadlineMs'] === 'number' ? raw['deadlineMs'] : 0;
  if (raw['eventType'] === 'INVOKE') {
    const event: InvokeEvent = {
      eventType: 'INVOKE',
      requestId: String(raw['requestId'] ?? ''),
      deadlineMs,
      invokedFunctionArn: String(raw['invokedFunctionArn'] ?? ''),
    };
    const tracing = raw['tracing'] as Partial<TracingHeader> | undefined;
    if (tracing && typeof tracing.value === 'string') {
      event.tracing = { type: String(tracing.type ?? 'X-Amzn-Trace-Id'), value: tracing.value };
    }
    return event;
  }
  if (raw['eventType'] === 'SHUTDOWN') {
    return { eventType: 'SHUTDOWN', shutdownReason: String(raw['shutdownReason'] ?? 'unknown'), deadlineMs };
  }
  throw new Error(`unknown extension event type ${JSON.stringify(raw['eventType'])}`);
}

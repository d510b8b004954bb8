// Fault rules: which requests they catch and what the intake does instead of answering normally.

export type PathMatcher = string | RegExp | ((path: string) => boolean);

export interface FaultMatch {
  /** Exact path, a prefix ending in `*`, `*` for every path, a RegExp or a predicate. Default `*`. */
  path?: PathMatcher;
  /** Host the client addressed (Host header or proxy target, without port), exact or RegExp. */
  destination?: string | RegExp;
  /** Only requests carrying this API key (lets tests fail one of several endpoints). */
  apiKey?: string;
  method?: string;
}

export type FaultAction =
  /** Answer with this status (500, 503, 429, 403, 413, ...) and optional body and headers. */
  | { status: number; body?: string; headers?: Record<string, string>; delayMs?: number }
  /** Hold the answer for delayMs, then process the request normally. */
  | { delayMs: number; status?: undefined }
  /** Destroy the connection (the client sees a reset / socket hang up). */
  | { reset: true; delayMs?: number }
  /** Never answer; the socket stays open until the client gives up or the intake stops. */
  | { blackhole: true }
  /**
   * Take the request as normal (its data is accepted and reaches the query helpers), then reset the
   * connection instead of answering: the client cannot know it arrived, so a retry duplicates it.
   */
  | { loseAnswer: true; delayMs?: number };

export type FaultSpec = FaultMatch &
  FaultAction & {
    /** Apply to this many matching requests, then stop (the endpoint recovers). Default: forever. */
    times?: number;
    /** Let this many matching requests through before the fault starts. Default 0. */
    after?: number;
  };

export interface FaultHandle {
  readonly id: number;
  /** How many requests this fault has answered so far. */
  readonly hits: number;
  /** True once `times` is used up or the fault was removed. */
  readonly spent: boolean;
  remove(): void;
}

export interface RequestFacts {
  path: string;
  method: string;
  destination: string;
  apiKey: string | undefined;
}

export class FaultRule implements FaultHandle {
  hits = 0;
  private seen = 0;
  removed = false;

  constructor(
    readonly id: number,
    readonly spec: FaultSpec,
    private readonly onRemove: (rule: FaultRule) => void,
  ) {}

  get spent(): boolean {
    return this.removed || (this.spec.times !== undefined && this.hits >= this.spec.times);
  }

  remove(): void {
    this.removed = true;
    this.onRemove(this);
  }

  matches(req: RequestFacts): boolean {
    const s = this.spec;
    if (s.method && s.method.toUpperCase() !== req.method) return false;
    if (s.apiKey !== undefined && s.apiKey !== req.apiKey) return false;
    if (s.destination !== undefined && !matchString(s.destination, req.destination)) return false;
    return matchPath(s.path ?? '*', req.path);
  }

  /** Called for a matching request: true if the fault applies to it (counts `after` and `times`). */
  take(): boolean {
    if (this.spent) return false;
    this.seen++;
    if (this.seen <= (this.spec.after ?? 0)) return false;
    this.hits++;
    return true;
  }

  describe(): string {
    const s = this.spec as FaultSpec &
      Partial<{ status: number; reset: true; blackhole: true; loseAnswer: true; delayMs: number }>;
    const what = s.blackhole
      ? 'blackhole'
      : s.loseAnswer
        ? 'lost answer'
        : s.reset
          ? 'reset'
          : s.status !== undefined
            ? `status ${s.status}`
            : `delay ${s.delayMs}ms`;
    return `fault #${this.id} (${what})`;
  }
}

function matchString(m: string | RegExp, value: string): boolean {
  return typeof m === 'string' ? m.toLowerCase() === value.toLowerCase() : m.test(value);
}

export function matchPath(m: PathMatcher, path: string): boolean {
  if (typeof m === 'function') return m(path);
  if (m instanceof RegExp) return m.test(path);
  if (m === '*') return true;
  if (m.endsWith('*')) return path.startsWith(m.slice(0, -1));
  return path === m || path === `${m}/` || `${path}/` === m;
}

/** The published state of one destination, for the flush strategy. */
export interface DestinationHealth {
  destination: string;
  healthy: boolean;
  consecutiveFailures: number;
}

export type HealthListener = (state: DestinationHealth) => void;

/**
 * Consecutive failures mark a destination unhealthy; one success (a probe) marks it healthy again.
 * Listeners hear only changes.
 */
export class HealthTracker {
  readonly #threshold: number;
  readonly #states = new Map<string, DestinationHealth>();
  readonly #listeners = new Set<HealthListener>();

  constructor(threshold: number) {
    this.#threshold = Math.max(1, threshold);
  }

  register(destination: string): void {
    if (!this.#states.has(destination))
      this.#states.set(destination, { destination, healthy: true, consecutiveFailures: 0 });
  }

  isHealthy(destination: string): boolean {
    return this.#states.get(destination)?.healthy ?? true;
  }

  success(destination: string): void {
    const s = this.#get(destination);
    const changed = !s.healthy;
    s.consecutiveFailures = 0;
    s.healthy = true;
    if (changed) this.#emit(s);
  }

  failure(destination: string): void {
    const s = this.#get(destination);
    s.consecutiveFailures++;
    if (s.healthy && s.consecutiveFailures >= this.#threshold) {
      s.healthy = false;
      this.#emit(s);
    }
  }

  snapshot(): DestinationHealth[] {
    return [...this.#states.values()].map((s) => ({ ...s }));
  }

  onChange(listener: HealthListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #get(destination: string): DestinationHealth {
    this.register(destination);
    return this.#states.get(destination)!;
  }

  #emit(s: DestinationHealth): void {
    for (const l of this.#listeners) {
      try {
        l({ ...s });
      } catch {
        // A listener's bug must not break delivery.
      }
    }
  }
}

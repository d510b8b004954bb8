/**
 * Parsed metric lines waiting to be aggregated, in arrival order: per line the identity's index,
 * the bucket time, the sample rate and its values. Appending touches only these few sequential
 * arrays; aggregating a few thousand lines at once then finds the contexts and sketches they
 * update still in the CPU cache, where one line at a time, between two datagrams, the kernel's
 * and the runtime's work has evicted them (each miss costs more than parsing a line).
 */
export class SampleLog {
  readonly ids: Int32Array;
  readonly times: Float64Array;
  readonly rates: Float64Array;
  /** Values of line i: `values[starts[i] … starts[i + 1])` (`starts[length]` = `valueCount`). */
  readonly starts: Int32Array;
  readonly values: Float64Array;
  length = 0;
  valueCount = 0;

  constructor(
    readonly lineCapacity = 4096,
    readonly valueCapacity = 8192,
  ) {
    this.ids = new Int32Array(lineCapacity);
    this.times = new Float64Array(lineCapacity);
    this.rates = new Float64Array(lineCapacity);
    this.starts = new Int32Array(lineCapacity + 1);
    this.values = new Float64Array(valueCapacity);
  }

  /** Whether a line of `n` values fits; when not, the log must be drained first. */
  fits(n: number): boolean {
    return this.length < this.lineCapacity && this.valueCount + n <= this.valueCapacity;
  }

  /** Opens a line; its values follow with `value()`. */
  line(id: number, time: number, rate: number): void {
    const i = this.length++;
    this.ids[i] = id;
    this.times[i] = time;
    this.rates[i] = rate;
    this.starts[i] = this.valueCount;
  }

  value(v: number): void {
    this.values[this.valueCount++] = v;
  }

  /** Closes the last line; `starts[length]` is then the end of its values. */
  end(): void {
    this.starts[this.length] = this.valueCount;
  }

  clear(): void {
    this.length = 0;
    this.valueCount = 0;
  }
}

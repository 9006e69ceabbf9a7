/**
 * A prom-client Histogram with a fast path for the observations made on every operation (an
 * operation's duration, each request to a replica).
 *
 * prom-client's observe checks the label names, hashes the label set into a string and looks it
 * up on every call, and startTimer adds two closures, two hrtime calls and a copy of the labels:
 * about 3 % of a node's main-thread time under load, in a profile. Here a label set's cell is
 * looked up once and kept; observing is then a sum, a count and one bucket.
 *
 * The cell updates the very record prom-client keeps for that label set (made with its public
 * zero()), so the exposition is prom-client's own: test/unit/observability-hot-histogram.test.ts
 * checks that the text is identical to plain observe() calls, which also catches a prom-client
 * release that stores its records differently.
 */
import { Histogram, HistogramConfiguration, LabelValues } from 'prom-client';

/** The record prom-client keeps for one label set of a histogram. */
interface SeriesRecord {
  readonly labels: object;
  sum: number;
  count: number;
  readonly bucketValues: { [bound: number]: number };
}

/** One label set of a HotHistogram. */
export class HistogramCell {
  constructor(
    private readonly owner: HotHistogram<string>,
    private readonly labels: object,
    private record: SeriesRecord,
    private generation: number,
  ) {}

  /** As Histogram.observe(labels, value), for this cell's labels. */
  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    // After a reset the record is gone from the histogram: take the new one.
    if (this.generation !== this.owner.generation) {
      this.record = this.owner.recordOf(this.labels);
      this.generation = this.owner.generation;
    }
    const r = this.record;
    r.sum += value;
    r.count += 1;
    const bounds = this.owner.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        r.bucketValues[bounds[i]!]! += 1;
        return;
      }
    }
  }
}

export class HotHistogram<T extends string> extends Histogram<T> {
  private readonly cells = new Map<string, HistogramCell>();
  /** Counts resets: a cell made before one looks its record up again. */
  generation = 0;
  private readonly names: readonly T[];

  constructor(config: HistogramConfiguration<T>) {
    super(config);
    this.names = config.labelNames ?? [];
  }

  /** The upper bounds of the buckets, in order (prom-client's own array). */
  get bounds(): readonly number[] {
    return (this as unknown as { upperBounds: readonly number[] }).upperBounds;
  }

  /**
   * The cell of one label set, given as its values in the order of the histogram's labelNames.
   * Made once per label set; later calls only join the values to find it.
   */
  cell(...values: string[]): HistogramCell {
    const key = values.join('\0');
    let cell = this.cells.get(key);
    if (cell === undefined) {
      if (values.length !== this.names.length) throw new Error(`HotHistogram: ${values.length} label values for the ${this.names.length} labels ${this.names.join(', ')}`);
      const labels = Object.fromEntries(this.names.map((name, i) => [name, values[i]!])) as LabelValues<T>;
      cell = new HistogramCell(this as unknown as HotHistogram<string>, labels, this.recordOf(labels), this.generation);
      this.cells.set(key, cell);
    }
    return cell;
  }

  /** prom-client's record for `labels`, made (zeroed) when it has none yet. */
  recordOf(labels: object): SeriesRecord {
    const find = () => Object.values((this as unknown as { hashMap: { [hash: string]: SeriesRecord } }).hashMap).find((r) => sameLabels(r.labels, labels));
    let record = find();
    if (record === undefined) {
      this.zero(labels as LabelValues<T>);
      record = find();
    }
    if (record === undefined || typeof record.sum !== 'number' || typeof record.bucketValues !== 'object') {
      throw new Error(`HotHistogram ${(this as unknown as { name: string }).name}: prom-client keeps its histogram records differently from what this fast path writes; see observability/hot-histogram.ts`);
    }
    return record;
  }

  override reset(): void {
    super.reset();
    this.generation++;
  }
}

function sameLabels(a: object, b: object): boolean {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => (a as { [k: string]: unknown })[k] === (b as { [k: string]: unknown })[k]);
}

// A Prometheus histogram whose observations live in plain typed arrays owned by the request
// path. prom-client's labelled children hash their label set on every observe() (about
// 0.8 µs each, measured on prom-client 15), so the hot path observes into HistogramCells
// and the registry reads every series' cells only when Prometheus scrapes.
import { Histogram, type Registry } from 'prom-client';

/** One series' observations: a count per bucket, the sum and the total count. */
export class HistogramCells {
  /** Non-cumulative; the last slot counts observations above the largest bound (+Inf). */
  private readonly perBucket: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly upperBounds: readonly number[]) {
    this.perBucket = new Float64Array(upperBounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.upperBounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.perBucket[i]! += 1;
    this.sum += value;
    this.count += 1;
  }

  /** Observations above upperBounds[index - 1] and at or below upperBounds[index]. */
  inBucket(index: number): number {
    return this.perBucket[index]!;
  }
}

export interface LiveSeries<L extends string> {
  readonly labels: Readonly<Record<L, string>>;
  readonly cells: HistogramCells;
}

export interface LiveHistogramConfig<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly buckets: readonly number[];
  readonly register: Registry;
  /** Called at every scrape; yields the series that exist right now. */
  readonly series: () => Iterable<LiveSeries<L>>;
}

/** The value rows prom-client's registry renders a histogram from (its own internal shape). */
interface ExpositionRow {
  readonly labels: Record<string, string | number>;
  readonly sharedLabels: Readonly<Record<string, string>>;
  readonly value: number;
  readonly metricName: string;
}

export class LiveHistogram<L extends string> extends Histogram<L> {
  private readonly exposition: { name: string; help: string; buckets: readonly number[] };
  private readonly liveSeries: () => Iterable<LiveSeries<L>>;

  constructor(config: LiveHistogramConfig<L>) {
    super({
      name: config.name,
      help: config.help,
      labelNames: config.labelNames,
      buckets: [...config.buckets],
      registers: [config.register],
    });
    this.exposition = { name: config.name, help: config.help, buckets: config.buckets };
    this.liveSeries = config.series;
  }

  // The registry renders a histogram through getForPromString() (and Histogram.get() builds
  // its JSON from it), so overriding it is the one place that exposes the live cells.
  // The unit tests read the scraped text, so a prom-client change here fails loudly.
  async getForPromString(): Promise<{
    name: string;
    help: string;
    type: 'histogram';
    values: ExpositionRow[];
    aggregator: 'sum';
  }> {
    const { name, help, buckets } = this.exposition;
    const values: ExpositionRow[] = [];
    for (const { labels, cells } of this.liveSeries()) {
      let cumulative = 0;
      for (let i = 0; i < buckets.length; i++) {
        cumulative += cells.inBucket(i);
        values.push({ labels: { le: buckets[i]! }, sharedLabels: labels, value: cumulative, metricName: `${name}_bucket` });
      }
      values.push(
        { labels: { le: '+Inf' }, sharedLabels: labels, value: cells.count, metricName: `${name}_bucket` },
        { labels: {}, sharedLabels: labels, value: cells.sum, metricName: `${name}_sum` },
        { labels: {}, sharedLabels: labels, value: cells.count, metricName: `${name}_count` },
      );
    }
    return { name, help, type: 'histogram', values, aggregator: 'sum' };
  }
}

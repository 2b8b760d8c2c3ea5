// The process's job metrics, kept in plain maps: what metricsHandler() renders as Prometheus
// text without any dependency. metrics.ts updates these and the OpenTelemetry instruments at the
// same call sites with the same values, so both report the same numbers.

/** Counted per queue; each is `sidetrack.jobs.<name>` in OpenTelemetry, `sidetrack_jobs_<name>_total` in Prometheus. */
export const COUNTERS = ["inserted", "started", "completed", "retried", "failed", "cancelled", "rescued", "snoozed"] as const;
export type CounterName = (typeof COUNTERS)[number];

/** Histogram bounds in seconds: from a few milliseconds (a quick job) to an hour (a long backlog). */
export const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600] as const;

export const HISTOGRAMS = ["duration", "lag"] as const;
export type HistogramName = (typeof HISTOGRAMS)[number];

export interface HistogramData {
  /** Per bound of SECONDS_BUCKETS, observations at or under it (not cumulative). */
  buckets: number[];
  /** Observations over the last bound. */
  over: number;
  sum: number;
  count: number;
}

/** One unfinished (queue, state) pair as the gauge query last read it. */
export interface GaugeRow {
  queue: string;
  state: string;
  count: number;
  oldestReadyAgeSeconds: number | null;
}

export class MetricsRegistry {
  readonly counters = new Map<CounterName, Map<string, number>>(COUNTERS.map((c) => [c, new Map()]));
  readonly histograms = new Map<HistogramName, Map<string, HistogramData>>(HISTOGRAMS.map((h) => [h, new Map()]));
  /** Per schema, the latest gauge rows (schemas keep apart two instances that share a queue name). */
  readonly gauges = new Map<string, GaugeRow[]>();

  add(counter: CounterName, queue: string, n = 1): void {
    const byQueue = this.counters.get(counter)!;
    byQueue.set(queue, (byQueue.get(queue) ?? 0) + n);
  }

  observe(histogram: HistogramName, queue: string, seconds: number): void {
    const byQueue = this.histograms.get(histogram)!;
    let data = byQueue.get(queue);
    if (!data) byQueue.set(queue, (data = { buckets: SECONDS_BUCKETS.map(() => 0), over: 0, sum: 0, count: 0 }));
    const i = SECONDS_BUCKETS.findIndex((bound) => seconds <= bound);
    if (i === -1) data.over++;
    else data.buckets[i]!++;
    data.sum += seconds;
    data.count++;
  }

  /** Every gauge row of every schema polled. */
  gaugeRows(): GaugeRow[] {
    return [...this.gauges.values()].flat();
  }
}

/** One registry per process, like the OpenTelemetry global meter provider. */
export const registry = new MetricsRegistry();

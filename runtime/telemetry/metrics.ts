// Job metrics: counters, histograms and the gauges' poller. Every record goes to the process
// registry (registry.ts, rendered by metricsHandler) and, when @opentelemetry/api is loaded, to
// OpenTelemetry instruments of the same names, so both report the same numbers.
import type pg from "pg";
import type { Counter, Histogram, Meter, MeterProvider } from "@opentelemetry/api";
import { GAUGE_POLL_INTERVAL_MS } from "../config/defaults.js";
import { jobGaugesSql } from "../db/sql/jobGauges.js";
import { INSTRUMENTATION_NAME, otel } from "./otel.js";
import { COUNTERS, registry, SECONDS_BUCKETS, type CounterName, type HistogramName } from "./registry.js";

/** The OpenTelemetry name of each histogram (unit seconds) and what it measures. */
export const HISTOGRAM_INSTRUMENTS: Record<HistogramName, { name: string; description: string }> = {
  duration: { name: "sidetrack.job.duration", description: "How long a handler ran, per attempt" },
  lag: { name: "sidetrack.job.lag", description: "Queue lag: handler start minus the job's run_at" },
};

interface Instruments {
  provider: MeterProvider;
  counters: Map<CounterName, Counter>;
  histograms: Map<HistogramName, Histogram>;
}

let instruments: Instruments | undefined;

/**
 * The instruments of the current global meter provider, made again when the provider changed
 * (an SDK registered after the first job would otherwise be fed no-op instruments forever).
 */
function currentInstruments(): Instruments | undefined {
  const api = otel();
  if (!api) return undefined;
  const provider = api.metrics.getMeterProvider();
  if (instruments?.provider === provider) return instruments;
  const meter = provider.getMeter(INSTRUMENTATION_NAME);
  instruments = {
    provider,
    counters: new Map(COUNTERS.map((c) => [c, meter.createCounter(`sidetrack.jobs.${c}`, { unit: "{job}", description: `Jobs ${c}` })])),
    histograms: new Map(
      (Object.keys(HISTOGRAM_INSTRUMENTS) as HistogramName[]).map((h) => [
        h,
        meter.createHistogram(HISTOGRAM_INSTRUMENTS[h].name, {
          unit: "s",
          description: HISTOGRAM_INSTRUMENTS[h].description,
          advice: { explicitBucketBoundaries: [...SECONDS_BUCKETS] },
        }),
      ]),
    ),
  };
  observeGauges(meter);
  return instruments;
}

export function countJobs(counter: CounterName, queue: string, n = 1): void {
  if (n === 0) return;
  registry.add(counter, queue, n);
  currentInstruments()?.counters.get(counter)!.add(n, { "messaging.destination.name": queue });
}

export function observeSeconds(histogram: HistogramName, queue: string, seconds: number): void {
  registry.observe(histogram, queue, seconds);
  currentInstruments()?.histograms.get(histogram)!.record(seconds, { "messaging.destination.name": queue });
}

/** Observable gauges over the poller's latest rows; observing them is what starts the poll. */
function observeGauges(meter: Meter): void {
  const jobs = meter.createObservableGauge("sidetrack.jobs", { unit: "{job}", description: "Unfinished jobs per queue and state" });
  const oldest = meter.createObservableGauge("sidetrack.queue.oldest_ready_age", {
    unit: "s",
    description: "Age of the oldest job a worker may claim now",
  });
  meter.addBatchObservableCallback(
    async (result) => {
      await gauges.want();
      for (const row of registry.gaugeRows()) {
        result.observe(jobs, row.count, { "messaging.destination.name": row.queue, "sidetrack.job.state": row.state });
      }
      for (const [queue, age] of oldestReadyAges()) result.observe(oldest, age, { "messaging.destination.name": queue });
    },
    [jobs, oldest],
  );
}

/** Per queue, the oldest ready job's age in seconds (0 when none is ready: nothing waits). */
export function oldestReadyAges(): Map<string, number> {
  const ages = new Map<string, number>();
  for (const row of registry.gaugeRows()) {
    ages.set(row.queue, Math.max(ages.get(row.queue) ?? 0, row.oldestReadyAgeSeconds ?? 0));
  }
  return ages;
}

/**
 * Reads the gauges of every schema a worker of this process works in, every
 * GAUGE_POLL_INTERVAL_MS, and only after a reader or a scrape first asked: a process nobody
 * observes sends no query. A scrape reads the latest poll; it never queries itself.
 */
class GaugePoller {
  readonly #sources = new Map<string, pg.Pool>();
  #timer: NodeJS.Timeout | undefined;
  #first: Promise<void> | undefined;

  add(schema: string, pool: pg.Pool): void {
    this.#sources.set(schema, pool);
  }

  remove(schema: string, pool: pg.Pool): void {
    if (this.#sources.get(schema) !== pool) return;
    this.#sources.delete(schema);
    registry.gauges.delete(schema);
    if (this.#sources.size === 0) this.#stop();
  }

  /** Starts polling if it is not running; resolves once the first poll since then is done. */
  want(): Promise<void> {
    if (this.#sources.size === 0) return Promise.resolve();
    if (!this.#timer) {
      this.#first = this.#poll();
      this.#timer = setInterval(() => void this.#poll(), GAUGE_POLL_INTERVAL_MS);
      this.#timer.unref();
    }
    return this.#first!;
  }

  async #poll(): Promise<void> {
    await Promise.all(
      [...this.#sources].map(async ([schema, pool]) => {
        try {
          const { rows } = await pool.query<{ queue: string; status: string; count: string; oldest_ready_age_ms: string | null }>(jobGaugesSql(schema));
          registry.gauges.set(
            schema,
            rows.map((r) => ({
              queue: r.queue,
              state: r.status,
              count: Number(r.count),
              oldestReadyAgeSeconds: r.oldest_ready_age_ms === null ? null : Number(r.oldest_ready_age_ms) / 1000,
            })),
          );
        } catch {
          // A failed poll keeps the previous numbers; the worker reports database trouble itself.
        }
      }),
    );
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#first = undefined;
  }
}

export const gauges = new GaugePoller();

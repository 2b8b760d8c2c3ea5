// Job metrics with the real OpenTelemetry metrics SDK: the counters and histograms equal what
// the handlers recorded, the gauges read the unfinished jobs, and the Prometheus text served
// by metricsHandler() parses with a Prometheus exposition-format parser and says the same.
import { createServer } from "node:http";
import { metrics } from "@opentelemetry/api";
import { MeterProvider, MetricReader, type DataPoint, type Histogram } from "@opentelemetry/sdk-metrics";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metricsHandler, PROMETHEUS_CONTENT_TYPE, runMigrations, Sidetrack } from "../../runtime/index.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";

interface Family {
  name: string;
  type: string;
  metrics: { labels?: Record<string, string>; value?: string; buckets?: Record<string, string> }[];
}
const parse = (text: string) => parsePrometheusTextFormat(text) as Family[];

class TestReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

type Queues = { ok: { n: number }; bad: { n: number }; again: { n: number }; idle: { n: number } };

const reader = new TestReader();
let db: TestDatabase;
let sidetrack: Sidetrack<Queues>;

async function record(queue: string, attempt: number, outcome: "completed" | "threw"): Promise<void> {
  await db.pool.query("insert into runs (queue, attempt, outcome, at) values ($1, $2, $3, clock_timestamp())", [queue, attempt, outcome]);
}

beforeAll(async () => {
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  db = await createTestDatabase("telemetry_metrics");
  await runMigrations({ pool: db.pool });
  await db.pool.query("create table runs (queue text, attempt int, outcome text, at timestamptz)");
  sidetrack = new Sidetrack<Queues>({
    databaseOptions: { connectionString: db.url, max: 4 },
    handleSignals: false,
    pollInterval: 100,
    queues: {
      ok: { handler: (job) => record("ok", job.attempt, "completed") },
      bad: {
        maxAttempts: 1,
        handler: async (job) => {
          await record("bad", job.attempt, "threw");
          throw new Error("always broken");
        },
      },
      again: {
        maxAttempts: 2,
        backoff: { base: 1, max: 1 },
        handler: async (job) => {
          await record("again", job.attempt, job.attempt === 1 ? "threw" : "completed");
          if (job.attempt === 1) throw new Error("first attempt breaks");
        },
      },
      // No handler here: its jobs wait, for the gauges.
      idle: {},
    },
  });
  let finals = 0;
  const allFinal = new Promise<void>((resolve) => {
    const onFinal = () => ++finals === 10 && resolve();
    sidetrack.on("job:completed", onFinal).on("job:failed", onFinal);
  });
  await sidetrack.start();
  await sidetrack.insertJobs("idle", [{ n: 1 }, { n: 2 }], { runAt: new Date(Date.now() - 3_600_000) });
  await sidetrack.insertJob("idle", { n: 3 }, { delay: "1h" });
  await sidetrack.insertJobs("ok", [1, 2, 3, 4, 5].map((n) => ({ n })));
  await sidetrack.insertJobs("bad", [{ n: 1 }, { n: 2 }]);
  await sidetrack.insertJobs("again", [{ n: 1 }, { n: 2 }, { n: 3 }]);
  await allFinal;
});

afterAll(async () => {
  await sidetrack?.stop();
});

/** From the handlers' records: attempts started, and attempts by what they led to, per queue. */
async function expectedCounts() {
  const { rows } = await db.pool.query<{ queue: string; attempt: number; outcome: string }>("select queue, attempt, outcome from runs");
  const count = (f: (r: (typeof rows)[number]) => boolean) => {
    const by: Record<string, number> = {};
    for (const r of rows.filter(f)) by[r.queue] = (by[r.queue] ?? 0) + 1;
    return by;
  };
  const maxAttempts: Record<string, number> = { ok: 25, bad: 1, again: 2 };
  return {
    started: count(() => true),
    completed: count((r) => r.outcome === "completed"),
    failed: count((r) => r.outcome === "threw" && r.attempt >= maxAttempts[r.queue]!),
    retried: count((r) => r.outcome === "threw" && r.attempt < maxAttempts[r.queue]!),
  };
}

async function otelMetrics() {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  const all = resourceMetrics.scopeMetrics.filter((s) => s.scope.name === "sidetrack").flatMap((s) => s.metrics);
  const points = (name: string) => (all.find((m) => m.descriptor.name === name)?.dataPoints ?? []) as DataPoint<number | Histogram>[];
  const byQueue = (name: string, value: (p: DataPoint<number | Histogram>) => number = (p) => p.value as number) =>
    Object.fromEntries(points(name).map((p) => [p.attributes["messaging.destination.name"], value(p)]));
  return { points, byQueue };
}

describe("job metrics", () => {
  it("counts what the handlers recorded, in the OpenTelemetry meter", async () => {
    const expected = await expectedCounts();
    expect(expected.started).toEqual({ ok: 5, bad: 2, again: 6 });
    const { byQueue, points } = await otelMetrics();
    expect(byQueue("sidetrack.jobs.inserted")).toEqual({ idle: 3, ok: 5, bad: 2, again: 3 });
    expect(byQueue("sidetrack.jobs.started")).toEqual(expected.started);
    expect(byQueue("sidetrack.jobs.completed")).toEqual(expected.completed);
    expect(byQueue("sidetrack.jobs.failed")).toEqual(expected.failed);
    expect(byQueue("sidetrack.jobs.retried")).toEqual(expected.retried);
    expect(byQueue("sidetrack.job.duration", (p) => (p.value as Histogram).count)).toEqual(expected.started);
    expect(byQueue("sidetrack.job.lag", (p) => (p.value as Histogram).count)).toEqual(expected.started);

    // Gauges: the idle queue's two ready jobs and one future job; the oldest ready one is an hour old.
    const jobs = points("sidetrack.jobs").filter((p) => p.attributes["messaging.destination.name"] === "idle");
    expect(Object.fromEntries(jobs.map((p) => [p.attributes["sidetrack.job.state"], p.value]))).toEqual({ scheduled: 3 });
    const oldest = points("sidetrack.queue.oldest_ready_age").find((p) => p.attributes["messaging.destination.name"] === "idle");
    expect(oldest?.value).toBeGreaterThanOrEqual(3600);
  });

  it("serves the same numbers as Prometheus text that a Prometheus parser reads", async () => {
    const server = createServer(metricsHandler());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const response = await fetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/metrics`);
      expect(response.headers.get("content-type")).toBe(PROMETHEUS_CONTENT_TYPE);
      const text = await response.text();
      const families = parse(text);
      const family = (name: string) => families.find((f) => f.name === name)!;
      const byQueue = (name: string) => Object.fromEntries(family(name).metrics.map((m) => [m.labels!.queue, Number(m.value)]));

      const { byQueue: otel } = await otelMetrics();
      for (const counter of ["inserted", "started", "completed", "failed", "retried"]) {
        expect(family(`sidetrack_jobs_${counter}_total`).type).toBe("COUNTER");
        expect(byQueue(`sidetrack_jobs_${counter}_total`)).toEqual(otel(`sidetrack.jobs.${counter}`));
      }
      // This parser merges a histogram family into one series, so each queue's series is parsed
      // on its own (the family's header and that queue's lines); its +Inf bucket counts them all.
      const { started } = await expectedCounts();
      for (const name of ["sidetrack_job_duration_seconds", "sidetrack_job_lag_seconds"]) {
        expect(family(name).type).toBe("HISTOGRAM");
        const counts: Record<string, number> = {};
        for (const queue of Object.keys(started)) {
          const lines = text.split("\n").filter((l) => l.startsWith(`# TYPE ${name} `) || (l.startsWith(`${name}_`) && l.includes(`queue="${queue}"`)));
          const [series] = parse(`${lines.join("\n")}\n`);
          counts[queue] = Number(series!.metrics[0]!.buckets!["+Inf"]);
          expect(Object.keys(series!.metrics[0]!.buckets!)).toHaveLength(17);
        }
        expect(counts).toEqual(started);
      }
      const idle = family("sidetrack_jobs").metrics.filter((m) => m.labels!.queue === "idle");
      expect(idle.map((m) => [m.labels!.state, Number(m.value)])).toEqual([["scheduled", 3]]);
      expect(byQueue("sidetrack_queue_oldest_ready_age_seconds").idle).toBeGreaterThanOrEqual(3600);
    } finally {
      server.close();
    }
  });
});

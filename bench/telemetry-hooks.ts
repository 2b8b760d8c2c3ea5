// `npx tsx bench/telemetry-hooks.ts`: CPU cost per job of the worker's telemetry hook
// (RunTelemetry: counters, histograms, the CONSUMER span) in-process, without PostgreSQL, in
// three states: @opentelemetry/api not loaded (as when it is not installed), loaded with no SDK,
// and with an SDK recording every span (BatchSpanProcessor to a discarding exporter) and metric.
// A burn-down figure on a shared machine varies by more than this cost; this isolates it.
import { metrics, trace } from "@opentelemetry/api";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import { loadOtel } from "../dist/runtime/telemetry/otel.js";
import { RunTelemetry } from "../dist/runtime/telemetry/run.js";
import type { Job } from "../dist/runtime/types.js";

const N = Number(process.argv[2] ?? 200_000);
const job: Job = {
  id: "1", queue: "bench", payload: { i: 1 }, status: "running", priority: 0, attempt: 1, maxAttempts: 25,
  runAt: new Date(), insertedAt: new Date(), startedAt: new Date(), completedAt: null, failedAt: null, cancelledAt: null,
  finalizedAt: null, lockedBy: "w", lockedUntil: new Date(), errors: [], uniqueKey: null, output: null, progress: null, snoozes: 0, tags: [],
  meta: { "sidetrack.trace": { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" } },
};
const handler = () => undefined;

function perJobNs(): number {
  for (let i = 0; i < 20_000; i++) run(); // warm up
  const start = process.cpuUsage();
  for (let i = 0; i < N; i++) run();
  const used = process.cpuUsage(start);
  return Math.round(((used.user + used.system) * 1000) / N);
}

function run(): void {
  const t = new RunTelemetry(job, "link", "w");
  t.handler(handler)(job, { signal: undefined as never, progress: () => undefined });
  t.finish("completed");
}

const absent = perJobNs();
await loadOtel();
const noSdk = perJobNs();
const discard: SpanExporter = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => undefined };
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(discard)] }));
class Reader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [new Reader()] }));
const sdk = perJobNs();
console.log(JSON.stringify({ jobs: N, nsPerJob: { apiAbsent: absent, apiWithoutSdk: noSdk, sdkRecording: sdk } }));

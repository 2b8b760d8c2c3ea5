// Sidetrack's burn-down with an OpenTelemetry SDK recording everything: every attempt's
// CONSUMER span goes through a BatchSpanProcessor (to an exporter that discards, so the row
// measures Sidetrack's instrumentation and the SDK, not a collector), and every metric goes to
// a MeterProvider whose reader is collected once a second. The SDK is imported only when this
// row runs, so the other rows can be measured with @opentelemetry/api uninstalled.
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { Contender } from "../contender.js";
import { sidetrack } from "./sidetrack.js";

export const sidetrackOtel: Contender = {
  ...sidetrack,
  name: "sidetrack (OTel SDK recording)",
  burnDownOnly: true,
  async reset(url) {
    // Fails the row at once (in the bench process) when the SDK is not installed, rather than
    // in every worker process.
    await import("@opentelemetry/api");
    await import("@opentelemetry/sdk-trace-base");
    return sidetrack.reset(url);
  },
  async startWorker(url, concurrency, onJob, handlerMs) {
    const { metrics, trace } = await import("@opentelemetry/api");
    const { MeterProvider, MetricReader } = await import("@opentelemetry/sdk-metrics");
    const { BasicTracerProvider, BatchSpanProcessor } = await import("@opentelemetry/sdk-trace-base");
    const discard: SpanExporter = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => undefined };
    class Reader extends MetricReader {
      protected override async onForceFlush(): Promise<void> {}
      protected override async onShutdown(): Promise<void> {}
    }
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(discard)] }));
    const reader = new Reader();
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
    const collector = setInterval(() => void reader.collect(), 1_000);
    const stop = await sidetrack.startWorker(url, concurrency, onJob, handlerMs);
    return async () => {
      clearInterval(collector);
      await stop();
    };
  },
};

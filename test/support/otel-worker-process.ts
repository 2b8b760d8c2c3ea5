// A worker with the OpenTelemetry SDK in a process of its own, for the trace-propagation test:
// the job's trace context can only reach it through the database row.
// Env: DATABASE_URL, PARENT ("link" | "producer"). Runs queue `remote`; its handler starts a span
// of its own and records (job id, active trace id, active span id) into table `runs`.
// Prints "ready" once started, and each finished span as one line: `span <JSON>`.
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, SimpleSpanProcessor, type ReadableSpan, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import pg from "pg";
import { Sidetrack } from "../../runtime/index.js";

/** A real SDK exporter that writes each span to stdout, where the test reads it. */
const stdoutExporter: SpanExporter = {
  export(spans: ReadableSpan[], done) {
    for (const s of spans) {
      const line = {
        name: s.name,
        kind: s.kind,
        traceId: s.spanContext().traceId,
        spanId: s.spanContext().spanId,
        parentSpanId: s.parentSpanContext?.spanId,
        links: s.links.map((l) => ({ traceId: l.context.traceId, spanId: l.context.spanId })),
        attributes: s.attributes,
      };
      process.stdout.write(`span ${JSON.stringify(line)}\n`);
    }
    done({ code: 0 });
  },
  shutdown: async () => undefined,
};

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(stdoutExporter)] }));

const env = process.env;
const pool = new pg.Pool({ connectionString: env.DATABASE_URL!, max: 1 });
const sidetrack = new Sidetrack<{ remote: { email: string } }>({
  databaseOptions: { connectionString: env.DATABASE_URL!, max: 2 },
  handleSignals: false,
  pollInterval: 100,
  tracing: { parent: env.PARENT as "link" | "producer" },
  queues: {
    remote: {
      handler: async (job) => {
        const active = trace.getActiveSpan()?.spanContext();
        trace.getTracer("test").startSpan("remote handler work").end();
        await pool.query("insert into runs (job_id, trace_id, span_id, at) values ($1, $2, $3, clock_timestamp())", [job.id, active?.traceId, active?.spanId]);
      },
    },
  },
});

process.on("SIGTERM", () => {
  void sidetrack.stop().then(async () => {
    await pool.end();
    process.exit(0);
  });
});

await sidetrack.start();
console.log("ready");

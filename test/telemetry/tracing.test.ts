// Traces across two Sidetrack instances with the real OpenTelemetry SDK: an HTTP request's
// SERVER span inserts a job in a Prisma transaction (the PRODUCER span nests in it and its trace
// context is stored in the job), a worker of another instance runs it (the CONSUMER span links
// to, or is parented by, the producer; the handler's own spans are its children), a failing
// attempt records its exception, and every log line about a job carries its fields.
import { createServer, type Server } from "node:http";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import {
  ATTR_MESSAGING_BATCH_MESSAGE_COUNT,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
} from "@opentelemetry/semantic-conventions/incubating";
import { ATTR_ERROR_TYPE } from "@opentelemetry/semantic-conventions";
import { PrismaPg } from "@prisma/adapter-pg";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pinoLogger, runMigrations, Sidetrack, SidetrackValidationError, TRACE_META_KEY } from "../../runtime/index.js";
import { usePrisma } from "../../runtime/prisma.js";
import { ATTR } from "../../runtime/telemetry/tracing.js";
import { PrismaClient } from "../fixtures/prisma/generated/client.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { nextEvent } from "../support/events.js";
import { spawnWorker } from "../support/processes.js";

const otelWorkerScript = new URL("../support/otel-worker-process.ts", import.meta.url).pathname;

type Queues = { linked: { email: string }; parented: { email: string }; flaky: { n: number }; remote: { email: string } };

const exporter = new InMemorySpanExporter();
const tracer = trace.getTracer("test");
let db: TestDatabase;
let prisma: PrismaClient;
let producer: Sidetrack<Queues>;
let linkWorker: Sidetrack<Queues>;
let parentWorker: Sidetrack<Queues>;
let server: Server;
let url: string;
const logLines: Record<string, unknown>[] = [];

/** What a handler saw: its job and the span active while it ran, written by the handler. */
async function record(jobId: string): Promise<void> {
  const active = trace.getActiveSpan()?.spanContext();
  // A span of the handler's own work, which must be a child of the consumer span.
  tracer.startSpan("handler work").end();
  await db.pool.query("insert into runs (job_id, trace_id, span_id, at) values ($1, $2, $3, clock_timestamp())", [
    jobId,
    active?.traceId ?? null,
    active?.spanId ?? null,
  ]);
}

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  db = await createTestDatabase("telemetry_tracing");
  await runMigrations({ pool: db.pool });
  await db.pool.query(`create table "User" (id serial primary key, email text not null unique)`);
  await db.pool.query("create table runs (job_id text, trace_id text, span_id text, at timestamptz)");
  prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) });
  const connection = { databaseOptions: { connectionString: db.url, max: 3 }, handleSignals: false, pollInterval: 100 };
  // The producer knows the queues but runs none: the jobs cross to the worker instances through the database.
  producer = new Sidetrack<Queues>({ ...connection, queues: { linked: {}, parented: {}, flaky: { maxAttempts: 2 }, remote: {} } });
  const logger = pinoLogger(pino({ level: "debug" }, { write: (line: string) => void logLines.push(JSON.parse(line)) }));
  linkWorker = new Sidetrack<Queues>({
    ...connection,
    logger,
    queues: {
      linked: { handler: (job) => record(job.id) },
      parented: {},
      remote: {},
      flaky: {
        maxAttempts: 2,
        backoff: { base: 1, max: 1 },
        handler: async (job) => {
          await record(job.id);
          if (job.attempt === 1) throw new TypeError(`attempt ${job.attempt} of job ${job.id} broke`);
        },
      },
    },
  });
  parentWorker = new Sidetrack<Queues>({
    ...connection,
    tracing: { parent: "producer" },
    queues: { linked: {}, parented: { handler: (job) => record(job.id) }, flaky: {}, remote: {} },
  });
  await linkWorker.start();
  await parentWorker.start();

  // The application: each request signs a user up and inserts the queue's job in the same Prisma transaction.
  server = createServer((request, response) => {
    const queue = request.url!.slice(1) as keyof Queues;
    void tracer.startActiveSpan(`POST /${queue}`, { kind: SpanKind.SERVER }, async (span) => {
      const job = await prisma.$transaction(async (tx) => {
        const user = await tx.user.create({ data: { email: `${queue}-${Date.now()}@example.com` } });
        const payload = queue === "flaky" ? { n: user.id } : { email: user.email };
        return producer.insertJob(queue, payload as never, { dbClient: usePrisma(tx) });
      });
      span.end();
      response.end(JSON.stringify({ jobId: job.id, traceId: span.spanContext().traceId, spanId: span.spanContext().spanId }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  server?.close();
  await linkWorker?.stop();
  await parentWorker?.stop();
  await producer?.close();
  await prisma?.$disconnect();
});

async function request(queue: keyof Queues): Promise<{ jobId: string; traceId: string; spanId: string }> {
  return (await fetch(`${url}/${queue}`, { method: "POST" })).json() as Promise<{ jobId: string; traceId: string; spanId: string }>;
}

const spans = () => exporter.getFinishedSpans();
const byName = (name: string) => spans().filter((s) => s.name === name);

function consumersOf(jobId: string): ReadableSpan[] {
  return spans().filter((s) => s.kind === SpanKind.CONSUMER && s.attributes[ATTR_MESSAGING_MESSAGE_ID] === jobId);
}

async function handlerRuns(jobId: string) {
  const { rows } = await db.pool.query<{ trace_id: string; span_id: string }>("select trace_id, span_id from runs where job_id = $1 order by at", [jobId]);
  return rows;
}

describe("trace propagation from an HTTP request to a worker of another instance", () => {
  it("uses the attribute names of the messaging semantic conventions", () => {
    expect(ATTR.system).toBe(ATTR_MESSAGING_SYSTEM);
    expect(ATTR.destination).toBe(ATTR_MESSAGING_DESTINATION_NAME);
    expect(ATTR.messageId).toBe(ATTR_MESSAGING_MESSAGE_ID);
    expect(ATTR.batchCount).toBe(ATTR_MESSAGING_BATCH_MESSAGE_COUNT);
    expect(ATTR.operationName).toBe(ATTR_MESSAGING_OPERATION_NAME);
    expect(ATTR.operationType).toBe(ATTR_MESSAGING_OPERATION_TYPE);
    expect(ATTR.errorType).toBe(ATTR_ERROR_TYPE);
  });

  it("links the consumer span to the producer span nested in the request (default)", async () => {
    const done = nextEvent(linkWorker, "job:completed", (job) => job.queue === "linked");
    const http = await request("linked");
    await done;

    const send = spans().find((s) => s.kind === SpanKind.PRODUCER && s.attributes[ATTR_MESSAGING_MESSAGE_ID] === http.jobId)!;
    expect(send).toBeDefined();
    expect(send.name).toBe("send linked");
    expect(send.spanContext().traceId).toBe(http.traceId);
    expect(send.parentSpanContext?.spanId).toBe(http.spanId);
    expect(send.attributes).toMatchObject({ [ATTR_MESSAGING_SYSTEM]: "sidetrack", [ATTR_MESSAGING_DESTINATION_NAME]: "linked", [ATTR_MESSAGING_OPERATION_TYPE]: "send" });

    const stored = await db.pool.query("select meta from sidetrack.jobs where id = $1", [http.jobId]);
    expect(stored.rows[0].meta[TRACE_META_KEY].traceparent).toBe(`00-${http.traceId}-${send.spanContext().spanId}-01`);

    const [consumer] = consumersOf(http.jobId);
    expect(consumer).toBeDefined();
    expect(consumer!.name).toBe("process linked");
    expect(consumer!.spanContext().traceId).not.toBe(http.traceId);
    expect(consumer!.parentSpanContext).toBeUndefined();
    expect(consumer!.links.map((l) => [l.context.traceId, l.context.spanId])).toEqual([[http.traceId, send.spanContext().spanId]]);
    expect(consumer!.attributes).toMatchObject({
      [ATTR_MESSAGING_SYSTEM]: "sidetrack",
      [ATTR_MESSAGING_DESTINATION_NAME]: "linked",
      [ATTR_MESSAGING_OPERATION_TYPE]: "process",
      "sidetrack.job.attempt": 1,
      "sidetrack.job.outcome": "completed",
      "sidetrack.worker.id": linkWorker.workerId,
    });

    // The handler ran inside the consumer span, and its own span is the consumer's child.
    expect(await handlerRuns(http.jobId)).toEqual([{ trace_id: consumer!.spanContext().traceId, span_id: consumer!.spanContext().spanId }]);
    const work = byName("handler work").find((s) => s.parentSpanContext?.spanId === consumer!.spanContext().spanId);
    expect(work?.spanContext().traceId).toBe(consumer!.spanContext().traceId);
  });

  it("parents the consumer span by the producer span with tracing: { parent: \"producer\" }", async () => {
    const done = nextEvent(parentWorker, "job:completed", (job) => job.queue === "parented");
    const http = await request("parented");
    await done;
    const send = spans().find((s) => s.kind === SpanKind.PRODUCER && s.attributes[ATTR_MESSAGING_MESSAGE_ID] === http.jobId)!;
    const [consumer] = consumersOf(http.jobId);
    expect(consumer!.spanContext().traceId).toBe(http.traceId);
    expect(consumer!.parentSpanContext?.spanId).toBe(send.spanContext().spanId);
    expect(consumer!.links).toEqual([]);
    expect((await handlerRuns(http.jobId))[0]?.trace_id).toBe(http.traceId);
  });

  it("records a failing attempt's exception with error status, then the retry completes", async () => {
    const done = nextEvent(linkWorker, "job:completed", (job) => job.queue === "flaky");
    const http = await request("flaky");
    await done;
    const attempts = consumersOf(http.jobId).sort((a, b) => Number(a.attributes["sidetrack.job.attempt"]) - Number(b.attributes["sidetrack.job.attempt"]));
    expect(attempts.map((s) => [s.attributes["sidetrack.job.attempt"], s.attributes["sidetrack.job.outcome"], s.status.code])).toEqual([
      [1, "retrying", SpanStatusCode.ERROR],
      [2, "completed", SpanStatusCode.UNSET],
    ]);
    const exception = attempts[0]!.events.find((e) => e.name === "exception");
    expect(exception?.attributes).toMatchObject({ "exception.type": "TypeError", "exception.message": `attempt 1 of job ${http.jobId} broke` });
    expect(attempts[0]!.attributes[ATTR_ERROR_TYPE]).toBe("TypeError");
    // Both attempts link to the same insert.
    expect(new Set(attempts.map((s) => s.links[0]?.context.traceId))).toEqual(new Set([http.traceId]));

    // The failure's log line, through the pino adapter, carries the job's fields and the attempt's trace id.
    const line = logLines.find((l) => l.jobId === http.jobId);
    expect(line).toMatchObject({
      level: 40,
      jobId: http.jobId,
      queue: "flaky",
      attempt: 1,
      workerId: linkWorker.workerId,
      traceId: attempts[0]!.spanContext().traceId,
      outcome: "retrying",
    });
    expect(String(line!.msg)).toContain(`attempt 1 of 2 failed: attempt 1 of job ${http.jobId} broke; retrying`);
  });

  it("gives a batch insert one producer span with messaging.batch.message_count", async () => {
    const jobs = await tracer.startActiveSpan("batch", async (span) => {
      const inserted = await producer.insertJobs("linked", [{ email: "a" }, { email: "b" }, { email: "c" }]);
      span.end();
      return inserted;
    });
    const send = spans().find((s) => s.kind === SpanKind.PRODUCER && s.attributes[ATTR_MESSAGING_BATCH_MESSAGE_COUNT] === 3)!;
    expect(send).toBeDefined();
    const { rows } = await db.pool.query("select meta from sidetrack.jobs where id = any($1::bigint[])", [jobs.map((j) => j.id)]);
    expect(new Set(rows.map((r) => r.meta[TRACE_META_KEY].traceparent))).toEqual(new Set([`00-${send.spanContext().traceId}-${send.spanContext().spanId}-01`]));
  });
});

describe("trace propagation to a worker in another process", () => {
  for (const parent of ["link", "producer"] as const) {
    it(`carries the producer's trace id to the child's consumer span (${parent})`, async () => {
      const child = spawnWorker({ DATABASE_URL: db.url, PARENT: parent }, otelWorkerScript);
      try {
        await child.waitForLine(/^ready$/);
        const http = await request("remote");
        const line = await child.waitForLine(new RegExp(`^span .*"messaging\\.message\\.id":"${http.jobId}"`));
        const consumer = JSON.parse(line.slice("span ".length)) as {
          name: string; kind: number; traceId: string; spanId: string; parentSpanId?: string; links: { traceId: string; spanId: string }[];
          attributes: Record<string, unknown>;
        };
        const send = spans().find((s) => s.kind === SpanKind.PRODUCER && s.attributes[ATTR_MESSAGING_MESSAGE_ID] === http.jobId)!;
        expect(send.spanContext().traceId).toBe(http.traceId);
        expect(consumer.name).toBe("process remote");
        expect(consumer.kind).toBe(SpanKind.CONSUMER);
        expect(consumer.attributes["sidetrack.job.outcome"]).toBe("completed");
        if (parent === "link") {
          expect(consumer.traceId).not.toBe(http.traceId);
          expect(consumer.links).toEqual([{ traceId: http.traceId, spanId: send.spanContext().spanId }]);
        } else {
          expect(consumer.traceId).toBe(http.traceId);
          expect(consumer.parentSpanId).toBe(send.spanContext().spanId);
          expect(consumer.links).toEqual([]);
        }
        // The handler in the child ran inside that consumer span.
        expect(await handlerRuns(http.jobId)).toEqual([{ trace_id: consumer.traceId, span_id: consumer.spanId }]);
      } finally {
        child.child.kill("SIGTERM");
        await child.exited;
      }
    });
  }
});

describe("tracing option", () => {
  it("accepts only link or producer as tracing.parent, naming the field", () => {
    const make = (tracing: unknown) => () => new Sidetrack({ databaseUrl: db.url, queues: { q: {} }, tracing: tracing as never });
    expect(make({ parent: "producer" })).not.toThrow();
    expect(make({ parent: "child" })).toThrow(SidetrackValidationError);
    expect(make({ parent: "child" })).toThrow('tracing.parent must be "link" or "producer", got "child"');
    expect(make({ parnet: "link" })).toThrow('tracing has unknown key "parnet"');
  });
});

// Configuration is resolved once, in the constructor, with errors that name the field; the test
// helpers refuse jobs of queues without a handler before claiming them; every error class is a
// SidetrackError exported from the package root.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as sidetrack from "../runtime/index.js";
import { runMigrations, Sidetrack, SidetrackError, SidetrackValidationError } from "../runtime/index.js";
import { createTestDatabase, type TestDatabase } from "./support/database.js";

const construct = (config: Record<string, unknown>) => () => new Sidetrack({ databaseUrl: "postgres://nowhere.invalid/x", ...config } as never);

describe("configuration is checked in the constructor", () => {
  it("names the queue option at fault, before any insert or start()", () => {
    expect(construct({ concurrency: -5, queues: { q: { maxAttempts: 0 } } })).toThrow(
      "queues.q.maxAttempts must be an integer of at least 1, got 0",
    );
    expect(construct({ queues: { sendInvoice: { maxAttempts: 1.5 } } })).toThrow(/^queues\.sendInvoice\.maxAttempts must be an integer of at least 1, got 1\.5$/);
    expect(construct({ queues: { q: { priority: "high" } } })).toThrow('queues.q.priority must be an integer, got "high"');
    expect(construct({ queues: { q: { concurrency: 0 } } })).toThrow("queues.q.concurrency must be an integer of at least 1, got 0");
    expect(construct({ queues: { q: { uniqueBy: [] } } })).toThrow("queues.q.uniqueBy must be a non-empty array of payload field names, got []");
    expect(construct({ queues: { q: { backoff: { base: "1s", maximum: "1h" } } } })).toThrow('queues.q.backoff has unknown key "maximum"; known keys: base, max');
    expect(construct({ queues: { q: { backoff: { max: "forever" } } } })).toThrow(/queues\.q\.backoff\.max must be milliseconds or a string like/);
    expect(construct({ queues: { q: { maxAttempt: 3 } } })).toThrow(/queues\.q\.maxAttempt is not a queue option; did you mean maxAttempts\?/);
    expect(construct({ queues: { q: { handler: "run" } } })).toThrow('queues.q.handler must be a function, got "run"');
    expect(construct({ queues: { q: { cron: { schedule: "* * *" } } } })).toThrow(/queue "q": cron schedule "\* \* \*" has 3 fields/);
  });

  it("names the flow-control option at fault", () => {
    expect(construct({ queues: { q: { globalConcurrency: 0 } } })).toThrow("queues.q.globalConcurrency must be an integer of at least 1, got 0");
    expect(construct({ queues: { q: { concurrencyBy: "tenantId" } } })).toThrow('queues.q.concurrencyBy must be a non-empty array of payload field names, got "tenantId"');
    expect(construct({ queues: { q: { concurrencyPerKey: 2 } } })).toThrow("queues.q.concurrencyPerKey needs concurrencyBy (the payload fields that make the key)");
    expect(construct({ queues: { q: { concurrencyBy: ["t"], concurrencyPerKey: 0 } } })).toThrow("queues.q.concurrencyPerKey must be an integer of at least 1, got 0");
    expect(construct({ queues: { q: { rateLimit: { limit: 10 } } } })).toThrow("queues.q.rateLimit.per is required");
    expect(construct({ queues: { q: { rateLimit: { limit: 0, per: "1s" } } } })).toThrow("queues.q.rateLimit.limit must be an integer of at least 1, got 0");
    expect(construct({ queues: { q: { rateLimit: { limit: 5, per: "soon" } } } })).toThrow(/^queues\.q\.rateLimit\.per must be milliseconds or a string like/);
    expect(construct({ queues: { q: { rateLimit: { limit: 5, every: "1s" } } } })).toThrow('queues.q.rateLimit has unknown key "every"; known keys: limit, per');
    expect(construct({ queues: { q: { globalConcurrency: 2, concurrencyBy: ["t"], rateLimit: { limit: 5, per: "1s" } } } })).not.toThrow();
  });

  it("names the worker option at fault", () => {
    expect(construct({ concurrency: -5, queues: { q: {} } })).toThrow("concurrency must be a positive integer, got -5");
    expect(construct({ leaseDuration: 5, queues: { q: {} } })).toThrow("leaseDuration must be at least 100ms, got 5ms");
    expect(construct({ onlyQueues: ["nope"], queues: { q: {} } })).toThrow(/onlyQueues names unknown queue "nope"/);
    expect(construct({ retention: { failed: "a week" }, queues: { q: {} } })).toThrow(/retention\.failed must be milliseconds/);
    expect(construct({ listen: "no" as never, queues: { q: {} } })).toThrow('listen must be a boolean, got "no"');
    expect(construct({ listenConnectionString: "", queues: { q: {} } })).toThrow('listenConnectionString must be a non-empty string, got ""');
    // The message never echoes the connection string (it may hold a password).
    const both = construct({ listen: false, listenConnectionString: "postgres://u:secret@h/db", queues: { q: {} } });
    expect(both).toThrow("listenConnectionString cannot be used with listen: false");
    expect(both).not.toThrow(/secret/);
  });

  it("the version a worker registers is the package's", async () => {
    const { SIDETRACK_VERSION } = await import("../runtime/version.js");
    const { readFileSync } = await import("node:fs");
    expect(SIDETRACK_VERSION).toBe(JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version);
  });

  it("carries the queue and the path on the error", () => {
    try {
      construct({ queues: { sendInvoice: { maxAttempts: 0 } } })();
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(SidetrackValidationError);
      expect((error as SidetrackValidationError).queue).toBe("sendInvoice");
      expect((error as SidetrackValidationError).path).toBe("queues.sendInvoice.maxAttempts");
    }
  });
});

describe("every error class is a SidetrackError exported from the root", () => {
  it.each(["SidetrackValidationError", "SidetrackMigrationError", "SidetrackUniqueConflictError", "JobTimeoutError", "JobAbortedError"] as const)("%s", (name) => {
    const ErrorClass = sidetrack[name] as unknown as new (...args: unknown[]) => Error;
    const error = name === "JobAbortedError" ? new ErrorClass("cancelled") : new ErrorClass("x");
    expect(error).toBeInstanceOf(SidetrackError);
    expect(error.name).toBe(name);
  });
});

describe("runJob / runJobs and queues without a handler here", () => {
  let db: TestDatabase;
  const schema = "cfg";
  let producer: Sidetrack<{ mine: { n: number }; theirs: { n: number } }>;
  let worker: Sidetrack<{ mine: { n: number }; theirs: { n: number } }>;
  const ran: number[] = [];

  beforeAll(async () => {
    db = await createTestDatabase("config");
    await runMigrations({ pool: db.pool, schema });
    producer = new Sidetrack({ databaseOptions: { pool: db.pool }, schema, queues: { mine: {}, theirs: {} } });
    worker = new Sidetrack({
      databaseOptions: { pool: db.pool },
      schema,
      handleSignals: false,
      queues: { mine: { handler: (job) => void ran.push(job.payload.n) }, theirs: {} },
    });
  });
  afterAll(async () => {
    await producer.close();
    await worker.close();
  });

  it("runJob refuses a job of a queue without a handler before claiming it, and leaves it untouched", async () => {
    const job = await producer.insertJob("theirs", { n: 1 });
    await expect(worker.runJob(job.id)).rejects.toThrow(
      `runJob("${job.id}"): queue "theirs" has no handler in this instance, so its job is left untouched; queues with handlers: mine`,
    );
    const after = await producer.getJob(job.id);
    expect(after).toMatchObject({ status: "scheduled", attempt: 0, lockedBy: null, startedAt: null });
  });

  it("runJobs() claims only queues that have handlers", async () => {
    const theirs = await producer.insertJob("theirs", { n: 2 });
    const mine = await producer.insertJob("mine", { n: 3 });
    expect(await worker.runJobs()).toBe(1);
    expect(ran).toEqual([3]);
    expect((await producer.getJob(mine.id))?.status).toBe("completed");
    expect(await producer.getJob(theirs.id)).toMatchObject({ status: "scheduled", attempt: 0 });
    await expect(worker.runJobs({ queue: "theirs" })).rejects.toThrow(/runJobs: queue "theirs" has no handler in this instance/);
    expect(await producer.getJob(theirs.id)).toMatchObject({ status: "scheduled", attempt: 0 });
  });
});

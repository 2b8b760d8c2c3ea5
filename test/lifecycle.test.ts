// Job lifecycle: snooze, UnrecoverableError, stored output, progress, tags and meta, through the
// worker and through runJob / runJobs, against a real PostgreSQL.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  JobOutputError,
  runMigrations,
  Sidetrack,
  SidetrackValidationError,
  snooze,
  UnrecoverableError,
  type Handler,
  type Logger,
  type SidetrackConfig,
} from "../runtime/index.js";
import { createTestDatabase, type TestDatabase } from "./support/database.js";
import { nextEvent } from "./support/events.js";

type Queues = { work: { n: number } };

let db: TestDatabase;
const started: Sidetrack<Queues>[] = [];
let schemaCounter = 0;
let schema = "";

beforeAll(async () => {
  db = await createTestDatabase("lifecycle");
});

afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.stop({ grace: 0 })));
});

async function freshSchema() {
  schema = `l${++schemaCounter}`;
  await runMigrations({ pool: db.pool, schema });
}

function make(work: SidetrackConfig<Queues>["queues"]["work"], config: Partial<SidetrackConfig<Queues>> = {}): Sidetrack<Queues> {
  const s = new Sidetrack<Queues>({
    databaseOptions: { connectionString: db.url, max: 4 },
    schema,
    handleSignals: false,
    pollInterval: 50,
    queues: { work },
    ...config,
  });
  started.push(s);
  return s;
}

/** A logger that keeps its warnings. */
function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, debug: () => undefined, info: () => undefined, warn: (m) => void warnings.push(m), error: () => undefined };
}

describe("snooze", () => {
  it("runJob: a snoozed job goes back to scheduled at now + delay, its attempt given back, snoozes counted, job:snoozed emitted", async () => {
    await freshSchema();
    let calls = 0;
    const s = make({ handler: async () => (++calls === 1 ? snooze("1h") : undefined) });
    const job = await s.insertJob("work", { n: 1 });
    const snoozed = nextEvent(s, "job:snoozed");
    const before = Date.now();
    const after = await s.runJob(job.id);
    expect(after).toMatchObject({ status: "scheduled", attempt: 0, snoozes: 1, lockedBy: null });
    // The database clock and ours agree to well within the hour this snooze is for.
    expect(after!.runAt.getTime()).toBeGreaterThan(before + 30 * 60_000);
    const [event, delayMs] = await snoozed;
    expect(event.id).toBe(job.id);
    expect(delayMs).toBe(3_600_000);
    // Not ready (run_at an hour ahead): runJobs leaves it; runJob runs it whatever its run_at.
    expect(await s.runJobs()).toBe(0);
    expect(await s.runJob(job.id)).toMatchObject({ status: "completed", attempt: 1, snoozes: 1 });
  });

  it("does not spend attempts: a job with maxAttempts 1 snoozes and then still runs", async () => {
    await freshSchema();
    let calls = 0;
    const s = make({ maxAttempts: 1, handler: async () => (++calls <= 3 ? snooze(0) : undefined) });
    const job = await s.insertJob("work", { n: 1 });
    expect(await s.runJobs()).toBe(4);
    expect(await s.getJob(job.id)).toMatchObject({ status: "completed", attempt: 1, snoozes: 3 });
  });

  it("fails the job with a clear error on the snooze after maxSnoozes", async () => {
    await freshSchema();
    const s = make({ maxSnoozes: 2, handler: async () => snooze(0) });
    const job = await s.insertJob("work", { n: 1 });
    const failed = nextEvent(s, "job:failed");
    expect(await s.runJobs()).toBe(3);
    const after = await s.getJob(job.id);
    expect(after).toMatchObject({ status: "failed", snoozes: 2 });
    expect(after!.finalizedAt).toBeInstanceOf(Date);
    expect(after!.errors.map((e) => e.message)).toEqual([
      `job snoozed 2 times already, the limit of queue "work" (maxSnoozes); it fails instead of snoozing again`,
    ]);
    expect(((await failed)[1] as Error).message).toContain("maxSnoozes");
  });

  it("worker: a snoozed job runs again after its delay and completes, its attempt unspent", async () => {
    await freshSchema();
    const attempts: number[] = [];
    const s = make({ handler: async (job) => (attempts.push(job.attempt), attempts.length === 1 ? snooze("10ms") : { done: true }) });
    await s.start();
    const snoozed = nextEvent(s, "job:snoozed");
    const completed = nextEvent(s, "job:completed");
    const job = await s.insertJob("work", { n: 1 });
    await snoozed;
    await completed;
    expect(attempts).toEqual([1, 1]);
    expect(await s.getJob(job.id)).toMatchObject({ status: "completed", attempt: 1, snoozes: 1, output: { done: true } });
  });

  it("a bad delay fails the attempt, naming snooze(delay)", async () => {
    await freshSchema();
    const s = make({ handler: async () => snooze("soon" as never) });
    const job = await s.insertJob("work", { n: 1 });
    const after = await s.runJob(job.id);
    expect(after!.status).toBe("retrying");
    expect(after!.errors[0]!.message).toContain("snooze(delay) must be milliseconds");
  });
});

describe("UnrecoverableError", () => {
  it("runJob: ends the job failed at once, whatever attempts remain, with the error recorded", async () => {
    await freshSchema();
    const s = make({ maxAttempts: 5, handler: async () => { throw new UnrecoverableError("invoice was deleted"); } });
    const job = await s.insertJob("work", { n: 1 });
    const after = await s.runJob(job.id);
    expect(after).toMatchObject({ status: "failed", attempt: 1 });
    expect(after!.finalizedAt).toBeInstanceOf(Date);
    expect(after!.errors).toHaveLength(1);
    expect(after!.errors[0]!.message).toBe("invoice was deleted");
    expect(after!.errors[0]!.stack).toContain("UnrecoverableError");
  });

  it("worker: job:failed (not job:retrying) with the thrown error; an ordinary Error still retries", async () => {
    await freshSchema();
    const s = make({
      maxAttempts: 5,
      handler: async (job) => {
        throw job.payload.n === 1 ? new UnrecoverableError("never") : new Error("again");
      },
    });
    await s.start();
    const failed = nextEvent(s, "job:failed");
    const retrying = nextEvent(s, "job:retrying");
    const fatal = await s.insertJob("work", { n: 1 });
    const ordinary = await s.insertJob("work", { n: 2 });
    const [failedJob, error] = await failed;
    expect(failedJob.id).toBe(fatal.id);
    expect(error).toBeInstanceOf(UnrecoverableError);
    expect((await retrying)[0].id).toBe(ordinary.id);
    expect(await s.getJob(fatal.id)).toMatchObject({ status: "failed", attempt: 1 });
  });
});

describe("output", () => {
  it("runJob: stores the resolved value; getJob returns it; undefined stores nothing", async () => {
    await freshSchema();
    const s = make({ handler: async (job) => (job.payload.n === 1 ? { sum: 3, items: ["a", null] } : undefined) });
    const withOutput = await s.insertJob("work", { n: 1 });
    const without = await s.insertJob("work", { n: 2 });
    expect(await s.runJob(withOutput.id)).toMatchObject({ status: "completed", output: { sum: 3, items: ["a", null] } });
    expect(await s.runJob(without.id)).toMatchObject({ status: "completed", output: null });
  });

  it("worker: output travels in its own completion; jobs without output still complete", async () => {
    await freshSchema();
    const s = make({ concurrency: 4, handler: async (job) => (job.payload.n % 2 === 0 ? job.payload.n * 10 : undefined) });
    await s.start();
    const done = new Set<string>();
    const all = new Promise<void>((resolve) => s.on("job:completed", (job) => void (done.add(job.id), done.size === 6 && resolve())));
    const jobs = await s.insertJobs("work", [1, 2, 3, 4, 5, 6].map((n) => ({ n })));
    await all;
    for (const job of jobs) {
      const n = job.payload.n;
      expect(await s.getJob(job.id)).toMatchObject({ status: "completed", output: n % 2 === 0 ? n * 10 : null });
    }
  });

  it("a result that is not JSON-safe is not stored: the job completes and a warning names the queue and the property", async () => {
    await freshSchema();
    const logger = recordingLogger();
    const s = make({ handler: async () => ({ rows: [], when: new Date(0) }) }, { logger });
    const job = await s.insertJob("work", { n: 1 });
    expect(await s.runJob(job.id)).toMatchObject({ status: "completed", output: null });
    expect(logger.warnings).toEqual([
      expect.stringContaining(`job ${job.id}: the handler's result is not stored as output: queue "work": output.when is a Date object`),
    ]);
  });

  it("output over maxOutputBytes fails the attempt with a JobOutputError naming the queue", async () => {
    await freshSchema();
    const s = make({ maxOutputBytes: 10, handler: async () => "x".repeat(20) });
    await s.start();
    const retrying = nextEvent(s, "job:retrying");
    const job = await s.insertJob("work", { n: 1 });
    const [, error] = await retrying;
    expect(error).toBeInstanceOf(JobOutputError);
    const after = await s.getJob(job.id);
    expect(after).toMatchObject({ status: "retrying", output: null });
    expect(after!.errors[0]!.message).toBe(
      `queue "work": the handler's output is 22 bytes of JSON, over the limit of 10 (maxOutputBytes); store large results elsewhere and return a reference`,
    );
  });
});

describe("progress", () => {
  it("the last value reported lands with the completion, however many came before (worker and runJob)", async () => {
    await freshSchema();
    const handler: Handler<{ n: number }> = async (_job, ctx) => {
      for (let pct = 0; pct <= 100; pct++) ctx.progress({ pct });
    };
    const s = make({ handler });
    const inline = await s.insertJob("work", { n: 1 });
    expect((await s.runJob(inline.id))!.progress).toEqual({ pct: 100 });
    await s.start();
    const completed = nextEvent(s, "job:completed");
    const job = await s.insertJob("work", { n: 2 });
    await completed;
    expect((await s.getJob(job.id))!.progress).toEqual({ pct: 100 });
  });

  it("is throttled: 101 reports within a moment are at most two writes (the first, and the last with the outcome)", async () => {
    await freshSchema();
    // Counts the statements that change progress, as the database sees them.
    await db.pool.query(`create table "${schema}".progress_writes (id bigint, progress jsonb)`);
    await db.pool.query(`create function "${schema}".count_progress() returns trigger language plpgsql as $$
      begin insert into "${schema}".progress_writes values (new.id, new.progress); return new; end $$`);
    await db.pool.query(`create trigger count_progress after update of progress on "${schema}".jobs
      for each row when (new.progress is distinct from old.progress) execute function "${schema}".count_progress()`);
    const s = make({
      handler: async (_job, ctx) => {
        for (let pct = 0; pct <= 100; pct++) ctx.progress({ pct });
        // Past the first write's round trip, so the test sees whether later reports were held back.
        await new Promise((resolve) => setTimeout(resolve, 100));
      },
    });
    await s.start();
    const completed = nextEvent(s, "job:completed");
    const job = await s.insertJob("work", { n: 1 });
    await completed;
    const { rows } = await db.pool.query<{ progress: { pct: number } }>(`select progress from "${schema}".progress_writes where id = $1`, [job.id]);
    expect(rows.length).toBeLessThanOrEqual(2);
    expect(rows.at(-1)!.progress).toEqual({ pct: 100 });
  });

  it("the last progress lands before a failure too", async () => {
    await freshSchema();
    const s = make({
      handler: async (_job, ctx) => {
        ctx.progress("step 1");
        ctx.progress("step 2");
        throw new Error("broke at step 2");
      },
    });
    const job = await s.insertJob("work", { n: 1 });
    expect(await s.runJob(job.id)).toMatchObject({ status: "retrying", progress: "step 2" });
  });

  it("a value that is not JSON-safe, or too large, throws in the handler naming it", async () => {
    await freshSchema();
    const thrown: unknown[] = [];
    const s = make({
      handler: async (_job, ctx) => {
        for (const value of [{ at: new Date() }, "x".repeat(9000)]) {
          try {
            ctx.progress(value);
          } catch (error) {
            thrown.push(error);
          }
        }
      },
    });
    const job = await s.insertJob("work", { n: 1 });
    await s.runJob(job.id);
    expect(thrown.map((e) => (e as Error).message)).toEqual([
      `queue "work": progress.at is a Date object, which does not survive JSON; use strings, numbers, booleans, null, arrays and plain objects`,
      `queue "work": progress is 9002 bytes of JSON, over the limit of 8192`,
    ]);
    expect(thrown[0]).toBeInstanceOf(SidetrackValidationError);
  });
});

describe("tags and meta", () => {
  it("are stored on the job, read back by getJob, and listJobs({ tag }) filters by tag", async () => {
    await freshSchema();
    const s = make({});
    const a = await s.insertJob("work", { n: 1 }, { tags: ["billing", "eu"], meta: { requestId: "r-1" } });
    const b = await s.insertJob("work", { n: 2 }, { tags: ["billing"], uniqueKey: "k" });
    await s.insertJob("work", { n: 3 });
    expect(a).toMatchObject({ tags: ["billing", "eu"], meta: { requestId: "r-1" } });
    expect(await s.getJob(a.id)).toMatchObject({ tags: ["billing", "eu"], meta: { requestId: "r-1" }, snoozes: 0, output: null, progress: null });
    expect(await s.getJob(b.id)).toMatchObject({ tags: ["billing"], meta: null });
    expect((await s.listJobs({ tag: "billing" })).map((j) => j.id)).toEqual([a.id, b.id]);
    expect((await s.listJobs({ tag: "eu" })).map((j) => j.id)).toEqual([a.id]);
    expect(await s.listJobs({ tag: "none" })).toEqual([]);
    expect(await s.listJobs()).toHaveLength(3);
  });

  it("a handler sees its job's tags and meta", async () => {
    await freshSchema();
    const seen: unknown[] = [];
    const s = make({ handler: async (job) => void seen.push([job.tags, job.meta]) });
    const job = await s.insertJob("work", { n: 1 }, { tags: ["t"], meta: { a: 1 } });
    await s.runJob(job.id);
    expect(seen).toEqual([[["t"], { a: 1 }]]);
  });

  it("refuses bad tags and meta by name, writing nothing", async () => {
    await freshSchema();
    const s = make({});
    const cases: [unknown, string][] = [
      [{ tags: "billing" }, `queue "work": options.tags must be an array of strings, got "billing"`],
      [{ tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }, `queue "work": options.tags has 21 tags, over the limit of 20`],
      [{ tags: ["ok", ""] }, `queue "work": options.tags[1] must be a string of 1 to 100 characters, got ""`],
      [{ tags: ["x".repeat(101)] }, `queue "work": options.tags[0] must be a string of 1 to 100 characters`],
      [{ meta: [1] }, `queue "work": options.meta must be a plain object`],
      [{ meta: { at: new Date() } }, `queue "work": options.meta.at is a Date object`],
      [{ meta: { "sidetrack.traceparent": "x" } }, `queue "work": options.meta key "sidetrack.traceparent" starts with "sidetrack.", which is reserved for Sidetrack`],
      [{ meta: { big: "x".repeat(17_000) } }, `queue "work": options.meta is 17010 bytes of JSON, over the limit of 16384`],
    ];
    for (const [options, message] of cases) {
      await expect(s.insertJob("work", { n: 1 }, options as never)).rejects.toThrow(message);
    }
    expect(await s.listJobs()).toEqual([]);
  });
});

describe("queue options", () => {
  it("maxSnoozes and maxOutputBytes are checked in the constructor, naming the field", () => {
    expect(() => make({ maxSnoozes: -1 })).toThrow("queues.work.maxSnoozes must be an integer of at least 0, got -1");
    expect(() => make({ maxOutputBytes: 1.5 })).toThrow("queues.work.maxOutputBytes must be an integer of at least 0, got 1.5");
  });
});

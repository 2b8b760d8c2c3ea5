import pg from "pg";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { runMigrations, Sidetrack, type Job, type SidetrackConfig } from "../runtime/index.js";
import { fetchJobsSql } from "../runtime/db/sql/fetchJobs.js";
import { CLAIM_MAX_PER_QUEUE } from "../runtime/config/defaults.js";
import { createTestDatabase, type TestDatabase } from "./support/database.js";
import { deferred, nextEvent } from "./support/events.js";

type Queues = { work: { n: number }; other: { n: number } };

let db: TestDatabase;
const started: Sidetrack<Queues>[] = [];
let schemaCounter = 0;
let schema = "";

beforeAll(async () => {
  db = await createTestDatabase("worker");
});

afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.stop({ grace: 0 })));
});

/** A fresh schema per test, so each starts with an empty jobs table. */
async function freshSchema() {
  schema = `w${++schemaCounter}`;
  await runMigrations({ pool: db.pool, schema });
}

function make(config: Partial<SidetrackConfig<Queues>> & Pick<SidetrackConfig<Queues>, "queues">): Sidetrack<Queues> {
  const s = new Sidetrack<Queues>({
    databaseOptions: { connectionString: db.url, max: 4 },
    schema,
    handleSignals: false,
    pollInterval: 200,
    ...config,
  });
  started.push(s);
  return s;
}

const client = () => make({ queues: { work: {}, other: {} } });

describe("running jobs", () => {
  it("runs a job inserted after start, woken by NOTIFY, and completes it", async () => {
    await freshSchema();
    const seen: Job<{ n: number }>[] = [];
    const worker = make({ queues: { work: { handler: async (job) => void seen.push(job) }, other: {} }, pollInterval: 60_000 });
    await worker.start();
    const inserted = await client().insertJob("work", { n: 1 }, { priority: 3 });
    const [completed] = await nextEvent(worker, "job:completed");
    expect(completed.id).toBe(inserted.id);
    expect(seen[0]).toMatchObject({ id: inserted.id, queue: "work", payload: { n: 1 }, attempt: 1, maxAttempts: 25, priority: 3 });
    expect(seen[0]!.insertedAt).toBeInstanceOf(Date);
    expect(seen[0]!.runAt).toBeInstanceOf(Date);
    const job = await worker.getJob(inserted.id);
    expect(job).toMatchObject({ status: "completed", lockedBy: null, attempt: 1 });
    expect(job!.completedAt).toBeInstanceOf(Date);
  });

  it("runs ready jobs by priority, then run_at, then id", async () => {
    await freshSchema();
    const c = client();
    await c.insertJob("work", { n: 1 }, { priority: 5 });
    await c.insertJob("work", { n: 2 }, { priority: 1 });
    await c.insertJob("work", { n: 3 }, { priority: 1, runAt: new Date(Date.now() - 60_000) });
    await c.insertJob("work", { n: 4 }, { priority: 1 });
    const order: number[] = [];
    const worker = make({ concurrency: 1, queues: { work: { handler: (job) => void order.push(job.payload.n) }, other: {} } });
    const allDone = new Promise<void>((resolve) => worker.on("job:completed", () => order.length === 4 && resolve()));
    await worker.start();
    await allDone;
    expect(order).toEqual([3, 2, 4, 1]);
  });

  /**
   * Six jobs inserted lowest priority first, so the table's physical order is the reverse of claim
   * order (the rows of one claim come back in the order the update wrote them unless the claim
   * sorts them), run by a worker of `concurrency` whose queue has `options`: the order they started in.
   */
  async function startOrderOfReversed(concurrency: number, options: { prefetch?: number; globalConcurrency?: number }): Promise<number[]> {
    await freshSchema();
    for (let n = 1; n <= 6; n++) await client().insertJob("work", { n }, { priority: 7 - n });
    const order: number[] = [];
    const { prefetch, globalConcurrency } = options;
    const worker = make({
      concurrency,
      ...(prefetch === undefined ? {} : { prefetch }),
      queues: { work: { globalConcurrency, handler: (job) => void order.push(job.payload.n) }, other: {} },
    });
    const allDone = new Promise<void>((resolve) => worker.on("job:completed", () => order.length === 6 && resolve()));
    await worker.start();
    await allDone;
    return order;
  }

  it("runs the jobs of one claim in claim order, whatever their order in the table", async () => {
    // One slot and a buffer of 10: the first claim takes all six (half the window), which then start one by one.
    expect(await startOrderOfReversed(1, { prefetch: 10 })).toEqual([6, 5, 4, 3, 2, 1]);
  });

  it("starts the jobs of a limited claim in claim order", async () => {
    expect(await startOrderOfReversed(6, { globalConcurrency: 6 })).toEqual([6, 5, 4, 3, 2, 1]);
  });

  it("does not run a job before its runAt (polling picks it up after)", async () => {
    await freshSchema();
    const c = client();
    const future = await c.insertJob("work", { n: 1 }, { delay: 600 });
    const runAts: number[] = [];
    const worker = make({ queues: { work: { handler: () => void runAts.push(Date.now()) }, other: {} } });
    await worker.start();
    await nextEvent(worker, "job:completed");
    expect(runAts[0]!).toBeGreaterThanOrEqual(future.runAt.getTime() - 50);
  });

  it(`claims at most ${CLAIM_MAX_PER_QUEUE} jobs of a queue at once, and a claim that brings that many back counts as full`, async () => {
    await freshSchema();
    const jobs = CLAIM_MAX_PER_QUEUE * 4;
    let ran = 0;
    // More slots than one claim takes, and no poll to fall back on: if a capped claim counted as
    // drained, the rest would wait for the next NOTIFY or poll tick.
    const worker = make({ concurrency: CLAIM_MAX_PER_QUEUE * 3, prefetch: 0, pollInterval: 600_000, queues: { work: { handler: () => void ran++ }, other: {} } });
    await client().insertJobs("work", Array.from({ length: jobs }, (_, n) => ({ n })));
    const { rows: before } = await db.pool.query(`select count(*)::int as n from ${schema}.jobs where status = 'scheduled'`);
    expect(before[0].n).toBe(jobs);
    await worker.start();
    await expect.poll(() => ran, { timeout: 30_000, interval: 50 }).toBe(jobs);
    await expect.poll(async () => (await db.pool.query(`select count(*)::int as n from ${schema}.jobs where status = 'completed'`)).rows[0].n).toBe(jobs);
  });

  it("respects per-queue and per-process concurrency", async () => {
    await freshSchema();
    let now = 0;
    let peakWork = 0;
    let peakTotal = 0;
    let nowWork = 0;
    const gate = deferred();
    const fiveRunning = deferred();
    const track = (queue: "work" | "other") => async () => {
      now++;
      if (now === 5) fiveRunning.resolve();
      if (queue === "work") peakWork = Math.max(peakWork, ++nowWork);
      peakTotal = Math.max(peakTotal, now);
      await gate.promise;
      now--;
      if (queue === "work") nowWork--;
    };
    const c = client();
    await c.insertJobs("work", Array.from({ length: 6 }, (_, n) => ({ n })));
    await c.insertJobs("other", Array.from({ length: 6 }, (_, n) => ({ n })));
    const worker = make({ concurrency: 5, queues: { work: { concurrency: 2, handler: track("work") }, other: { handler: track("other") } } });
    let completed = 0;
    const allDone = new Promise<void>((resolve) => worker.on("job:completed", () => ++completed === 12 && resolve()));
    await worker.start();
    await fiveRunning.promise;
    gate.resolve();
    await allDone;
    expect(peakWork).toBe(2);
    expect(peakTotal).toBe(5);
  });
});

describe("failures and retries", () => {
  it("retries with backoff, keeping each attempt's error", async () => {
    await freshSchema();
    const worker = make({
      queues: {
        work: {
          backoff: { base: 20, max: 40 },
          handler: (job) => {
            if (job.attempt < 3) throw new Error(`boom ${job.attempt}`);
          },
        },
        other: {},
      },
    });
    await worker.start();
    const job = await client().insertJob("work", { n: 1 });
    const retried = nextEvent(worker, "job:retrying");
    await nextEvent(worker, "job:completed", (j) => j.id === job.id);
    expect((await retried)[0].id).toBe(job.id);
    const done = await worker.getJob(job.id);
    expect(done).toMatchObject({ status: "completed", attempt: 3 });
    expect(done!.errors.map((e) => [e.attempt, e.message])).toEqual([
      [1, "boom 1"],
      [2, "boom 2"],
    ]);
    expect(done!.errors[0]!.stack).toContain("boom 1");
    expect(done!.errors[0]!.at).toBeInstanceOf(Date);
  });

  it("records non-Error throws safely and fails the job when attempts are spent", async () => {
    await freshSchema();
    const throws: unknown[] = ["a string", { code: 42 }, undefined, 17n];
    const worker = make({
      queues: {
        work: {
          maxAttempts: 1,
          handler: (job) => {
            throw throws[job.payload.n];
          },
        },
        other: {},
      },
    });
    let failed = 0;
    const allFailed = new Promise<void>((resolve) => worker.on("job:failed", () => ++failed === 4 && resolve()));
    await worker.start();
    // Queue options such as maxAttempts are applied at insert, by the inserting instance.
    const jobs = await worker.insertJobs("work", [{ n: 0 }, { n: 1 }, { n: 2 }, { n: 3 }]);
    await allFailed;
    const messages = [];
    for (const j of jobs) {
      const read = await worker.getJob(j.id);
      expect(read).toMatchObject({ status: "failed", attempt: 1 });
      expect(read!.finalizedAt).toBeInstanceOf(Date);
      messages.push(read!.errors[0]!.message);
    }
    expect(messages[0]).toBe("a string");
    expect(messages[1]).toBe('handler threw a non-Error value: {"code":42}');
    expect(messages[2]).toBe("handler threw undefined");
    expect(messages[3]).toMatch(/non-Error value/);
  });

  it("times out an attempt even when the handler ignores its signal, and frees the slot", async () => {
    await freshSchema();
    let sawAbort = false;
    const worker = make({
      concurrency: 1,
      queues: {
        work: {
          timeout: "150ms",
          maxAttempts: 1,
          handler: async (job, { signal }) => {
            signal.addEventListener("abort", () => (sawAbort = true));
            if (job.payload.n === 1) await new Promise(() => undefined); // never settles
          },
        },
        other: {},
      },
    });
    await worker.start();
    const c = worker;
    const stuck = await c.insertJob("work", { n: 1 });
    await nextEvent(worker, "job:failed", (j) => j.id === stuck.id);
    const next = await c.insertJob("work", { n: 2 });
    await nextEvent(worker, "job:completed", (j) => j.id === next.id);
    expect(sawAbort).toBe(true);
    const read = await worker.getJob(stuck.id);
    expect(read!.status).toBe("failed");
    expect(read!.errors[0]!.message).toMatch(/timed out after 150ms/);
  });
});

describe("cancel", () => {
  it("aborts a running job in another process's worker and ends it cancelled; a late completion changes nothing", async () => {
    await freshSchema();
    const running = deferred();
    const release = deferred();
    let aborted = false;
    const worker = make({
      queues: {
        work: {
          handler: async (_job, { signal }) => {
            running.resolve();
            signal.addEventListener("abort", () => (aborted = true));
            await release.promise; // ignores the signal and "completes" late
          },
        },
        other: {},
      },
    });
    await worker.start();
    const c = client();
    const job = await c.insertJob("work", { n: 1 });
    await running.promise;
    const cancelledEvent = nextEvent(worker, "job:cancelled");
    expect(await c.cancelJob(job.id)).toBe(true);
    await cancelledEvent;
    expect(aborted).toBe(true);
    release.resolve();
    // Another job goes through the same completer: once it is written, so would the late one be.
    const after = await c.insertJob("work", { n: 2 });
    await nextEvent(worker, "job:completed", (j) => j.id === after.id);
    expect((await c.getJob(job.id))!.status).toBe("cancelled");
  });
});

describe("completions carried by the claim", () => {
  it("completes only jobs still running under this worker, reports which, and claims in the same statement", async () => {
    await freshSchema();
    const c = client();
    const [mine, theirs, cancelled, ready] = await c.insertJobs("work", [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]);
    await db.pool.query(`update ${schema}.jobs set status = 'running', attempt = 1, locked_by = 'me', locked_until = now() + interval '1 minute' where id = $1`, [mine!.id]);
    await db.pool.query(`update ${schema}.jobs set status = 'running', attempt = 1, locked_by = 'other', locked_until = now() + interval '1 minute' where id = $1`, [theirs!.id]);
    await db.pool.query(`update ${schema}.jobs set status = 'cancelled', cancelled_at = now(), finalized_at = now() where id = $1`, [cancelled!.id]);

    const { rows } = await db.pool.query(fetchJobsSql(schema), ["me", 60_000, ["work"], [10], 10, [mine!.id, theirs!.id, cancelled!.id], [0, 0, 0], `${schema}.jobs`]);
    const claimed = rows.filter((r) => r.completed_ids === null).map((r) => r.id);
    const report = rows.filter((r) => r.completed_ids !== null);
    expect(claimed).toEqual([ready!.id]);
    expect(report).toHaveLength(1);
    expect(report[0].completed_ids).toEqual([mine!.id]);
    // ...and the table's size, which names the worker's statements (db/statement-names.ts).
    const { rows: size } = await db.pool.query(`select pg_relation_size('${schema}.jobs')::float8 as bytes`);
    expect(report[0].jobs_table_bytes).toBe(size[0].bytes);

    const status = async (id: string) => (await c.getJob(id))!;
    expect(await status(mine!.id)).toMatchObject({ status: "completed", lockedBy: null });
    expect(await status(theirs!.id)).toMatchObject({ status: "running", lockedBy: "other" });
    expect((await status(cancelled!.id)).status).toBe("cancelled");
    expect(await status(ready!.id)).toMatchObject({ status: "running", lockedBy: "me", attempt: 1 });

    // Nothing to carry and nothing to claim: still one row, with an empty list.
    const { rows: empty } = await db.pool.query(fetchJobsSql(schema), ["me", 60_000, ["work"], [10], 10, [], [], `${schema}.jobs`]);
    expect(empty).toEqual([expect.objectContaining({ id: null, completed_ids: [] })]);
  });
});

describe("shutdown", () => {
  it("lets running jobs finish within the grace period", async () => {
    await freshSchema();
    const running = deferred();
    const worker = make({
      queues: {
        work: {
          handler: async () => {
            running.resolve();
            await new Promise((r) => setTimeout(r, 200));
          },
        },
        other: {},
      },
    });
    await worker.start();
    const job = await client().insertJob("work", { n: 1 });
    await running.promise;
    await worker.stop({ grace: 10_000 });
    const c = client();
    expect((await c.getJob(job.id))!.status).toBe("completed");
  });

  it("aborts jobs past the grace period and returns them without spending an attempt", async () => {
    await freshSchema();
    const running = deferred();
    let signalled = false;
    const worker = make({
      queues: {
        work: {
          handler: async (_job, { signal }) => {
            running.resolve();
            await new Promise<void>((resolve) => signal.addEventListener("abort", () => ((signalled = true), resolve())));
            throw new Error("aborted");
          },
        },
        other: {},
      },
    });
    await worker.start();
    const job = await client().insertJob("work", { n: 1 });
    await running.promise;
    await worker.stop({ grace: 50 });
    expect(signalled).toBe(true);
    const read = await client().getJob(job.id);
    expect(read).toMatchObject({ status: "scheduled", attempt: 0, lockedBy: null, errors: [] });
  });
});

describe("leases", () => {
  it("renews the lease of a long job so no other worker rescues it", async () => {
    await freshSchema();
    // The handler outlives its lease several times over; only renewals keep the job ours.
    const worker = make({
      leaseDuration: 1_000,
      queues: { work: { handler: () => new Promise((r) => setTimeout(r, 3_500)) }, other: {} },
    });
    const rescuer = make({ leaseDuration: 1_000, rescueInterval: 50, queues: { work: {}, other: { handler: () => undefined } } });
    let rescued = 0;
    rescuer.on("job:rescued", () => rescued++);
    await worker.start();
    await rescuer.start();
    const job = await client().insertJob("work", { n: 1 });
    await nextEvent(worker, "job:completed", (j) => j.id === job.id);
    expect(rescued).toBe(0);
    expect((await client().getJob(job.id))).toMatchObject({ status: "completed", attempt: 1, errors: [] });
  });

  it("rescues a job whose worker vanished and runs it again", async () => {
    await freshSchema();
    const c = client();
    const job = await c.insertJob("work", { n: 1 });
    // A worker that claimed the job and died: its lease ran out a second ago.
    await db.pool.query(
      `update ${schema}.jobs set status = 'running', attempt = 1, locked_by = 'dead-worker', locked_until = now() - interval '1 second' where id = $1`,
      [job.id],
    );
    const worker = make({ rescueInterval: 50, queues: { work: { handler: () => undefined }, other: {} } });
    const rescued = nextEvent(worker, "job:rescued");
    await worker.start();
    expect(await rescued).toEqual([job.id, "retrying"]);
    await nextEvent(worker, "job:completed", (j) => j.id === job.id);
    const read = await c.getJob(job.id);
    expect(read).toMatchObject({ status: "completed", attempt: 2 });
    expect(read!.errors[0]!.message).toMatch(/worker dead-worker lost its lease/);
  });

  it("fails a vanished worker's job when it was the last attempt", async () => {
    await freshSchema();
    const c = client();
    const job = await c.insertJob("work", { n: 1 }, { maxAttempts: 1 });
    await db.pool.query(
      `update ${schema}.jobs set status = 'running', attempt = 1, locked_by = 'dead', locked_until = now() - interval '1 second' where id = $1`,
      [job.id],
    );
    const worker = make({ rescueInterval: 50, queues: { work: { handler: () => undefined }, other: {} } });
    const rescued = nextEvent(worker, "job:rescued");
    await worker.start();
    expect(await rescued).toEqual([job.id, "failed"]);
    expect((await c.getJob(job.id))!.status).toBe("failed");
  });
});

describe("retention", () => {
  it("prunes finished jobs past their age and keeps the rest", async () => {
    await freshSchema();
    const c = client();
    const [old, recent, oldFailed, live] = await c.insertJobs("work", [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]);
    await db.pool.query(
      `update ${schema}.jobs set status = 'completed', finalized_at = now() - interval '2 hours' where id = $1;`.replace("$1", old!.id),
    );
    await db.pool.query(`update ${schema}.jobs set status = 'completed', finalized_at = now() where id = ${recent!.id}`);
    await db.pool.query(`update ${schema}.jobs set status = 'failed', finalized_at = now() - interval '2 hours' where id = ${oldFailed!.id}`);
    await db.pool.query(`update ${schema}.jobs set run_at = now() + interval '1 day' where id = ${live!.id}`);
    const worker = make({ retention: { completed: "1h", failed: "3h" }, queues: { work: { handler: () => undefined }, other: {} } });
    await worker.start();
    await expect.poll(async () => (await c.getJob(old!.id)) === undefined, { timeout: 10_000 }).toBe(true);
    expect((await c.getJob(recent!.id))?.status).toBe("completed");
    expect((await c.getJob(oldFailed!.id))?.status).toBe("failed");
    expect((await c.getJob(live!.id))?.status).toBe("scheduled");
  });
});

describe("test helpers", () => {
  it("runJob runs one job in the caller's process, whatever its runAt", async () => {
    await freshSchema();
    const ran: number[] = [];
    const s = make({ queues: { work: { handler: (job) => void ran.push(job.payload.n) }, other: {} } });
    const job = await s.insertJob("work", { n: 7 }, { delay: "1h" });
    const after = await s.runJob(job.id);
    expect(ran).toEqual([7]);
    expect(after?.status).toBe("completed");
    expect(await s.runJob(job.id)).toBeUndefined();
  });

  it("runJobs runs ready jobs, and future ones and retries with includeFutureJobs", async () => {
    await freshSchema();
    const ran: number[] = [];
    const s = make({
      queues: {
        work: {
          maxAttempts: 3,
          handler: (job) => {
            ran.push(job.payload.n);
            if (job.payload.n === 99) throw new Error("always");
          },
        },
        other: { handler: () => undefined },
      },
    });
    await s.insertJobs("work", [{ n: 1 }, { n: 2 }]);
    await s.insertJob("work", { n: 3 }, { delay: "1h" });
    await s.insertJob("other", { n: 4 });
    expect(await s.runJobs({ queue: "work" })).toBe(2);
    expect(ran).toEqual([1, 2]);
    expect(await s.runJobs({ queue: "work", includeFutureJobs: true })).toBe(1);
    const failing = await s.insertJob("work", { n: 99 });
    expect(await s.runJobs({ queue: "work", includeFutureJobs: true })).toBe(3);
    expect((await s.getJob(failing.id))).toMatchObject({ status: "failed", attempt: 3 });
    expect((await s.listJobs({ queue: "other" }))[0]!.status).toBe("scheduled");
  });
});

describe("an application's own pool", () => {
  it("its jsonb parser changes nothing a handler sees (claims send jsonb and read it as text)", async () => {
    await freshSchema();
    // A parser an application might set for its own queries: jsonb revived into values of its own.
    const types = {
      getTypeParser: (oid: number, format?: "text" | "binary") =>
        oid === pg.types.builtins.JSONB ? (t: string) => ({ revived: t }) : pg.types.getTypeParser(oid, format),
    } as pg.CustomTypesConfig;
    const pool = new pg.Pool({ connectionString: db.url, max: 4, types });
    const seen: Job<{ n: number }>[] = [];
    const worker = make({
      databaseOptions: { pool },
      queues: {
        work: {
          maxAttempts: 2,
          backoff: { base: 10, max: 10 },
          handler: (job) => {
            seen.push(job);
            if (job.attempt === 1) throw new Error("first attempt fails");
          },
        },
        other: {},
      },
    });
    try {
      await worker.start();
      const inserted = await worker.insertJob("work", { n: 1 }, { priority: 3, meta: { from: "test" } });
      await nextEvent(worker, "job:completed", (j) => j.id === inserted.id);
      expect(seen.map((j) => j.attempt)).toEqual([1, 2]);
      expect(seen[1]).toMatchObject({ payload: { n: 1 }, priority: 3, maxAttempts: 2, meta: { from: "test" }, snoozes: 0 });
      expect(seen[1]!.errors).toMatchObject([{ attempt: 1, message: "first attempt fails" }]);
      expect(seen[1]!.errors[0]!.at).toBeInstanceOf(Date);
      await worker.stop();
      const inline = await worker.insertJob("work", { n: 2 });
      await worker.runJob(inline.id);
      expect(seen[2]).toMatchObject({ payload: { n: 2 }, attempt: 1 });
    } finally {
      await worker.stop({ grace: 0 });
      await pool.end();
    }
  });
});

describe("prepared statements", () => {
  it("inserts and runs jobs with preparedStatements: false (PgBouncer in transaction mode)", async () => {
    await freshSchema();
    const worker = make({ preparedStatements: false, queues: { work: { handler: () => undefined }, other: {} } });
    await worker.start();
    const job = await worker.insertJob("work", { n: 1 });
    await nextEvent(worker, "job:completed", (j) => j.id === job.id);
    expect((await worker.getJob(job.id))?.status).toBe("completed");
  });
});

describe("configuration", () => {
  it("names the field at fault", async () => {
    await freshSchema();
    // Checked in the constructor, before anything connects.
    expect(() => make({ concurrency: 0, queues: { work: { handler: () => undefined }, other: {} } })).toThrow(
      /concurrency must be a positive integer, got 0/,
    );
    expect(() => make({ queues: { work: { handler: () => undefined, timeout: "soon" as never }, other: {} } })).toThrow(
      /queues\.work\.timeout must be milliseconds or a string like/,
    );
    await expect(make({ queues: { work: {}, other: {} } }).start()).rejects.toThrow(/no queue has a handler/);
  });
});

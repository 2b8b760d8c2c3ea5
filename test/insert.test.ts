import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMigrations, Sidetrack, SidetrackValidationError, usePg, type DbClient } from "../runtime/index.js";
import { createTestDatabase, quiet, type TestDatabase } from "./support/database.js";

type Queues = {
  userOnboarding: { email: string };
  sendInvoice: { invoiceId: string; amountCents: number };
};

let db: TestDatabase;
let sidetrack: Sidetrack<Queues>;

beforeAll(async () => {
  db = await createTestDatabase("insert");
  await runMigrations({ pool: db.pool });
  sidetrack = new Sidetrack<Queues>({
    databaseOptions: { connectionString: db.url },
    queues: { userOnboarding: {}, sendInvoice: { maxAttempts: 10, priority: 5, uniqueBy: ["invoiceId"] } },
  });
});
afterAll(() => sidetrack.close());

async function countJobs(): Promise<number> {
  const { rows } = await db.pool.query("select count(*)::int as n from sidetrack.jobs");
  return rows[0].n;
}

describe("insertJob", () => {
  it("inserts a scheduled job with queue defaults and a string id", async () => {
    const job = await sidetrack.insertJob("sendInvoice", { invoiceId: "inv-1", amountCents: 500 });
    expect(typeof job.id).toBe("string");
    expect(job).toMatchObject({
      queue: "sendInvoice",
      payload: { invoiceId: "inv-1", amountCents: 500 },
      status: "scheduled",
      priority: 5,
      maxAttempts: 10,
      attempt: 0,
      duplicate: false,
      uniqueKey: '["inv-1"]',
    });
    expect(job.runAt).toBeInstanceOf(Date);
    const read = await sidetrack.getJob(job.id);
    expect(read?.payload).toEqual({ invoiceId: "inv-1", amountCents: 500 });
  });

  it("accepts databaseUrl instead of databaseOptions", async () => {
    const other = new Sidetrack<Queues>({ databaseUrl: db.url, queues: { userOnboarding: {}, sendInvoice: {} } });
    const job = await other.insertJob("userOnboarding", { email: "u@example.com" });
    expect((await other.getJob(job.id))?.status).toBe("scheduled");
    await other.close();
  });

  it("honours runAt, scheduledAt, delay, priority and maxAttempts", async () => {
    const at = new Date(Date.now() + 3_600_000);
    const a = await sidetrack.insertJob("userOnboarding", { email: "a@x" }, { runAt: at, priority: -3, maxAttempts: 2 });
    expect(a.runAt.getTime()).toBe(at.getTime());
    expect(a).toMatchObject({ priority: -3, maxAttempts: 2 });
    const b = await sidetrack.insertJob("userOnboarding", { email: "b@x" }, { scheduledAt: at });
    expect(b.runAt.getTime()).toBe(at.getTime());
    const c = await sidetrack.insertJob("userOnboarding", { email: "c@x" }, { delay: "2m" });
    const delayMs = c.runAt.getTime() - c.insertedAt.getTime();
    expect(delayMs).toBeGreaterThanOrEqual(119_000);
    expect(delayMs).toBeLessThanOrEqual(121_000);
  });

  it("returns the existing job for a duplicate unique key, and allows a new one once it finished", async () => {
    const first = await sidetrack.insertJob("sendInvoice", { invoiceId: "dup", amountCents: 1 });
    const second = await sidetrack.insertJob("sendInvoice", { invoiceId: "dup", amountCents: 2 });
    expect(second.id).toBe(first.id);
    expect(second.duplicate).toBe(true);
    expect(second.payload.amountCents).toBe(1);
    expect(await sidetrack.cancelJob(first.id)).toBe(true);
    const third = await sidetrack.insertJob("sendInvoice", { invoiceId: "dup", amountCents: 3 });
    expect(third.id).not.toBe(first.id);
    expect(third.duplicate).toBe(false);
  });
});

describe("insertJobs", () => {
  it("inserts 10,000 jobs in one round trip and returns them in order", async () => {
    let queries = 0;
    const counting: DbClient = {
      sidetrackDbClient: true,
      query: (text, values) => {
        queries++;
        return usePg(db.pool).query(text, values);
      },
    };
    const before = await countJobs();
    const payloads = Array.from({ length: 10_000 }, (_, i) => ({ email: `bulk${i}@example.com` }));
    const jobs = await sidetrack.insertJobs("userOnboarding", payloads, { dbClient: counting });
    expect(queries).toBe(1);
    expect(jobs).toHaveLength(10_000);
    expect(jobs.map((j) => j.payload.email)).toEqual(payloads.map((p) => p.email));
    expect(await countJobs()).toBe(before + 10_000);
  });

  it("collapses duplicates inside the batch and against the table", async () => {
    const existing = await sidetrack.insertJob("sendInvoice", { invoiceId: "b0", amountCents: 0 });
    const jobs = await sidetrack.insertJobs("sendInvoice", [
      { invoiceId: "b1", amountCents: 1 },
      { invoiceId: "b0", amountCents: 9 },
      { invoiceId: "b1", amountCents: 2 },
      { invoiceId: "b2", amountCents: 3 },
    ]);
    expect(jobs.map((j) => j.duplicate)).toEqual([false, true, true, false]);
    expect(jobs[1]!.id).toBe(existing.id);
    expect(jobs[2]!.id).toBe(jobs[0]!.id);
    expect(jobs[3]!.payload.invoiceId).toBe("b2");
  });

  it("takes per-item options with withOptions", async () => {
    const at = new Date(Date.now() + 60_000);
    const jobs = await sidetrack.insertJobs(
      "userOnboarding",
      [{ payload: { email: "p1@x" }, options: { priority: 7 } }, { payload: { email: "p2@x" }, options: { runAt: at } }],
      { withOptions: true },
    );
    expect(jobs[0]!.priority).toBe(7);
    expect(jobs[1]!.runAt.getTime()).toBe(at.getTime());
  });
});

describe("bad input writes nothing", () => {
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    ["unknown queue", () => sidetrack.insertJob("nope" as "userOnboarding", { email: "x" }), /unknown queue "nope"; known queues: userOnboarding, sendInvoice/],
    ["function in payload", () => sidetrack.insertJob("userOnboarding", { email: "x", f: () => 1 } as never), /queue "userOnboarding": payload\.f is a function/],
    ["bigint in payload", () => sidetrack.insertJob("userOnboarding", { email: 1n } as never), /payload\.email is a bigint/],
    ["Date in payload", () => sidetrack.insertJob("userOnboarding", { email: new Date() } as never), /payload\.email is a Date object/],
    ["NaN in payload", () => sidetrack.insertJob("sendInvoice", { invoiceId: "n", amountCents: NaN }), /payload\.amountCents is NaN/],
    ["circular payload", () => { const p: Record<string, unknown> = { email: "x" }; p.self = p; return sidetrack.insertJob("userOnboarding", p as never); }, /payload\.self is a circular reference/],
    ["invalid date", () => sidetrack.insertJob("userOnboarding", { email: "x" }, { runAt: new Date("nope") }), /options\.runAt must be a valid Date/],
    ["date as string", () => sidetrack.insertJob("userOnboarding", { email: "x" }, { runAt: "2026-01-01" as never }), /options\.runAt must be a valid Date, got "2026-01-01"/],
    ["negative delay", () => sidetrack.insertJob("userOnboarding", { email: "x" }, { delay: -5 }), /options\.delay must not be negative/],
    ["garbled delay", () => sidetrack.insertJob("userOnboarding", { email: "x" }, { delay: "soon" as never }), /options\.delay must be milliseconds or a string like/],
    ["fractional priority", () => sidetrack.insertJob("userOnboarding", { email: "x" }, { priority: 1.5 }), /options\.priority must be an integer/],
    ["zero maxAttempts", () => sidetrack.insertJob("userOnboarding", { email: "x" }, { maxAttempts: 0 }), /options\.maxAttempts must be an integer of at least 1/],
    ["missing uniqueBy field", () => sidetrack.insertJob("sendInvoice", { amountCents: 1 } as never), /payload\.invoiceId is required because the queue is uniqueBy/],
    ["one bad item in a batch", () => sidetrack.insertJobs("userOnboarding", [{ email: "ok" }, { email: Symbol("x") } as never]), /payload\.email is a symbol/],
  ];
  it.each(cases)("%s", async (_name, attempt, message) => {
    const before = await countJobs();
    const error = await attempt().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SidetrackValidationError);
    expect((error as Error).message).toMatch(message);
    expect(await countJobs()).toBe(before);
  });

  it("rejects payloads over maxPayloadBytes", async () => {
    const small = new Sidetrack<Queues>({ databaseUrl: db.url, maxPayloadBytes: 100, queues: { userOnboarding: {}, sendInvoice: {} } });
    await expect(small.insertJob("userOnboarding", { email: "x".repeat(200) })).rejects.toThrow(/over the limit of 100/);
    await small.close();
  });
});

describe("read and cancel", () => {
  it("getJob returns undefined for a missing or malformed id", async () => {
    expect(await sidetrack.getJob("999999999")).toBeUndefined();
    expect(await sidetrack.getJob("not-a-number")).toBeUndefined();
  });

  it("listJobs filters by queue and status", async () => {
    const job = await sidetrack.insertJob("sendInvoice", { invoiceId: "list-me", amountCents: 1 });
    const listed = await sidetrack.listJobs({ queue: "sendInvoice", status: "scheduled" });
    expect(Array.isArray(listed)).toBe(true);
    expect(listed.some((j) => j.id === job.id)).toBe(true);
    expect(listed.every((j) => j.queue === "sendInvoice" && j.status === "scheduled")).toBe(true);
    await expect(sidetrack.listJobs({ status: "done" as never })).rejects.toThrow(/unknown status "done"/);
  });

  it("cancelJob cancels a scheduled job at once and reports what it found", async () => {
    const job = await sidetrack.insertJob("userOnboarding", { email: "cancel@x" });
    expect(await sidetrack.cancelJob(job.id)).toBe(true);
    const read = await sidetrack.getJob(job.id);
    expect(read?.status).toBe("cancelled");
    expect(read?.cancelledAt).toBeInstanceOf(Date);
    expect(await sidetrack.cancelJob(job.id)).toBe(false);
    expect(await sidetrack.cancelJob("424242424242")).toBe(false);
  });
});

describe("named statements on the caller's client", () => {
  it("a pg client passed as it is follows the instance's preparedStatements; usePg(client) keeps its own", async () => {
    const unprepared = new Sidetrack<Queues>({ databaseOptions: { pool: db.pool }, preparedStatements: false, queues: { userOnboarding: {} } });
    /** Sidetrack's named statements on a new connection after `insert` ran on it. */
    const namedAfter = async (insert: (client: pg.Client) => Promise<unknown>) => {
      const client = quiet(new pg.Client({ connectionString: db.url }));
      await client.connect();
      try {
        await insert(client);
        return (await client.query<{ n: number }>("select count(*)::int as n from pg_prepared_statements where name like 'sidetrack%'")).rows[0]!.n;
      } finally {
        await client.end();
      }
    };
    expect(await namedAfter((client) => unprepared.insertJob("userOnboarding", { email: "raw@x" }, { dbClient: client }))).toBe(0);
    expect(await namedAfter((client) => unprepared.insertJob("userOnboarding", { email: "wrapped@x" }, { dbClient: usePg(client) }))).toBe(1);
    expect(await namedAfter((client) => sidetrack.insertJob("userOnboarding", { email: "default@x" }, { dbClient: client }))).toBe(1);
  });
});

describe("notifications", () => {
  it("wakes listeners only when the inserting transaction commits", async () => {
    const listener = quiet(new pg.Client({ connectionString: db.url }));
    await listener.connect();
    const received: string[] = [];
    listener.on("notification", (n) => received.push(`${n.channel}:${n.payload}`));
    await listener.query('listen "sidetrack_jobs_sidetrack"');

    const client = await db.pool.connect();
    await client.query("begin");
    await sidetrack.insertJob("userOnboarding", { email: "n@x" }, { dbClient: usePg(client) });
    // A round trip on the listener lets any notification already sent arrive.
    await listener.query("select 1");
    expect(received).toEqual([]);
    await client.query("commit");
    client.release();
    await expect.poll(() => received, { timeout: 5_000 }).toEqual(["sidetrack_jobs_sidetrack:userOnboarding"]);

    const rolledBack = await db.pool.connect();
    await rolledBack.query("begin");
    await sidetrack.insertJob("userOnboarding", { email: "r@x" }, { dbClient: rolledBack });
    await rolledBack.query("rollback");
    rolledBack.release();
    await listener.query("select 1");
    expect(received).toHaveLength(1);
    await listener.end();
  });
});

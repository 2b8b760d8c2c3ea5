// Deduplicated jobs: at most one scheduled/running/retrying job per (queue, unique key), race-free
// under concurrent inserts from many connections; a duplicate returns the existing job and says so.
import pg from "pg";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { runMigrations, Sidetrack, usePg } from "../runtime/index.js";
import { CONNECTION_BUDGET, createTestDatabase, quiet, TEST_POOL_MAX, type TestDatabase } from "./support/database.js";

type Queues = {
  invoice: { invoiceId: string; amountCents?: number };
  pair: { tenant: string; day: string; note?: string };
  plain: { n: number };
  other: { n: number };
};

let db: TestDatabase;
let sidetrack: Sidetrack<Queues>;
const schema = "uniq";
const clients: pg.Client[] = [];

beforeAll(async () => {
  db = await createTestDatabase("unique");
  await runMigrations({ pool: db.pool, schema });
  sidetrack = new Sidetrack<Queues>({
    databaseOptions: { pool: db.pool },
    schema,
    handleSignals: false,
    queues: {
      invoice: { uniqueBy: ["invoiceId"], handler: () => undefined },
      pair: { uniqueBy: ["tenant", "day"], handler: () => undefined },
      plain: { handler: () => undefined },
      other: { handler: () => undefined },
    },
  });
});
// Each test's connections end with it, so the file never holds more than one test's worth.
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
});

/** As many racing connections as the file's connection budget leaves beside its pool. */
const RACERS = CONNECTION_BUDGET - TEST_POOL_MAX;

/** `n` connections of their own, all connected before the test fires. */
async function connections(n: number): Promise<pg.Client[]> {
  if (n > RACERS) throw new Error(`${n} connections would exceed the file's budget (${RACERS} beside the pool)`);
  const made = Array.from({ length: n }, () => quiet(new pg.Client({ connectionString: db.url })));
  await Promise.all(made.map((c) => c.connect()));
  clients.push(...made);
  return made;
}

async function liveJobs(queue: string, key: string): Promise<{ id: string; status: string }[]> {
  const { rows } = await db.pool.query(
    `select id::text, status from ${schema}.jobs where queue = $1 and unique_key = $2 and status in ('scheduled', 'running', 'retrying')`,
    [queue, key],
  );
  return rows;
}

describe("unique keys under concurrency", () => {
  it("concurrent inserts of one key from many connections make one job; all get its id, exactly one is not a duplicate", async () => {
    const conns = await connections(RACERS);
    for (let round = 0; round < 10; round++) {
      const key = `race-${round}`;
      const results = await Promise.all(
        conns.map((c, i) =>
          round % 2 === 0
            ? sidetrack.insertJob("plain", { n: i }, { uniqueKey: key, dbClient: usePg(c) })
            : sidetrack.insertJob("invoice", { invoiceId: key, amountCents: i }, { dbClient: c }),
        ),
      );
      const queue = round % 2 === 0 ? "plain" : "invoice";
      const expectedKey = round % 2 === 0 ? key : JSON.stringify([key]);
      expect(new Set(results.map((j) => j.id)).size).toBe(1);
      expect(results.filter((j) => !j.duplicate)).toHaveLength(1);
      expect(results.every((j) => j.uniqueKey === expectedKey && j.queue === queue)).toBe(true);
      expect(await liveJobs(queue, expectedKey)).toEqual([{ id: results[0]!.id, status: "scheduled" }]);
      // Every caller sees the payload of the job that won, not its own.
      const winner = results.find((j) => !j.duplicate)!;
      expect(results.every((j) => JSON.stringify(j.payload) === JSON.stringify(winner.payload))).toBe(true);
    }
  });

  it("inserts racing an open transaction wait for it: its job when it commits, a new one (exactly once) when it rolls back", async () => {
    const [holder, ...others] = await connections(11);
    for (const outcome of ["commit", "rollback"] as const) {
      const key = `held-${outcome}`;
      await holder!.query("begin");
      const held = await sidetrack.insertJob("plain", { n: -1 }, { uniqueKey: key, dbClient: holder });
      expect(held.duplicate).toBe(false);
      const racing = Promise.all(others.map((c, i) => sidetrack.insertJob("plain", { n: i }, { uniqueKey: key, dbClient: c })));
      // The racers are blocked on the held row until the transaction ends.
      await expect
        .poll(async () => {
          const { rows } = await db.pool.query(
            "select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
          );
          return rows[0].n;
        })
        .toBe(others.length);
      await holder!.query(outcome);
      const results = await racing;
      expect(new Set(results.map((j) => j.id)).size).toBe(1);
      if (outcome === "commit") {
        expect(results.every((j) => j.id === held.id && j.duplicate)).toBe(true);
      } else {
        expect(results[0]!.id).not.toBe(held.id);
        expect(results.filter((j) => !j.duplicate)).toHaveLength(1);
      }
      expect(await liveJobs("plain", key)).toHaveLength(1);
    }
  });

  it("concurrent insertJobs batches sharing keys make one job per key", async () => {
    const conns = await connections(10);
    const keys = Array.from({ length: 20 }, (_, k) => `batch-${k}`);
    const results = await Promise.all(
      conns.map((c, i) => sidetrack.insertJobs("invoice", keys.map((invoiceId) => ({ invoiceId, amountCents: i })), { dbClient: c })),
    );
    for (let k = 0; k < keys.length; k++) {
      const forKey = results.map((batch) => batch[k]!);
      expect(new Set(forKey.map((j) => j.id)).size).toBe(1);
      expect(forKey.filter((j) => !j.duplicate)).toHaveLength(1);
    }
    const { rows } = await db.pool.query(`select count(*)::int as n from ${schema}.jobs where queue = 'invoice' and unique_key like '["batch-%'`);
    expect(rows[0].n).toBe(keys.length);
  });

  // Batches sharing keys in different orders once deadlocked (each waited on the other's
  // uncommitted key); insertJobsSql now inserts keyed rows in key order.
  it("concurrent insertJobs batches sharing keys in different orders make one job per key", async () => {
    const conns = await connections(10);
    for (let round = 0; round < 5; round++) {
      const keys = Array.from({ length: 30 }, (_, k) => `order-${round}-${k}`);
      const results = await Promise.all(
        conns.map((c, i) => sidetrack.insertJobs("invoice", (i % 2 ? [...keys].reverse() : keys).map((invoiceId) => ({ invoiceId })), { dbClient: c })),
      );
      const byKey = new Map<string, Set<string>>();
      for (const job of results.flat()) byKey.set(job.uniqueKey!, (byKey.get(job.uniqueKey!) ?? new Set()).add(job.id));
      expect([...byKey.values()].every((ids) => ids.size === 1)).toBe(true);
      expect(results.flat().filter((j) => !j.duplicate)).toHaveLength(keys.length);
    }
  });
});

describe("insertJobs with duplicates", () => {
  it("collapses duplicates inside the batch onto the first and takes live jobs from the table, in the items' order", async () => {
    const existing = await sidetrack.insertJob("invoice", { invoiceId: "t-1", amountCents: 1 });
    const jobs = await sidetrack.insertJobs("invoice", [
      { invoiceId: "b-1", amountCents: 10 },
      { invoiceId: "t-1", amountCents: 11 },
      { invoiceId: "b-2", amountCents: 12 },
      { invoiceId: "b-1", amountCents: 13 },
      { invoiceId: "t-1", amountCents: 14 },
      { invoiceId: "b-2", amountCents: 15 },
    ]);
    expect(jobs.map((j) => j.duplicate)).toEqual([false, true, false, true, true, true]);
    expect(jobs[1]!.id).toBe(existing.id);
    expect(jobs[4]!.id).toBe(existing.id);
    expect(jobs[3]!.id).toBe(jobs[0]!.id);
    expect(jobs[5]!.id).toBe(jobs[2]!.id);
    // The first of a key wins; a duplicate never overwrites the stored payload.
    expect(jobs.map((j) => j.payload.amountCents)).toEqual([10, 1, 12, 10, 1, 12]);
    expect((await sidetrack.getJob(existing.id))?.payload).toEqual({ invoiceId: "t-1", amountCents: 1 });
  });

  it("mixes keyed and unkeyed items, with per-item uniqueKey overriding uniqueBy", async () => {
    const jobs = await sidetrack.insertJobs(
      "plain",
      [
        { payload: { n: 1 } },
        { payload: { n: 2 }, options: { uniqueKey: "m-1" } },
        { payload: { n: 3 } },
        { payload: { n: 4 }, options: { uniqueKey: "m-1" } },
      ],
      { withOptions: true },
    );
    expect(jobs.map((j) => [j.payload.n, j.duplicate])).toEqual([[1, false], [2, false], [3, false], [2, true]]);
    expect(new Set(jobs.map((j) => j.id)).size).toBe(3);
    const overridden = await sidetrack.insertJobs("invoice", [{ payload: { invoiceId: "o-1" }, options: { uniqueKey: "explicit" } }], { withOptions: true });
    expect(overridden[0]!.uniqueKey).toBe("explicit");
  });
});

describe("the key's lifetime", () => {
  it("frees the key once the job completes, fails or is cancelled; a retrying job still holds it", async () => {
    const first = await sidetrack.insertJob("invoice", { invoiceId: "life-1" });
    expect(await sidetrack.runJob(first.id)).toMatchObject({ status: "completed" });
    const second = await sidetrack.insertJob("invoice", { invoiceId: "life-1" });
    expect(second).toMatchObject({ duplicate: false, uniqueKey: '["life-1"]' });
    expect(second.id).not.toBe(first.id);
    expect(await sidetrack.insertJob("invoice", { invoiceId: "life-1" })).toMatchObject({ id: second.id, duplicate: true });

    expect(await sidetrack.cancelJob(second.id)).toBe(true);
    const third = await sidetrack.insertJob("invoice", { invoiceId: "life-1" });
    expect(third.duplicate).toBe(false);

    // Retrying: still live, still the one job for the key. Then failed: free again.
    await db.pool.query(`update ${schema}.jobs set status = 'retrying' where id = $1`, [third.id]);
    expect(await sidetrack.insertJob("invoice", { invoiceId: "life-1" })).toMatchObject({ id: third.id, duplicate: true });
    await db.pool.query(`update ${schema}.jobs set status = 'failed', finalized_at = now() where id = $1`, [third.id]);
    expect(await sidetrack.insertJob("invoice", { invoiceId: "life-1" })).toMatchObject({ duplicate: false });
    expect(await liveJobs("invoice", '["life-1"]')).toHaveLength(1);
  });
});

describe("uniqueBy", () => {
  it("derives the key from the named payload fields, in declaration order, ignoring the others", async () => {
    const a = await sidetrack.insertJob("pair", { tenant: "t1", day: "2026-05-05", note: "first" });
    expect(a.uniqueKey).toBe('["t1","2026-05-05"]');
    const sameFields = await sidetrack.insertJob("pair", { day: "2026-05-05", tenant: "t1", note: "second" });
    expect(sameFields).toMatchObject({ id: a.id, duplicate: true, payload: { note: "first" } });
    const otherDay = await sidetrack.insertJob("pair", { tenant: "t1", day: "2026-05-06" });
    expect(otherDay.duplicate).toBe(false);
    // Values are JSON-encoded, so ("a,b", "c") and ("a", "b,c") are different keys.
    const x = await sidetrack.insertJob("pair", { tenant: "a,b", day: "c" });
    const y = await sidetrack.insertJob("pair", { tenant: "a", day: "b,c" });
    expect(x.id).not.toBe(y.id);
  });

  it("keys are per queue: the same key on two queues is two jobs", async () => {
    const one = await sidetrack.insertJob("plain", { n: 1 }, { uniqueKey: "shared" });
    const two = await sidetrack.insertJob("other", { n: 1 }, { uniqueKey: "shared" });
    expect(one.id).not.toBe(two.id);
    expect([one.duplicate, two.duplicate]).toEqual([false, false]);
  });

  it("rejects a payload missing a uniqueBy field before writing anything", async () => {
    await expect(sidetrack.insertJob("pair", { tenant: "t1" } as never)).rejects.toThrow(
      /queue "pair": payload\.day is required because the queue is uniqueBy \["tenant","day"\]/,
    );
  });
});

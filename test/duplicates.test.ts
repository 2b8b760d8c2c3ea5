// onDuplicate ("keep" | "replace" | "extend") and uniqueFor: what a duplicate insert does to the
// job holding its key, race-free under concurrent inserts from many connections.
import pg from "pg";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { runMigrations, Sidetrack, type InsertedJob } from "../runtime/index.js";
import { CONNECTION_BUDGET, createTestDatabase, quiet, TEST_POOL_MAX, type TestDatabase } from "./support/database.js";
import { deferred, nextEvent } from "./support/events.js";

type Queues = { work: { n: number } };

let db: TestDatabase;
const schema = "dups";
const clients: pg.Client[] = [];
const started: Sidetrack<Queues>[] = [];

beforeAll(async () => {
  db = await createTestDatabase("duplicates");
  await runMigrations({ pool: db.pool, schema });
});

afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.stop({ grace: 0 })));
  await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
});

function make(work: Record<string, unknown> = {}): Sidetrack<Queues> {
  const s = new Sidetrack<Queues>({
    databaseOptions: { pool: db.pool },
    schema,
    handleSignals: false,
    pollInterval: 50,
    queues: { work: work as never },
  });
  started.push(s);
  return s;
}

/** As many racing connections as the file's budget leaves beside the pool (and a worker's). */
const RACERS = CONNECTION_BUDGET - 2 * TEST_POOL_MAX;

async function connections(): Promise<pg.Client[]> {
  const made = Array.from({ length: RACERS }, () => quiet(new pg.Client({ connectionString: db.url })));
  await Promise.all(made.map((c) => c.connect()));
  clients.push(...made);
  return made;
}

async function liveJobs(key: string): Promise<{ id: string; payload: { n: number }; run_at: Date }[]> {
  const { rows } = await db.pool.query(
    `select id::text, payload, run_at from ${schema}.jobs where queue = 'work' and unique_key = $1 and status in ('scheduled', 'running', 'retrying')`,
    [key],
  );
  return rows;
}

const INSERTS = 50;

describe("onDuplicate under concurrency", () => {
  it.each(["keep", "replace", "extend"] as const)("%s: 50 concurrent inserts of one key, 5 rounds: one live job, every caller told what happened", async (mode) => {
    const s = make();
    const conns = await connections();
    for (let round = 0; round < 5; round++) {
      const key = `${mode}-${round}`;
      const results: InsertedJob<{ n: number }>[] = await Promise.all(
        Array.from({ length: INSERTS }, (_, n) =>
          s.insertJob("work", { n }, { uniqueKey: key, onDuplicate: mode, delay: n * 1000, dbClient: conns[n % conns.length] }),
        ),
      );
      const live = await liveJobs(key);
      expect(live).toHaveLength(1);
      expect(new Set(results.map((j) => j.id))).toEqual(new Set([live[0]!.id]));
      const fresh = results.filter((j) => !j.duplicate);
      expect(fresh).toHaveLength(1);
      const duplicates = results.filter((j) => j.duplicate);
      expect(live[0]!.payload.n).toBeGreaterThanOrEqual(0);
      expect(live[0]!.payload.n).toBeLessThan(INSERTS);
      if (mode === "keep") {
        // Nothing changes: every caller gets the first job as it was inserted.
        expect(results.every((j) => j.payload.n === fresh[0]!.payload.n && !j.updated)).toBe(true);
        expect(live[0]!.payload.n).toBe(fresh[0]!.payload.n);
      } else if (mode === "replace") {
        // Each replacing caller gets the job as its own statement left it: its own payload.
        results.forEach((j, n) => expect(j.payload.n).toBe(n));
        expect(duplicates.every((j) => j.updated)).toBe(true);
        // The job holds one of the inserted payloads, with the run_at that insert asked for.
        const winner = results[live[0]!.payload.n]!;
        expect(live[0]!.run_at.getTime()).toBe(winner.runAt.getTime());
      } else {
        // The payload stays the first's; run_at only moves later, ending at the latest asked for.
        expect(results.every((j) => j.payload.n === fresh[0]!.payload.n)).toBe(true);
        expect(duplicates.every((j) => j.updated)).toBe(true);
        const latest = Math.max(...results.map((j) => j.runAt.getTime()));
        expect(live[0]!.run_at.getTime()).toBe(latest);
      }
    }
  });
});

describe("onDuplicate rules", () => {
  it("keep (the default) returns the waiting job untouched", async () => {
    const s = make();
    const first = await s.insertJob("work", { n: 1 }, { uniqueKey: "keep-default", delay: "1h" });
    const second = await s.insertJob("work", { n: 2 }, { uniqueKey: "keep-default" });
    expect(second).toMatchObject({ id: first.id, duplicate: true, updated: false, payload: { n: 1 } });
    expect(second.runAt).toEqual(first.runAt);
  });

  it("replace takes the new payload, run_at, priority, attempts, tags and meta of a waiting job", async () => {
    const s = make();
    const first = await s.insertJob("work", { n: 1 }, { uniqueKey: "replace-all", delay: "1h", priority: 1, maxAttempts: 3, tags: ["a"] });
    const second = await s.insertJob("work", { n: 2 }, { uniqueKey: "replace-all", onDuplicate: "replace", priority: 7, maxAttempts: 9, tags: ["b"], meta: { m: 1 } });
    expect(second).toMatchObject({ id: first.id, duplicate: true, updated: true, payload: { n: 2 }, priority: 7, maxAttempts: 9, tags: ["b"], meta: { m: 1 } });
    expect(second.runAt.getTime()).toBeLessThan(first.runAt.getTime());
    expect(await s.getJob(first.id)).toMatchObject({ payload: { n: 2 }, priority: 7, status: "scheduled" });
  });

  it("extend pushes run_at later, never earlier, and keeps the payload", async () => {
    const s = make();
    const first = await s.insertJob("work", { n: 1 }, { uniqueKey: "extend", delay: "1h" });
    const sooner = await s.insertJob("work", { n: 2 }, { uniqueKey: "extend", onDuplicate: "extend", delay: "1m" });
    expect(sooner).toMatchObject({ id: first.id, payload: { n: 1 } });
    expect(sooner.runAt).toEqual(first.runAt);
    const later = await s.insertJob("work", { n: 3 }, { uniqueKey: "extend", onDuplicate: "extend", delay: "2h" });
    expect(later).toMatchObject({ id: first.id, payload: { n: 1 }, updated: true });
    expect(later.runAt.getTime()).toBeGreaterThan(first.runAt.getTime());
  });

  it("the queue's onDuplicate applies when the insert gives none", async () => {
    const s = make({ onDuplicate: "replace" });
    const first = await s.insertJob("work", { n: 1 }, { uniqueKey: "queue-mode", delay: "1h" });
    expect(await s.insertJob("work", { n: 2 }, { uniqueKey: "queue-mode" })).toMatchObject({ id: first.id, payload: { n: 2 }, updated: true });
  });

  it("replace never rewrites a running job: it finishes with its payload and a new job is scheduled after it", async () => {
    const release = deferred();
    const ran: number[] = [];
    const s = make({
      handler: async (job: { payload: { n: number }; uniqueKey: string | null }) => {
        // Jobs of earlier tests share the schema: only this test's key counts.
        if (job.uniqueKey === "running") ran.push(job.payload.n);
        return job.payload.n === 1 && job.uniqueKey === "running" ? release.promise : undefined;
      },
    });
    await s.start();
    const running = nextEvent(s, "job:started", (job) => job.uniqueKey === "running");
    const first = await s.insertJob("work", { n: 1 }, { uniqueKey: "running" });
    await running;
    // In a batch, beside a row without a key: each row gets its own job back.
    const [plain, second] = await s.insertJobs(
      "work",
      [
        { payload: { n: 10 }, options: { delay: "1h" } },
        { payload: { n: 2 }, options: { uniqueKey: "running", onDuplicate: "replace" as const, delay: "1h" } },
      ],
      { withOptions: true },
    );
    expect(plain).toMatchObject({ duplicate: false, payload: { n: 10 }, uniqueKey: null });
    expect(second!.id).not.toBe(first.id);
    expect(second).toMatchObject({ duplicate: true, updated: true, status: "scheduled", payload: { n: 2 } });
    expect(await s.getJob(first.id)).toMatchObject({ status: "running", payload: { n: 1 } });
    // A third "replace" now replaces the new waiting job, not the running one.
    const third = await s.insertJob("work", { n: 3 }, { uniqueKey: "running", onDuplicate: "replace", delay: "1h" });
    expect(third).toMatchObject({ id: second!.id, payload: { n: 3 }, updated: true });
    expect((await liveJobs("running")).map((j) => j.id)).toEqual([second!.id]);

    const completed = nextEvent(s, "job:completed", (job) => job.id === first.id);
    release.resolve();
    await completed;
    expect(await s.getJob(first.id)).toMatchObject({ status: "completed", payload: { n: 1 } });
    expect(ran).toEqual([1]);
  });

  it("keep and extend leave a running job alone and return it", async () => {
    const release = deferred();
    const s = make({ handler: async (job: { uniqueKey: string | null }) => (job.uniqueKey === "running-keep" ? release.promise : undefined) });
    await s.start();
    const running = nextEvent(s, "job:started", (job) => job.uniqueKey === "running-keep");
    const first = await s.insertJob("work", { n: 1 }, { uniqueKey: "running-keep" });
    await running;
    for (const mode of ["keep", "extend"] as const) {
      const dup = await s.insertJob("work", { n: 2 }, { uniqueKey: "running-keep", onDuplicate: mode, delay: "1h" });
      expect(dup).toMatchObject({ id: first.id, duplicate: true, updated: false, status: "running", payload: { n: 1 } });
    }
    release.resolve();
  });

  it("a batch resolves its own duplicates in order", async () => {
    const s = make();
    const items = (mode: "keep" | "replace" | "extend", key: string) =>
      [1, 2, 3].map((n) => ({ payload: { n }, options: { uniqueKey: key, onDuplicate: mode, delay: n * 60_000 } }));
    const keep = await s.insertJobs("work", items("keep", "batch-keep"), { withOptions: true });
    expect(keep.map((j) => [j.payload.n, j.duplicate, j.updated])).toEqual([[1, false, false], [1, true, false], [1, true, false]]);
    const replace = await s.insertJobs("work", items("replace", "batch-replace"), { withOptions: true });
    expect(replace.map((j) => [j.payload.n, j.duplicate, j.updated])).toEqual([[3, false, false], [3, true, true], [3, true, true]]);
    expect((await liveJobs("batch-replace")).map((j) => j.payload.n)).toEqual([3]);
    const extend = await s.insertJobs("work", items("extend", "batch-extend"), { withOptions: true });
    expect(extend.map((j) => [j.payload.n, j.duplicate, j.updated])).toEqual([[1, false, false], [1, true, true], [1, true, true]]);
    const [live] = await liveJobs("batch-extend");
    expect(live!.run_at.getTime() - extend[0]!.insertedAt.getTime()).toBeGreaterThanOrEqual(3 * 60_000 - 1);
    expect(new Set([...keep, ...replace, ...extend].map((j) => j.id)).size).toBe(3);
  });

  it("refuses an unknown onDuplicate, on the queue and on the insert", async () => {
    expect(() => make({ onDuplicate: "merge" })).toThrow(`queues.work.onDuplicate must be one of "keep", "replace", "extend", got "merge"`);
    const s = make();
    await expect(s.insertJob("work", { n: 1 }, { uniqueKey: "x", onDuplicate: "merge" as never })).rejects.toThrow(
      `queue "work": options.onDuplicate must be one of "keep", "replace", "extend", got "merge"`,
    );
    expect(() => make({ uniqueFor: "soon" })).toThrow("queues.work.uniqueFor must be milliseconds");
  });
});

describe("uniqueFor (throttle)", () => {
  it("holds the key after the job finished until the window ends, then frees it", async () => {
    const s = make({ uniqueFor: "1h", handler: async () => undefined });
    const first = await s.insertJob("work", { n: 1 }, { uniqueKey: "throttle" });
    await s.runJob(first.id);
    const held = await s.insertJob("work", { n: 2 }, { uniqueKey: "throttle" });
    expect(held).toMatchObject({ id: first.id, duplicate: true, updated: false, status: "completed" });
    // The window ends (moved into the past rather than waited for): the key is free again.
    await db.pool.query(`update ${schema}.jobs set unique_until = now() - interval '1 second' where id = $1`, [first.id]);
    const next = await s.insertJob("work", { n: 3 }, { uniqueKey: "throttle" });
    expect(next).toMatchObject({ duplicate: false, payload: { n: 3 } });
    expect(next.id).not.toBe(first.id);
  });

  it("without uniqueFor a finished job frees its key at once", async () => {
    const s = make({ handler: async () => undefined });
    const first = await s.insertJob("work", { n: 1 }, { uniqueKey: "no-throttle" });
    await s.runJob(first.id);
    expect(await s.insertJob("work", { n: 2 }, { uniqueKey: "no-throttle" })).toMatchObject({ duplicate: false });
  });

  it("an insert's uniqueFor overrides the queue's", async () => {
    const s = make({ handler: async () => undefined });
    const first = await s.insertJob("work", { n: 1 }, { uniqueKey: "own-window", uniqueFor: "10m" });
    await s.runJob(first.id);
    expect(await s.insertJob("work", { n: 2 }, { uniqueKey: "own-window" })).toMatchObject({ id: first.id, duplicate: true });
  });
});

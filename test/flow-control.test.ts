// Flow control across real worker processes: pause/resume, global concurrency, per-key
// concurrency and rate limits. Every check is computed from what the handlers recorded with
// clock_timestamp() (test/support/flow-worker-process.ts), not from the engine's counters.
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listQueues, runMigrations, setQueuePaused, Sidetrack } from "../runtime/index.js";
import { createTestDatabase, type TestDatabase } from "./support/database.js";
import { spawnWorker, type WorkerProcess } from "./support/processes.js";
import { fetchJobsSql } from "../runtime/db/sql/fetchJobs.js";
import { previousReleaseFetchSql, previousReleaseInsertSql } from "./fixtures/previous-release-sql.js";

type Queues = { limited: { key?: string }; free: { key?: string } };
const script = fileURLToPath(new URL("./support/flow-worker-process.ts", import.meta.url));
let db: TestDatabase;
const children: WorkerProcess[] = [];

beforeAll(async () => {
  db = await createTestDatabase("flow");
});
afterAll(() => {
  for (const c of children) c.child.kill("SIGKILL");
});

/** Migrates `schema`, creates the handlers' record table and starts `n` worker processes. */
async function cluster(schema: string, n: number, env: Record<string, string>): Promise<{ inserter: Sidetrack<Queues>; stop: () => Promise<void> }> {
  await runMigrations({ pool: db.pool, schema });
  await db.pool.query(`create table ${schema}.runs (job_id bigint, queue text, key text, granted timestamptz, started timestamptz, ended timestamptz)`);
  const workers = Array.from({ length: n }, () => spawnWorker({ DATABASE_URL: db.url, SCHEMA: schema, ...env }, script));
  children.push(...workers);
  await Promise.all(workers.map((w) => w.waitForLine(/^ready$/)));
  const inserter = new Sidetrack<Queues>({ databaseUrl: db.url, schema, queues: { limited: JSON.parse(env.POLICY ?? "{}"), free: {} } });
  return {
    inserter,
    stop: async () => {
      for (const w of workers) w.child.kill("SIGTERM");
      await Promise.all(workers.map((w) => w.exited));
      await inserter.close();
    },
  };
}

async function completed(schema: string, queue: string): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(`select count(*)::int as n from ${schema}.jobs where queue = $1 and status = 'completed'`, [queue]);
  return rows[0]!.n;
}

/** The most runs of `queue` overlapping at once, per key when `byKey`, from the handlers' records. */
async function maxOverlap(schema: string, queue: string, byKey: boolean): Promise<number> {
  const part = byKey ? "partition by key" : "";
  const { rows } = await db.pool.query<{ n: number | null }>(
    `select max(running)::int as n from (
       select sum(delta) over (${part} order by at, delta rows unbounded preceding) as running
       from (select key, started as at, 1 as delta from ${schema}.runs where queue = $1
             union all select key, ended, -1 from ${schema}.runs where queue = $1) e
     ) x`,
    [queue],
  );
  return rows[0]!.n ?? 0;
}

const eventually = { timeout: 60_000, interval: 100 };

describe("migration 0004 under the previous release", () => {
  it("a worker of the previous release keeps inserting, claiming and completing on the migrated schema", async () => {
    const schema = "previous";
    await runMigrations({ pool: db.pool, schema });
    const { rows: inserted } = await db.pool.query<{ id: string }>(previousReleaseInsertSql(schema), [5]);
    const claim = (done: string[]) =>
      db.pool.query<{ id: string | null; completed_ids: string[] | null }>(previousReleaseFetchSql(schema), ["old-worker", 30_000, ["free"], [10], 10, done]);
    const first = await claim([]);
    const claimed = first.rows.filter((r) => r.id !== null).map((r) => r.id!);
    expect(claimed.sort()).toEqual(inserted.map((r) => r.id).sort());
    const second = await claim(claimed);
    expect(second.rows.find((r) => r.completed_ids !== null)!.completed_ids!.sort()).toEqual(claimed.sort());
    expect(await completed(schema, "free")).toBe(5);
  });
});

describe("pause is race-free", () => {
  it("pauseQueue waits for a claim in flight, and the claims after it take nothing", async () => {
    const schema = "pauserace";
    await runMigrations({ pool: db.pool, schema });
    const inserter = new Sidetrack<Queues>({ databaseUrl: db.url, schema, queues: { limited: {}, free: {} } });
    await inserter.insertJobs("free", [{}, {}, {}], { dbClient: db.pool });
    await setQueuePaused(db.pool, "free", false, { schema }); // gives the queue its row, as start() would
    const claim = (client: { query: typeof db.pool.query }) =>
      client.query<{ id: string | null }>(fetchJobsSql(schema), ["w", 30_000, ["free"], [1], 1, [], [], `${schema}.jobs`]);
    const inFlight = await db.pool.connect();
    await inFlight.query("begin");
    expect((await claim(inFlight)).rows.filter((r) => r.id !== null)).toHaveLength(1);
    let returned = false;
    const pausing = setQueuePaused(db.pool, "free", true, { schema }).then(() => (returned = true));
    // The pause waits on the claim's row lock.
    await expect.poll(async () => (await db.pool.query(`select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()`)).rows[0].n, eventually).toBe(1);
    expect(returned).toBe(false);
    await inFlight.query("commit");
    inFlight.release();
    await pausing;
    expect((await claim(db.pool)).rows.filter((r) => r.id !== null)).toEqual([]);
    await setQueuePaused(db.pool, "free", false, { schema });
    expect((await claim(db.pool)).rows.filter((r) => r.id !== null)).toHaveLength(1);
    await inserter.close();
  });
});

describe("flow control across worker processes", () => {
  it("pause: no job of a paused queue starts once pauseQueue returned; resume continues", async () => {
    const schema = "pause";
    const { inserter, stop } = await cluster(schema, 3, { CONCURRENCY: "4", SLEEP_MS: "20" });
    await inserter.insertJobs("free", Array.from({ length: 400 }, () => ({})), { dbClient: db.pool });
    await expect.poll(() => completed(schema, "free"), eventually).toBeGreaterThanOrEqual(40);

    await setQueuePaused(db.pool, "free", true, { schema });
    // Every job a claim took before the pause committed: the only ones that may still start.
    const { rows: claimed } = await db.pool.query<{ id: string }>(`select id::text from ${schema}.jobs where queue = 'free' and started_at is not null`);
    const allowed = new Set(claimed.map((r) => r.id));
    // The workers keep claiming other queues (so they have seen the pause's NOTIFY and polled since).
    await inserter.insertJobs("limited", Array.from({ length: 30 }, () => ({})), { dbClient: db.pool });
    await expect.poll(() => completed(schema, "limited"), eventually).toBe(30);
    await expect.poll(async () => (await listQueues(db.pool, { schema })).find((q) => q.name === "free")?.counts.running ?? 0, eventually).toBe(0);

    const { rows: ran } = await db.pool.query<{ id: string }>(`select job_id::text as id from ${schema}.runs where queue = 'free'`);
    expect(ran.filter((r) => !allowed.has(r.id))).toEqual([]);
    const info = (await listQueues(db.pool, { schema })).find((q) => q.name === "free")!;
    expect(info.paused).toBe(true);
    expect(info.counts.scheduled).toBeGreaterThan(0);

    await setQueuePaused(db.pool, "free", false, { schema });
    await expect.poll(() => completed(schema, "free"), eventually).toBe(400);
    await stop();
  });

  it("globalConcurrency: 3 across 4 processes of concurrency 10: the overlap is exactly 3", async () => {
    const schema = "global";
    const policy = JSON.stringify({ globalConcurrency: 3 });
    const { inserter, stop } = await cluster(schema, 4, { CONCURRENCY: "10", SLEEP_MS: "60", POLICY: policy });
    await inserter.insertJobs("limited", Array.from({ length: 60 }, () => ({})), { dbClient: db.pool });
    await expect.poll(() => completed(schema, "limited"), eventually).toBe(60);
    expect(await maxOverlap(schema, "limited", false)).toBe(3);
    await stop();
  });

  it("concurrencyBy/concurrencyPerKey: at most k per key across 3 processes, and a busy key blocks no other", async () => {
    const schema = "perkey";
    const policy = JSON.stringify({ concurrencyBy: ["key"], concurrencyPerKey: 2 });
    const { inserter, stop } = await cluster(schema, 3, { CONCURRENCY: "10", SLEEP_MS: "30", POLICY: policy });
    // One busy key first, then 50 others: without skipping the busy key they would wait behind it.
    const busy = Array.from({ length: 30 }, () => ({ key: "busy" }));
    const others = Array.from({ length: 200 }, (_, i) => ({ key: `k${i % 50}` }));
    await inserter.insertJobs("limited", [...busy, ...others], { dbClient: db.pool });
    await expect.poll(() => completed(schema, "limited"), eventually).toBe(230);
    expect(await maxOverlap(schema, "limited", true)).toBe(2);
    expect(await maxOverlap(schema, "limited", false)).toBeGreaterThan(2);
    const { rows } = await db.pool.query<{ overtaken: boolean }>(
      `select (select min(started) from ${schema}.runs where key <> 'busy') < (select max(started) from ${schema}.runs where key = 'busy') as overtaken`,
    );
    expect(rows[0]!.overtaken).toBe(true);
    await stop();
  });

  it("rateLimit 20 per 2s across 3 processes: no 2 s window holds more than 20 starts, and it drains at that rate", async () => {
    const schema = "rate";
    const policy = JSON.stringify({ rateLimit: { limit: 20, per: "2s" } });
    const { inserter, stop } = await cluster(schema, 3, { CONCURRENCY: "10", SLEEP_MS: "5", POLICY: policy });
    const begun = Date.now();
    await inserter.insertJobs("limited", Array.from({ length: 200 }, () => ({})), { dbClient: db.pool });
    await expect.poll(() => completed(schema, "limited"), { timeout: 120_000, interval: 200 }).toBe(200);
    // The start each claim granted (the job's started_at, which the handler read): any window of
    // 2 s beginning at a start holds at most 20 starts.
    const { rows } = await db.pool.query<{ worst: number; span_ms: number }>(
      `select (select max((select count(*) from ${schema}.runs b where b.granted >= a.granted and b.granted < a.granted + interval '2 seconds'))
               from ${schema}.runs a)::int as worst,
              (extract(epoch from max(granted) - min(granted)) * 1000)::float8 as span_ms from ${schema}.runs`,
    );
    expect(rows[0]!.worst).toBe(20);
    // 200 starts at 20 per 2 s need at least 9 full windows after the first batch.
    expect(rows[0]!.span_ms).toBeGreaterThanOrEqual(18_000);
    console.log(`[figure] rate limit 20/2s: 200 jobs in ${((Date.now() - begun) / 1000).toFixed(1)}s, starts spread over ${(rows[0]!.span_ms / 1000).toFixed(1)}s`);
    await stop();
  });
});

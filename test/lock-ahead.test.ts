// Lock-ahead across real processes: slow jobs spread over every worker instead of being hoarded
// by the first claim; a frozen worker starts none of the jobs it had buffered once their lease
// may have lapsed; stop() gives buffered jobs back at once, in one statement, attempt unspent.
// Checked from what the handlers recorded (clock_timestamp()), not from engine counters.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMigrations, Sidetrack } from "../runtime/index.js";
import { createTestDatabase, type TestDatabase } from "./support/database.js";
import { spawnWorker, type WorkerProcess } from "./support/processes.js";

type Queues = { work: { n: number } };
let db: TestDatabase;
const children: WorkerProcess[] = [];

beforeAll(async () => {
  db = await createTestDatabase("lockahead");
});
afterAll(() => {
  for (const c of children) c.child.kill("SIGKILL");
});

async function prepare(schema: string): Promise<Sidetrack<Queues>> {
  await runMigrations({ pool: db.pool, schema });
  await db.pool.query(`create table ${schema}.runs (id bigserial primary key, job_id bigint not null, worker text not null,
    started_at timestamptz not null, finished_at timestamptz)`);
  return new Sidetrack<Queues>({ databaseOptions: { pool: db.pool }, schema, queues: { work: {} } });
}

function worker(schema: string, name: string, env: Record<string, string>): WorkerProcess {
  const w = spawnWorker({ DATABASE_URL: db.url, SCHEMA: schema, MODE: "record", WORKER_NAME: name, POLL_MS: "200", ...env });
  children.push(w);
  return w;
}

async function stopAll(workers: WorkerProcess[]): Promise<void> {
  for (const w of workers) w.child.kill("SIGTERM");
  await Promise.all(workers.map((w) => w.exited));
}

describe("lock-ahead", () => {
  it("spreads slow jobs over every worker: 3 processes x concurrency 5, 150 jobs of 200 ms", async () => {
    const schema = "fair";
    const inserter = await prepare(schema);
    const workers = ["a", "b", "c"].map((name) => worker(schema, name, { CONCURRENCY: "5", SLEEP_MS: "200" }));
    await Promise.all(workers.map((w) => w.waitForLine(/^ready$/)));
    await inserter.insertJobs("work", Array.from({ length: 150 }, (_, n) => ({ n })));
    await expect
      .poll(async () => (await db.pool.query(`select count(*)::int as n from ${schema}.jobs where status = 'completed'`)).rows[0].n, {
        timeout: 60_000,
        interval: 200,
      })
      .toBe(150);
    const { rows } = await db.pool.query<{ worker: string; n: number }>(`select worker, count(*)::int as n from ${schema}.runs group by worker order by worker`);
    console.log(`[figure] runs per process: ${rows.map((r) => `${r.worker}=${r.n}`).join(", ")}`);
    expect(rows.map((r) => r.worker)).toEqual(["a", "b", "c"]);
    for (const r of rows) {
      expect(r.n).toBeGreaterThanOrEqual(Math.ceil(150 * 0.25));
      expect(r.n).toBeLessThanOrEqual(Math.floor(150 * 0.42));
    }
    await stopAll(workers);
  });

  it("a worker frozen for three lease lengths starts none of the jobs it had buffered; its late completion changes nothing", async () => {
    const schema = "frozen";
    const inserter = await prepare(schema);
    const lease = 1_000;
    // One slot and a fixed buffer of 5: while its one job runs, five more wait in its buffer.
    const frozen = worker(schema, "frozen", { CONCURRENCY: "1", PREFETCH: "5", SLEEP_MS: "1500", LEASE_MS: String(lease) });
    await frozen.waitForLine(/^ready$/);
    await inserter.insertJobs("work", Array.from({ length: 6 }, (_, n) => ({ n })));
    await expect
      .poll(async () => (await db.pool.query(`select count(*)::int as n from ${schema}.runs where worker = 'frozen'`)).rows[0].n, { timeout: 20_000, interval: 50 })
      .toBe(1);
    const held = await db.pool.query<{ id: string }>(`select id::text from ${schema}.jobs where status = 'running'`);
    expect(held.rows.length).toBe(6); // one running, five buffered, all leased to it
    frozen.child.kill("SIGSTOP");
    // Another worker rescues the expired leases and runs everything, including the buffered jobs.
    const rescuer = worker(schema, "rescuer", { CONCURRENCY: "6", SLEEP_MS: "10", LEASE_MS: String(lease) });
    await rescuer.waitForLine(/^ready$/);
    await new Promise((resolve) => setTimeout(resolve, 3 * lease));
    const { rows: [{ now: resumedAt }] } = await db.pool.query<{ now: Date }>("select clock_timestamp() as now");
    frozen.child.kill("SIGCONT");
    await expect
      .poll(async () => (await db.pool.query(`select count(*)::int as n from ${schema}.jobs where status = 'completed'`)).rows[0].n, { timeout: 30_000, interval: 100 })
      .toBe(6);
    // Let the frozen worker finish its sleeping handler and try to complete it.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const late = await db.pool.query(`select * from ${schema}.runs where worker = 'frozen' and started_at >= $1`, [resumedAt]);
    expect(late.rows).toEqual([]);
    const ranBy = await db.pool.query<{ job_id: string; workers: string[] }>(
      `select job_id::text, array_agg(worker order by started_at) as workers from ${schema}.runs group by job_id order by job_id`,
    );
    expect(ranBy.rows.length).toBe(6);
    // The job that was running when it froze ran twice (frozen, then rescued); the buffered five only on the rescuer.
    expect(ranBy.rows.filter((r) => r.workers.length === 2).map((r) => r.workers)).toEqual([["frozen", "rescuer"]]);
    expect(ranBy.rows.filter((r) => r.workers.length === 1).every((r) => r.workers[0] === "rescuer")).toBe(true);
    const jobs = await db.pool.query<{ status: string; locked_by: string | null }>(`select status, locked_by from ${schema}.jobs`);
    expect(jobs.rows.every((j) => j.status === "completed" && j.locked_by === null)).toBe(true);
    await stopAll([frozen, rescuer]);
  });

  it("stop() gives buffered jobs back at once, in one statement, their attempt unspent", async () => {
    const schema = "giveback";
    const inserter = await prepare(schema);
    await inserter.insertJobs("work", Array.from({ length: 8 }, (_, n) => ({ n })));
    const pool = new pg.Pool({ connectionString: db.url, max: 3 });
    pool.on("error", () => undefined);
    const returns: unknown[][] = [];
    const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
    // Observe (not replace) the statements the worker sends: count the give-back statements.
    (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const text = typeof args[0] === "string" ? args[0] : (args[0] as { text?: string }).text;
      if (text?.includes("set status = 'scheduled', attempt = greatest(attempt - 1, 0)")) returns.push(args[1] as unknown[]);
      return query(...args);
    };
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => (release = resolve));
    const started: string[] = [];
    const sidetrack = new Sidetrack<Queues>({
      databaseOptions: { pool },
      schema,
      concurrency: 1,
      prefetch: 5,
      handleSignals: false,
      shutdownGrace: 10_000,
      queues: { work: { handler: async (job) => void started.push(job.id) ?? (await blocked) } },
    });
    await sidetrack.start();
    await expect.poll(() => started.length, { timeout: 10_000 }).toBe(1);
    await expect
      .poll(async () => (await db.pool.query(`select count(*)::int as n from ${schema}.jobs where status = 'running'`)).rows[0].n, { timeout: 10_000 })
      .toBe(6);
    const stopping = sidetrack.stop();
    // The buffered five are back while the running job still holds its slot.
    await expect
      .poll(async () => (await db.pool.query(`select count(*)::int as n from ${schema}.jobs where status = 'scheduled' and attempt = 0 and locked_by is null`)).rows[0].n, { timeout: 10_000 })
      .toBe(7);
    expect(returns.length).toBe(1);
    expect((returns[0]![0] as string[]).length).toBe(5);
    release();
    await stopping;
    const done = await db.pool.query<{ attempt: number }>(`select attempt from ${schema}.jobs where status = 'completed'`);
    expect(done.rows).toEqual([{ attempt: 1 }]);
    expect(started.length).toBe(1);
    await pool.end();
  });

  it("started_at is when the handler started, not when the job was claimed", async () => {
    const schema = "startedat";
    const inserter = await prepare(schema);
    const w = worker(schema, "w", { CONCURRENCY: "1", PREFETCH: "3", SLEEP_MS: "300" });
    await w.waitForLine(/^ready$/);
    await inserter.insertJobs("work", Array.from({ length: 4 }, (_, n) => ({ n })));
    await expect
      .poll(async () => (await db.pool.query(`select count(*)::int as n from ${schema}.jobs where status = 'completed'`)).rows[0].n, { timeout: 20_000, interval: 100 })
      .toBe(4);
    // One slot: each job's handler starts after the previous one's. With started_at taken from the
    // claim, the last three (claimed together with the first, then buffered) would all predate the
    // first handler's start; started_at must follow each handler's own start instead.
    const { rows } = await db.pool.query<{ started_at: Date; handler_started_at: Date }>(
      `select j.started_at, r.started_at as handler_started_at
       from ${schema}.jobs j join ${schema}.runs r on r.job_id = j.id order by r.started_at`,
    );
    expect(rows.length).toBe(4);
    for (let k = 1; k < rows.length; k++) {
      expect(rows[k]!.started_at.getTime()).toBeGreaterThan(rows[k - 1]!.handler_started_at.getTime());
    }
    await stopAll([w]);
  });
});

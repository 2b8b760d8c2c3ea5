// The engine across real processes: three workers share 10,000 jobs exactly once, a worker
// killed with SIGKILL mid-job has its job finished by another, and SIGTERM is graceful.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMigrations, Sidetrack } from "../runtime/index.js";
import { createTestDatabase, type TestDatabase } from "./support/database.js";
import { nextEvent } from "./support/events.js";
import { spawnWorker, type WorkerProcess } from "./support/processes.js";

type Queues = { work: { n: number } };
let db: TestDatabase;
const children: WorkerProcess[] = [];

beforeAll(async () => {
  db = await createTestDatabase("processes");
});
afterAll(() => {
  for (const c of children) c.child.kill("SIGKILL");
});

async function statusCounts(schema: string): Promise<Record<string, number>> {
  const { rows } = await db.pool.query<{ status: string; n: number }>(
    `select status, count(*)::int as n from ${schema}.jobs group by status`,
  );
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

describe("worker processes", () => {
  it("three processes complete 10,000 jobs, each exactly once", async () => {
    const schema = "invariant";
    await runMigrations({ pool: db.pool, schema });
    const workers = Array.from({ length: 3 }, () => spawnWorker({ DATABASE_URL: db.url, SCHEMA: schema, CONCURRENCY: "20" }));
    children.push(...workers);
    await Promise.all(workers.map((w) => w.waitForLine(/^ready$/)));

    const inserter = new Sidetrack<Queues>({ databaseUrl: db.url, schema, queues: { work: {} } });
    const startedAt = performance.now();
    const jobs = await inserter.insertJobs("work", Array.from({ length: 10_000 }, (_, n) => ({ n })));
    await expect.poll(async () => (await statusCounts(schema)).completed ?? 0, { timeout: 120_000, interval: 100 }).toBe(10_000);
    const seconds = (performance.now() - startedAt) / 1000;
    console.log(`[figure] invariant run: 10,000 jobs over 3 processes in ${seconds.toFixed(2)}s = ${Math.round(10_000 / seconds)} jobs/s`);

    for (const w of workers) w.child.kill("SIGTERM");
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0, 0]);
    const runs = new Map<string, number>();
    const perWorker: number[] = [];
    for (const w of workers) {
      const line = w.output().trim().split("\n").pop()!;
      const counts = (JSON.parse(line) as { runs: Record<string, number> }).runs;
      perWorker.push(Object.keys(counts).length);
      for (const [id, n] of Object.entries(counts)) runs.set(id, (runs.get(id) ?? 0) + n);
    }
    expect(runs.size).toBe(10_000);
    expect([...runs.values()].every((n) => n === 1)).toBe(true);
    expect(new Set(jobs.map((j) => j.id))).toEqual(new Set(runs.keys()));
    expect(await statusCounts(schema)).toEqual({ completed: 10_000 });
    console.log(`[figure] jobs per worker process: ${perWorker.join(", ")}`);
    await inserter.close();
  });

  it("finishes the job of a worker killed with SIGKILL mid-job once its lease expires", async () => {
    const schema = "sigkill";
    await runMigrations({ pool: db.pool, schema });
    const leaseMs = 1_000;
    const pollMs = 250;
    const doomed = spawnWorker({ DATABASE_URL: db.url, SCHEMA: schema, MODE: "hang", LEASE_MS: String(leaseMs), POLL_MS: String(pollMs) });
    children.push(doomed);
    await doomed.waitForLine(/^ready$/);

    const survivor = new Sidetrack<Queues>({
      databaseUrl: db.url,
      schema,
      handleSignals: false,
      leaseDuration: leaseMs,
      pollInterval: pollMs,
      rescueInterval: pollMs,
      queues: { work: { handler: () => undefined } },
    });
    const job = await survivor.insertJob("work", { n: 1 });
    await doomed.waitForLine(new RegExp(`^started ${job.id}$`));
    // Start the survivor only now, so the doomed worker certainly holds the job.
    await survivor.start();
    doomed.child.kill("SIGKILL");
    const killedAt = performance.now();
    await doomed.exited;
    const [rescuedId] = await nextEvent(survivor, "job:rescued");
    expect(rescuedId).toBe(job.id);
    await nextEvent(survivor, "job:completed", (j) => j.id === job.id);
    console.log(`[figure] SIGKILL to completion by another worker: ${Math.round(performance.now() - killedAt)}ms (lease ${leaseMs}ms, poll ${pollMs}ms)`);
    const read = await survivor.getJob(job.id);
    expect(read).toMatchObject({ status: "completed", attempt: 2 });
    expect(read!.errors).toHaveLength(1);
    expect(read!.errors[0]!.message).toMatch(/lost its lease/);
    await survivor.stop({ grace: 0 });
  });

  it("stops gracefully on SIGTERM, returning a stuck job without spending its attempt", async () => {
    const schema = "sigterm";
    await runMigrations({ pool: db.pool, schema });
    const worker = spawnWorker({ DATABASE_URL: db.url, SCHEMA: schema, MODE: "hang", GRACE_MS: "300" });
    children.push(worker);
    await worker.waitForLine(/^ready$/);
    const inserter = new Sidetrack<Queues>({ databaseUrl: db.url, schema, queues: { work: {} } });
    const job = await inserter.insertJob("work", { n: 1 });
    await worker.waitForLine(new RegExp(`^started ${job.id}$`));
    // The handler never settles, so the grace period runs out; the job is then aborted and returned.
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(0);
    expect(await inserter.getJob(job.id)).toMatchObject({ status: "scheduled", attempt: 0, lockedBy: null });
    await inserter.close();
  });
});

// Sidetrack behind a real PgBouncer 1.18 (Debian's package) in transaction mode: inserts inside
// pg and Prisma transactions, a worker whose pool goes through PgBouncer with its LISTEN and
// liveness session on a direct connection (listenConnectionString), and a poll-only worker
// (listen: false) whose liveness falls back to heartbeats. Each checked with real processes.
import { fileURLToPath } from "node:url";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listWorkers, runMigrations, Sidetrack, usePg } from "../runtime/index.js";
import { usePrisma } from "../runtime/prisma.js";
import { PrismaClient } from "./fixtures/prisma/generated/client.js";
import { createTestDatabase, type TestDatabase } from "./support/database.js";
import { findPgBouncer, startPgBouncer, type PgBouncer } from "../scripts/pgbouncer.js";
import { spawnWorker, type WorkerProcess } from "./support/processes.js";
import type { RecordedPayload } from "./support/recording-worker.js";

const binary = findPgBouncer();
// CI installs pgbouncer (.ci/run): there a missing binary is a failure, never a skip.
if (!binary && process.env.CI) throw new Error("pgbouncer is not installed but CI is set: .ci/run must install it (apt-get install pgbouncer)");
if (!binary) console.warn("[skip] pgbouncer not installed: the PgBouncer tests are skipped (apt-get install pgbouncer)");

const script = fileURLToPath(new URL("./support/recording-worker.ts", import.meta.url));
type Queues = { work: RecordedPayload };
let db: TestDatabase;
let bouncer: PgBouncer;
const children: WorkerProcess[] = [];

beforeAll(async () => {
  if (!binary) return;
  db = await createTestDatabase("pgbouncer");
  bouncer = await startPgBouncer(db.url, binary);
  console.log(`[figure] ${bouncer.version}, pool_mode = transaction`);
});
afterAll(async () => {
  for (const c of children) c.child.kill("SIGKILL");
  await bouncer?.stop();
});

async function count(sql: string, values: unknown[] = []): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(`select (${sql})::int as n`, values);
  return rows[0]!.n;
}

async function prepare(schema: string): Promise<void> {
  await runMigrations({ pool: db.pool, schema });
  await db.pool.query(
    `create table "${schema}".runs (job_id bigint not null, worker text not null, attempt int not null, event text not null, at timestamptz not null)`,
  );
}

function worker(schema: string, id: string, env: Record<string, string>): WorkerProcess {
  const w = spawnWorker({ DATABASE_URL: bouncer.url, RECORD_URL: db.url, SCHEMA: schema, WORKER_ID: id, PREPARED: "false", ...env }, script);
  children.push(w);
  return w;
}

/**
 * SIGKILLs one of `workers` while it holds jobs: the first seen holding some (poll-only workers
 * claim on their own ticks, so either may take the whole batch). Returns which it was, ms from
 * the kill to the last rescue, and the messages the rescue recorded.
 */
async function killAndRescue(schema: string, workers: Record<string, WorkerProcess>, inserter: Sidetrack<Queues>) {
  await inserter.insertJobs("work", Array.from({ length: 40 }, () => ({ firstSleepMs: 300, honorAbort: false })));
  let victimId = "";
  await expect
    .poll(
      async () => {
        const { rows } = await db.pool.query<{ locked_by: string }>(
          `select locked_by from "${schema}".jobs where status = 'running' and locked_by = any($1::text[]) limit 1`,
          [Object.keys(workers)],
        );
        victimId = rows[0]?.locked_by ?? "";
        return victimId;
      },
      { timeout: 30_000, interval: 20 },
    )
    .not.toBe("");
  const killedAt = (await db.pool.query<{ t: Date }>("select clock_timestamp() as t")).rows[0]!.t;
  workers[victimId]!.child.kill("SIGKILL");
  await expect.poll(() => count(`select count(*) from "${schema}".jobs where status <> 'completed'`), { timeout: 60_000, interval: 50 }).toBe(0);
  const { rows } = await db.pool.query<{ message: string; at: string }>(
    `select e->>'message' as message, e->>'at' as at from "${schema}".jobs, jsonb_array_elements(errors) e`,
  );
  expect(rows.length).toBeGreaterThan(0);
  return { victimId, rescueMs: Math.max(...rows.map((r) => new Date(r.at).getTime())) - killedAt.getTime(), messages: rows.map((r) => r.message) };
}

describe.skipIf(!binary)("behind PgBouncer (transaction mode)", () => {
  it("inserts inside pg and Prisma transactions through PgBouncer commit and roll back with the application's rows", async () => {
    await runMigrations({ pool: db.pool });
    await db.pool.query(`create table "User" (id serial primary key, email text not null unique)`);
    const sidetrack = new Sidetrack<Queues>({ databaseUrl: bouncer.url, preparedStatements: false, queues: { work: {} } });
    const pool = new pg.Pool({ connectionString: bouncer.url, max: 2 });
    const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: bouncer.url }) });
    const payload = { firstSleepMs: 0, honorAbort: false };
    try {
      for (const outcome of ["commit", "rollback"] as const) {
        const client = await pool.connect();
        await client.query("begin");
        await client.query(`insert into "User" (email) values ($1)`, [`pg-${outcome}@example.com`]);
        const job = await sidetrack.insertJob("work", payload, { dbClient: outcome === "commit" ? usePg(client, { preparedStatements: false }) : client });
        await client.query(outcome);
        client.release();
        expect(await count(`select count(*) from sidetrack.jobs where id = $1`, [job.id])).toBe(outcome === "commit" ? 1 : 0);
        expect(await count(`select count(*) from "User" where email = $1`, [`pg-${outcome}@example.com`])).toBe(outcome === "commit" ? 1 : 0);
      }
      const committed = await prisma.$transaction(async (tx) => {
        await tx.user.create({ data: { email: "prisma-commit@example.com" } });
        return sidetrack.insertJobs("work", [payload, payload], { dbClient: usePrisma(tx) });
      });
      expect(await count(`select count(*) from sidetrack.jobs where id = any($1::bigint[])`, [committed.map((j) => j.id)])).toBe(2);
      let rolledBack: string | undefined;
      await expect(
        prisma.$transaction(async (tx) => {
          await tx.user.create({ data: { email: "prisma-rollback@example.com" } });
          rolledBack = (await sidetrack.insertJob("work", payload, { dbClient: usePrisma(tx) })).id;
          throw new Error("declined");
        }),
      ).rejects.toThrow("declined");
      expect(await count(`select count(*) from sidetrack.jobs where id = $1`, [rolledBack])).toBe(0);
      expect(await count(`select count(*) from "User" where email = 'prisma-rollback@example.com'`)).toBe(0);
      // Many inserts without a transaction, through PgBouncer, with named statements off.
      await Promise.all(Array.from({ length: 20 }, () => sidetrack.insertJob("work", payload)));
      expect(await count(`select count(*) from sidetrack.jobs`)).toBe(1 + 2 + 20);
    } finally {
      await prisma.$disconnect();
      await pool.end();
      await sidetrack.close();
    }
  });

  it("workers through PgBouncer with LISTEN and the liveness lock on a direct connection: a SIGKILLed one is rescued at once", async () => {
    const schema = "bounced_listen";
    await prepare(schema);
    const env = { LISTEN_URL: db.url };
    const [a, b] = [worker(schema, "A", env), worker(schema, "B", env)];
    await Promise.all([a.waitForLine(/^ready$/), b.waitForLine(/^ready$/)]);
    const registered = await listWorkers(db.pool, { schema });
    expect(registered.map((w) => `${w.id}:${w.alive}`).sort()).toEqual(["A:true", "B:true"]);
    const inserter = new Sidetrack<Queues>({ databaseOptions: { pool: db.pool }, schema, queues: { work: {} } });
    const { victimId, rescueMs, messages } = await killAndRescue(schema, { A: a, B: b }, inserter);
    expect(messages.filter((m) => !m.includes(`worker ${victimId} is gone`))).toEqual([]);
    console.log(`[figure] behind PgBouncer, liveness on a direct connection: SIGKILL -> jobs rescued after ${rescueMs} ms`);
    const survivor = victimId === "A" ? b : a;
    survivor.child.kill("SIGTERM");
    await survivor.exited;
  });

  it("poll-only workers through PgBouncer say so, and a SIGKILLed one is rescued by its heartbeat's age", async () => {
    const schema = "bounced_poll";
    await prepare(schema);
    const env = { LISTEN: "false" };
    const [a, b] = [worker(schema, "A", env), worker(schema, "B", env)];
    await Promise.all([a.waitForLine(/^ready$/), b.waitForLine(/^ready$/)]);
    expect(await a.waitForLine(/poll-only/)).toMatch(/rescued once its heartbeat is 10 s old/);
    expect((await listWorkers(db.pool, { schema })).map((w) => w.alive)).toEqual([null, null]);
    const inserter = new Sidetrack<Queues>({ databaseOptions: { pool: db.pool }, schema, queues: { work: {} } });
    const { victimId, rescueMs, messages } = await killAndRescue(schema, { A: a, B: b }, inserter);
    // Lease is 30 s: a rescue by heartbeat age says "is gone".
    expect(messages.filter((m) => !m.includes(`worker ${victimId} is gone`))).toEqual([]);
    console.log(`[figure] behind PgBouncer, poll-only: SIGKILL -> jobs rescued after ${rescueMs} ms (heartbeat staleness 10 s)`);
    const survivor = victimId === "A" ? b : a;
    survivor.child.kill("SIGTERM");
    await survivor.exited;
  });
});

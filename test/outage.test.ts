// Outages: a worker whose connections are all killed, or whose PostgreSQL restarts, logs,
// reconnects with backoff and finishes every job; nothing is left running.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMigrations, Sidetrack, type Logger } from "../runtime/index.js";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "../scripts/embedded-postgres.js";
import { quiet } from "./support/database.js";

type Queues = { work: { n: number } };

// A server of our own: restarting the shared one would break the other test files.
let server: EmbeddedDatabase;
beforeAll(async () => {
  server = await startEmbeddedPostgres();
});
afterAll(() => server?.stop());

function capturingLogger(lines: string[]): Logger {
  const push = (level: string) => (message: string) => void lines.push(`${level}: ${message}`);
  return { debug: () => undefined, info: push("info"), warn: push("warn"), error: push("error") };
}

async function counts(pool: pg.Pool, schema: string): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ status: string; n: number }>(`select status, count(*)::int as n from ${schema}.jobs group by status`);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/** Polls with a fresh connection each time, since the server may be down in between. */
async function waitForCompleted(schema: string, total: number): Promise<void> {
  await expect
    .poll(
      async () => {
        const pool = quiet(new pg.Pool({ connectionString: server.url, max: 1 }));
        try {
          return (await counts(pool, schema)).completed ?? 0;
        } catch {
          return -1;
        } finally {
          await pool.end();
        }
      },
      { timeout: 60_000, interval: 200 },
    )
    .toBe(total);
}

function makeWorker(schema: string, log: string[], handled: Map<number, number>) {
  return new Sidetrack<Queues>({
    databaseUrl: server.url,
    schema,
    handleSignals: false,
    pollInterval: 200,
    rescueInterval: 200,
    leaseDuration: 5_000,
    concurrency: 5,
    logger: capturingLogger(log),
    queues: {
      work: {
        backoff: { base: 10, max: 50 },
        handler: async (job) => {
          handled.set(job.payload.n, (handled.get(job.payload.n) ?? 0) + 1);
          await new Promise((r) => setTimeout(r, 5));
        },
      },
    },
  });
}

describe("outages", () => {
  it("survives pg_terminate_backend of all its connections mid-run", async () => {
    const schema = "terminated";
    await runMigrations({ connectionString: server.url, schema });
    const log: string[] = [];
    const handled = new Map<number, number>();
    const worker = makeWorker(schema, log, handled);
    await worker.start();
    await worker.insertJobs("work", Array.from({ length: 600 }, (_, n) => ({ n })));
    const admin = quiet(new pg.Client({ connectionString: server.url }));
    await admin.connect();
    await expect.poll(() => handled.size, { timeout: 30_000, interval: 5 }).toBeGreaterThan(50);
    const { rows } = await admin.query(
      "select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'",
    );
    expect(rows[0].n).toBeGreaterThan(0);
    await waitForCompleted(schema, 600);
    const pool = quiet(new pg.Pool({ connectionString: server.url, max: 1 }));
    expect(await counts(pool, schema)).toEqual({ completed: 600 });
    await pool.end();
    expect(log.some((l) => l.startsWith("error:"))).toBe(true);
    await admin.end();
    await worker.stop({ grace: 1_000 });
    expect([...handled.keys()].length).toBe(600);
  });

  it("reconnects after PostgreSQL restarts and finishes every job", async () => {
    const schema = "restarted";
    await runMigrations({ connectionString: server.url, schema });
    const log: string[] = [];
    const handled = new Map<number, number>();
    const worker = makeWorker(schema, log, handled);
    await worker.start();
    await worker.insertJobs("work", Array.from({ length: 600 }, (_, n) => ({ n })));
    await expect.poll(() => handled.size, { timeout: 30_000, interval: 5 }).toBeGreaterThan(50);
    await server.restart();
    const upAt = performance.now();
    const before = handled.size;
    await expect.poll(() => handled.size, { timeout: 60_000, interval: 10 }).toBeGreaterThan(before);
    console.log(`[figure] first job run ${Math.round(performance.now() - upAt)}ms after PostgreSQL came back`);
    await waitForCompleted(schema, 600);
    const pool = quiet(new pg.Pool({ connectionString: server.url, max: 1 }));
    expect(await counts(pool, schema)).toEqual({ completed: 600 });
    await pool.end();
    expect(log.some((l) => l.startsWith("error:"))).toBe(true);
    await worker.stop({ grace: 1_000 });
    // Runs beyond one are allowed only for jobs whose outcome write was lost with the server.
    expect(handled.size).toBe(600);
  });

  it("after a PostgreSQL restart, workers reconnecting at different times rescue none of each other's running jobs", async () => {
    const schema = "restart_liveness";
    await runMigrations({ connectionString: server.url, schema });
    const handled = new Map<number, number>();
    const log: string[] = [];
    // Default lease (30 s): only the registry could rescue within this test.
    const make = (workerId: string) =>
      new Sidetrack<Queues>({
        databaseUrl: server.url,
        schema,
        workerId,
        handleSignals: false,
        concurrency: 4,
        logger: capturingLogger(log),
        queues: {
          work: {
            handler: async (job) => {
              handled.set(job.payload.n, (handled.get(job.payload.n) ?? 0) + 1);
              await new Promise((r) => setTimeout(r, 10_000));
            },
          },
        },
      });
    const workers = [make("one"), make("two")];
    for (const w of workers) await w.start();
    await workers[0]!.insertJobs("work", Array.from({ length: 8 }, (_, n) => ({ n })));
    await expect.poll(() => handled.size, { timeout: 30_000, interval: 10 }).toBe(8);
    // Down long enough that reconnect backoffs (100 ms doubling) spread the workers' returns.
    await server.restart(4_000);
    await waitForCompleted(schema, 8);
    const pool = quiet(new pg.Pool({ connectionString: server.url, max: 1 }));
    const { rows } = await pool.query<{ errors: unknown[] }>(`select errors from ${schema}.jobs`);
    expect(rows.map((r) => r.errors)).toEqual(rows.map(() => []));
    expect(log.filter((l) => l.includes("rescued"))).toEqual([]);
    await pool.end();
    for (const w of workers) await w.stop({ grace: 1_000 });
    expect([...handled.values()]).toEqual(Array.from({ length: 8 }, () => 1));
  });
});

// Large batches of plain jobs go through COPY and a staging table: the same jobs, ids, order and
// NOTIFY as the single-statement insert, inside the caller's transaction (commit and rollback),
// twice in one transaction, and a clean fall-back for Prisma, which cannot COPY.
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COPY_THRESHOLD_ROWS } from "../runtime/config/defaults.js";
import { runMigrations, Sidetrack, usePg } from "../runtime/index.js";
import { usePrisma } from "../runtime/prisma.js";
import { PrismaClient } from "./fixtures/prisma/generated/client.js";
import { createTestDatabase, type TestDatabase } from "./support/database.js";

type Queues = { bulk: { i: number; text?: string }; other: { i: number } };
let db: TestDatabase;
let sidetrack: Sidetrack<Queues>;
const N = COPY_THRESHOLD_ROWS + 500;
// Text that CSV and COPY must carry through untouched.
const awkward = 'quote " comma , newline \n tab \t backslash \\ cr \r unicode ✓ 𝄞 "" end';

beforeAll(async () => {
  db = await createTestDatabase("copy");
  await runMigrations({ pool: db.pool });
  sidetrack = new Sidetrack<Queues>({ databaseOptions: { pool: db.pool }, queues: { bulk: {}, other: {} } });
});
afterAll(async () => {
  await sidetrack.close();
});

async function count(queue: string): Promise<number> {
  return (await db.pool.query<{ n: number }>("select count(*)::int as n from sidetrack.jobs where queue = $1", [queue])).rows[0]!.n;
}

describe("COPY bulk insert", () => {
  it("inserts every job with its payload and options, ids ascending in input order, and notifies once per queue", async () => {
    const listener = new pg.Client({ connectionString: db.url });
    listener.on("error", () => undefined);
    await listener.connect();
    const heard: string[] = [];
    listener.on("notification", (n) => heard.push(n.payload ?? ""));
    await listener.query("listen sidetrack_jobs_sidetrack");
    const runAt = new Date(Date.now() + 3_600_000);
    const items = Array.from({ length: N }, (_, i) => ({
      payload: i % 2 === 0 ? { i, text: awkward } : { i },
      options: i % 3 === 0 ? { runAt, priority: 7, maxAttempts: 2 } : i % 3 === 1 ? { delay: "1h" as const } : {},
    }));
    const jobs = await sidetrack.insertJobs("bulk", items, { withOptions: true });
    expect(jobs.length).toBe(N);
    expect(jobs.every((j, k) => k === 0 || BigInt(j.id) > BigInt(jobs[k - 1]!.id))).toBe(true);
    const { rows } = await db.pool.query<{ id: string; payload: { i: number; text?: string }; priority: number; max_attempts: number; run_at: Date }>(
      "select j.id::text as id, j.payload, j.priority, j.max_attempts, j.run_at from sidetrack.jobs j where j.queue = 'bulk' order by j.id",
    );
    expect(rows.length).toBe(N);
    rows.forEach((row, i) => {
      expect(row.id).toBe(jobs[i]!.id);
      expect(row.payload).toEqual(items[i]!.payload);
      if (i % 3 === 0) {
        expect([row.priority, row.max_attempts, row.run_at.getTime()]).toEqual([7, 2, runAt.getTime()]);
      } else {
        expect([row.priority, row.max_attempts]).toEqual([0, 25]);
      }
      if (i % 3 === 1) expect(row.run_at.getTime()).toBeGreaterThan(Date.now() + 3_000_000);
    });
    expect(jobs[0]!.payload).toEqual(items[0]!.payload);
    expect(jobs[5]!.runAt.getTime()).toBe(rows[5]!.run_at.getTime());
    await expect.poll(() => heard, { timeout: 5_000 }).toEqual(["bulk"]);
    await listener.end();
  });

  it("commits and rolls back with the caller's pg transaction, twice in one transaction", async () => {
    const client = new pg.Client({ connectionString: db.url });
    client.on("error", () => undefined);
    await client.connect();
    const before = await count("other");
    await client.query("begin");
    await sidetrack.insertJobs("other", Array.from({ length: N }, (_, i) => ({ i })), { dbClient: usePg(client) });
    await client.query("rollback");
    expect(await count("other")).toBe(before);
    await client.query("begin");
    await sidetrack.insertJobs("other", Array.from({ length: N }, (_, i) => ({ i })), { dbClient: usePg(client) });
    await sidetrack.insertJobs("other", Array.from({ length: N }, (_, i) => ({ i: N + i })), { dbClient: usePg(client) });
    expect(await count("other")).toBe(before); // not visible before commit
    await client.query("commit");
    expect(await count("other")).toBe(before + 2 * N);
    const { rows } = await db.pool.query<{ n: number }>("select count(distinct payload->>'i')::int as n from sidetrack.jobs where queue = 'other'");
    expect(rows[0]!.n).toBe(2 * N);
    await client.end();
  });

  it("falls back to the single statement for Prisma, inside its transaction", async () => {
    await db.pool.query(`create table if not exists "User" (id serial primary key, email text not null unique)`);
    const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) });
    const before = await count("bulk");
    const jobs = await prisma.$transaction(
      (tx) => sidetrack.insertJobs("bulk", Array.from({ length: N }, (_, i) => ({ i })), { dbClient: usePrisma(tx) }),
      { timeout: 60_000 },
    );
    expect(jobs.length).toBe(N);
    expect(await count("bulk")).toBe(before + N);
    await expect(
      prisma.$transaction(async (tx) => {
        await sidetrack.insertJobs("bulk", Array.from({ length: N }, (_, i) => ({ i })), { dbClient: usePrisma(tx) });
        throw new Error("roll back");
      }, { timeout: 60_000 }),
    ).rejects.toThrow("roll back");
    expect(await count("bulk")).toBe(before + N);
    await prisma.$disconnect();
  });
});

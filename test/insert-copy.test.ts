// Large batches of plain jobs go through COPY straight into the jobs table, with ids taken from
// its sequence first: the same jobs, ids, order, times and NOTIFY as the single-statement insert,
// inside the caller's transaction (commit and rollback), twice in one transaction, ids in order
// when the sequence skips, nothing written when the COPY fails, and clean fall-backs for Prisma
// (which cannot COPY) and for a role that may not take ids from the sequence.
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COPY_THRESHOLD_ROWS } from "../runtime/config/defaults.js";
import { runMigrations, Sidetrack, SidetrackMigrationError, usePg } from "../runtime/index.js";
import { usePrisma } from "../runtime/prisma.js";
import { PrismaClient } from "./fixtures/prisma/generated/client.js";
import { createTestDatabase, type TestDatabase } from "./support/database.js";

type Queues = { bulk: { i: number; text?: string }; other: { i: number }; keyed: { i: number; k: string } };
let db: TestDatabase;
let sidetrack: Sidetrack<Queues>;
const N = COPY_THRESHOLD_ROWS + 500;
// Text that CSV and COPY must carry through untouched.
const awkward = 'quote " comma , newline \n tab \t backslash \\ cr \r unicode ✓ 𝄞 "" end';

beforeAll(async () => {
  db = await createTestDatabase("copy");
  await runMigrations({ pool: db.pool });
  sidetrack = new Sidetrack<Queues>({ databaseOptions: { pool: db.pool }, queues: { bulk: {}, other: {}, keyed: { concurrencyBy: ["k"] } } });
});
afterAll(async () => {
  await sidetrack.close();
});

async function count(queue: string): Promise<number> {
  return (await db.pool.query<{ n: number }>("select count(*)::int as n from sidetrack.jobs where queue = $1", [queue])).rows[0]!.n;
}

/** A connection listening on the jobs channel, and the payloads (queue names) it has heard. */
async function listen(): Promise<{ listener: pg.Client; heard: string[] }> {
  const listener = new pg.Client({ connectionString: db.url });
  listener.on("error", () => undefined);
  await listener.connect();
  const heard: string[] = [];
  listener.on("notification", (n) => heard.push(n.payload ?? ""));
  await listener.query("listen sidetrack_jobs_sidetrack");
  return { listener, heard };
}

describe("COPY bulk insert", () => {
  it("inserts every job with its payload and options, ids ascending in input order, and notifies once per queue", async () => {
    const { listener, heard } = await listen();
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
  it("returns each job's stored times, and carries tags, meta and concurrency keys through COPY", async () => {
    const runAt = new Date(Date.UTC(2031, 4, 6, 7, 8, 9, 123));
    const items = Array.from({ length: N }, (_, i) => ({
      payload: { i, k: i % 2 === 0 ? awkward : "plain" },
      options:
        i % 3 === 0
          ? { runAt, tags: [awkward, "t"], meta: { note: awkward } }
          : i % 3 === 1
            ? { delay: 90_061 }
            : {},
    }));
    const jobs = await sidetrack.insertJobs("keyed", items, { withOptions: true });
    const { rows } = await db.pool.query<{ id: string; run_at_ms: string; inserted_at_ms: string; tags: string[] | null; meta: unknown; concurrency_key: string; delay_ms: string }>(
      `select id::text as id, floor(extract(epoch from run_at) * 1000)::int8::text as run_at_ms,
              floor(extract(epoch from inserted_at) * 1000)::int8::text as inserted_at_ms, tags, meta, concurrency_key,
              (extract(epoch from run_at - inserted_at) * 1000)::int8::text as delay_ms
       from sidetrack.jobs where queue = 'keyed' order by id`,
    );
    expect(rows.length).toBe(N);
    rows.forEach((row, i) => {
      const job = jobs[i]!;
      expect([job.id, job.runAt.getTime(), job.insertedAt.getTime()]).toEqual([row.id, Number(row.run_at_ms), Number(row.inserted_at_ms)]);
      expect(row.concurrency_key).toBe(JSON.stringify([items[i]!.payload.k]));
      if (i % 3 === 0) {
        expect([row.tags, row.meta, job.tags, job.meta]).toEqual([[awkward, "t"], { note: awkward }, [awkward, "t"], { note: awkward }]);
        expect(Number(row.run_at_ms)).toBe(runAt.getTime());
      } else {
        expect([row.tags, row.meta]).toEqual([null, null]);
        // now() + delay exactly, to the microsecond; no delay: run_at is inserted_at
        expect(row.delay_ms).toBe(i % 3 === 1 ? "90061" : "0");
      }
    });
  });

  it("keeps ids in input order when the sequence skips between them", async () => {
    // An increment of 2 makes every id its own run of consecutive ids, as when other sessions
    // take ids while the batch reserves its own.
    await db.pool.query("alter table sidetrack.jobs alter column id set increment by 2");
    try {
      const jobs = await sidetrack.insertJobs("other", Array.from({ length: N }, (_, i) => ({ i: 10_000_000 + i })));
      const { rows } = await db.pool.query<{ id: string; i: number }>(
        "select id::text as id, (payload->>'i')::int as i from sidetrack.jobs where (payload->>'i')::int >= 10000000 order by id",
      );
      expect(rows.map((r) => r.id)).toEqual(jobs.map((j) => j.id));
      expect(rows.map((r) => r.i)).toEqual(jobs.map((_, i) => 10_000_000 + i));
      expect(BigInt(jobs[1]!.id) - BigInt(jobs[0]!.id)).toBe(2n);
    } finally {
      await db.pool.query("alter table sidetrack.jobs alter column id set increment by 1");
    }
  });

  it("writes nothing and notifies nobody when the COPY fails part-way", async () => {
    const { listener, heard } = await listen();
    // A constraint the database checks and the client does not (on new rows only): the batch's
    // last row but ten fails it.
    await db.pool.query(`alter table sidetrack.jobs add constraint copy_test_refuse check (payload->>'i' <> '-${N - 11}') not valid`);
    try {
      const before = await count("bulk");
      await expect(sidetrack.insertJobs("bulk", Array.from({ length: N }, (_, i) => ({ i: -i })))).rejects.toThrow(/copy_test_refuse/);
      expect(await count("bulk")).toBe(before);
      const client = new pg.Client({ connectionString: db.url });
      client.on("error", () => undefined);
      await client.connect();
      await client.query("begin");
      await expect(sidetrack.insertJobs("bulk", Array.from({ length: N }, (_, i) => ({ i: -i })), { dbClient: usePg(client) })).rejects.toThrow(/copy_test_refuse/);
      await client.query("rollback");
      await client.end();
      expect(await count("bulk")).toBe(before);
      await sidetrack.insertJob("other", { i: -1 }); // a notification that does arrive, to wait for
      await expect.poll(() => heard, { timeout: 5_000 }).toEqual(["other"]);
    } finally {
      await db.pool.query("alter table sidetrack.jobs drop constraint copy_test_refuse");
      await listener.end();
    }
  });

  it("falls back to the single statement for a role that may insert jobs but not call nextval on their sequence", async () => {
    const role = `${db.name}_inserter`;
    await db.pool.query(`create role "${role}" nologin`);
    const client = new pg.Client({ connectionString: db.url });
    client.on("error", () => undefined);
    await client.connect();
    try {
      await db.pool.query(`grant usage on schema sidetrack to "${role}"; grant select, insert, update on sidetrack.jobs to "${role}"`);
      const before = await count("other");
      await client.query(`set role "${role}"`);
      const jobs = await sidetrack.insertJobs("other", Array.from({ length: N }, (_, i) => ({ i })), { dbClient: usePg(client) });
      await client.query("reset role");
      expect(jobs.length).toBe(N);
      expect(await count("other")).toBe(before + N);
      const { rows } = await db.pool.query<{ id: string }>("select id::text as id from sidetrack.jobs where id >= $1 order by id", [jobs[0]!.id]);
      expect(rows.map((r) => r.id)).toEqual(jobs.map((j) => j.id));
    } finally {
      await client.end();
      await db.pool.query(`drop owned by "${role}"; drop role "${role}"`);
    }
  });

  it("says how to migrate when the schema is missing", async () => {
    const other = new Sidetrack<Queues>({ databaseOptions: { pool: db.pool }, schema: "never_migrated", queues: { bulk: {}, other: {}, keyed: {} } });
    const error = await other.insertJobs("other", Array.from({ length: N }, (_, i) => ({ i }))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SidetrackMigrationError);
    await other.close();
  });
  it("keeps ids exact past 2^53 (the last test: every later id is that large)", async () => {
    await db.pool.query("alter table sidetrack.jobs alter column id restart with 9007199254740000");
    const jobs = await sidetrack.insertJobs("other", Array.from({ length: N }, (_, i) => ({ i: 20_000_000 + i })));
    const { rows } = await db.pool.query<{ id: string }>("select id::text as id from sidetrack.jobs where (payload->>'i')::int >= 20000000 order by id");
    expect(rows.map((r) => r.id)).toEqual(jobs.map((j) => j.id));
    expect(jobs.at(-1)!.id).toBe(String(9007199254740000n + BigInt(N) - 1n));
  });
});

// The generated client against a real PostgreSQL: inserts commit and roll back with the caller's
// transaction (pg and Prisma), batches are one round trip, the declaration's options are applied and
// a payload that does not fit its type writes nothing.
import path from "node:path";
import { pathToFileURL } from "node:url";
import { PrismaPg } from "@prisma/adapter-pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate } from "../../generator/index.js";
import { runMigrations, SidetrackValidationError, usePg, type DbClient, type InsertedJob } from "../../runtime/index.js";
import { PrismaClient } from "../fixtures/prisma/generated/client.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { tempProject } from "./helpers.js";

type Invoice = { invoiceId: string; amountCents: number; lines?: { sku: string; quantity: number }[] };
type AnyJob = InsertedJob<any, string>;
/** The part of the generated client these tests call (its types are checked in types.test.ts). */
interface GeneratedClient {
  insertUserOnboarding(db: unknown, payload: unknown, options?: object): Promise<AnyJob>;
  insertSendInvoice(db: unknown, payload: Invoice, options?: object): Promise<AnyJob>;
  insertManySendInvoice(db: unknown, items: unknown[]): Promise<AnyJob[]>;
  insertManyUserOnboarding(db: unknown, items: unknown[]): Promise<AnyJob[]>;
  jobs(db: unknown): Record<string, { insert(p: unknown, o?: object): Promise<AnyJob>; insertMany(i: unknown[]): Promise<AnyJob[]> }>;
  transaction<T>(pool: unknown, fn: (client: any, jobs: any) => Promise<T>): Promise<T>;
  validate(queue: string, payload: unknown): void;
}

let db: TestDatabase;
let client: GeneratedClient;
let prisma: PrismaClient;

beforeAll(async () => {
  const dir = tempProject("app");
  expect(generate({ queues: path.join(dir, "sidetrack.queues.ts") }).ok).toBe(true);
  client = (await import(pathToFileURL(path.join(dir, "sidetrack/client.ts")).href)) as GeneratedClient;
  db = await createTestDatabase("gen_insert");
  await runMigrations({ pool: db.pool });
  await db.pool.query(`create table "User" (id serial primary key, email text not null unique)`);
  prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) });
});
afterAll(() => prisma?.$disconnect());

async function count(where = "true", values: unknown[] = []): Promise<number> {
  const { rows } = await db.pool.query(`select count(*)::int as n from sidetrack.jobs where ${where}`, values);
  return rows[0].n;
}

describe("pg client transactions", () => {
  it("commits with the caller's transaction", async () => {
    const pg = await db.pool.connect();
    try {
      await pg.query("begin");
      const job = await client.insertUserOnboarding(pg, { email: "commit@example.com", plan: "pro" });
      expect(job).toMatchObject({ queue: "userOnboarding", status: "scheduled", payload: { email: "commit@example.com", plan: "pro" } });
      // Not visible outside the transaction yet.
      expect(await count("payload->>'email' = $1", ["commit@example.com"])).toBe(0);
      await pg.query("commit");
    } finally {
      pg.release();
    }
    expect(await count("payload->>'email' = $1", ["commit@example.com"])).toBe(1);
  });

  it("rolls back with the caller's transaction", async () => {
    const pg = await db.pool.connect();
    try {
      await pg.query("begin");
      await client.jobs(pg).userOnboarding!.insert({ email: "rollback@example.com" });
      await pg.query("rollback");
    } finally {
      pg.release();
    }
    expect(await count("payload->>'email' = $1", ["rollback@example.com"])).toBe(0);
  });

  it("transaction(pool, fn) commits, and rolls back when fn throws", async () => {
    await client.transaction(db.pool, async (tx, jobs) => {
      await tx.query("select 1");
      await jobs.userOnboarding.insert({ email: "tx-commit@example.com" });
    });
    expect(await count("payload->>'email' = $1", ["tx-commit@example.com"])).toBe(1);

    const failure = client.transaction(db.pool, async (_tx, jobs) => {
      await jobs.userOnboarding.insert({ email: "tx-rollback@example.com" });
      throw new Error("application failure");
    });
    await expect(failure).rejects.toThrow("application failure");
    expect(await count("payload->>'email' = $1", ["tx-rollback@example.com"])).toBe(0);
  });

  it("accepts a Pool and a DbClient too", async () => {
    await client.insertUserOnboarding(db.pool, { email: "pool@example.com" });
    await client.insertUserOnboarding(usePg(db.pool), { email: "dbclient@example.com" });
    expect(await count("payload->>'email' in ('pool@example.com', 'dbclient@example.com')")).toBe(2);
  });
});

describe("Prisma interactive transactions", () => {
  it("commits the user and the job together", async () => {
    await prisma.$transaction(async (tx) => {
      const user = await tx.user.create({ data: { email: "prisma-commit@example.com" } });
      await client.insertUserOnboarding(tx, { email: user.email });
    });
    expect(await count("payload->>'email' = $1", ["prisma-commit@example.com"])).toBe(1);
  });

  it("rolls back the user and the job together", async () => {
    const failure = prisma.$transaction(async (tx) => {
      const user = await tx.user.create({ data: { email: "prisma-rollback@example.com" } });
      await client.jobs(tx).userOnboarding!.insert({ email: user.email });
      throw new Error("rollback please");
    });
    await expect(failure).rejects.toThrow("rollback please");
    expect(await count("payload->>'email' = $1", ["prisma-rollback@example.com"])).toBe(0);
    expect(await prisma.user.count({ where: { email: "prisma-rollback@example.com" } })).toBe(0);
  });
});

describe("declared options and batches", () => {
  it("applies maxAttempts, priority and uniqueBy from the declaration; insert options override", async () => {
    const first = await client.insertSendInvoice(db.pool, { invoiceId: "opt-1", amountCents: 100 });
    expect(first).toMatchObject({ maxAttempts: 10, priority: 5, uniqueKey: '["opt-1"]', duplicate: false });
    const again = await client.insertSendInvoice(db.pool, { invoiceId: "opt-1", amountCents: 999 });
    expect(again).toMatchObject({ id: first.id, duplicate: true });
    const custom = await client.insertSendInvoice(db.pool, { invoiceId: "opt-2", amountCents: 1 }, { priority: -1, maxAttempts: 2 });
    expect(custom).toMatchObject({ priority: -1, maxAttempts: 2 });
    const onboarding = await client.insertUserOnboarding(db.pool, { email: "defaults@example.com" });
    expect(onboarding).toMatchObject({ maxAttempts: 25, priority: 0, uniqueKey: null });
  });

  it("insertMany takes payloads or { payload, options } items, in one round trip", async () => {
    let queries = 0;
    const counting: DbClient = {
      sidetrackDbClient: true,
      query: (text, values) => {
        queries++;
        return usePg(db.pool).query(text, values);
      },
    };
    const payloads = Array.from({ length: 500 }, (_, i) => ({ email: `many${i}@example.com` }));
    const jobs = await client.insertManyUserOnboarding(counting, payloads);
    expect(queries).toBe(1);
    expect(jobs.map((j) => j.payload.email)).toEqual(payloads.map((p) => p.email));

    const at = new Date(Date.now() + 3_600_000);
    const items = await client.jobs(counting).sendInvoice!.insertMany([
      { payload: { invoiceId: "many-1", amountCents: 1 }, options: { runAt: at } },
      { payload: { invoiceId: "many-2", amountCents: 2 } },
    ]);
    expect(queries).toBe(2);
    expect(items[0]!.runAt.getTime()).toBe(at.getTime());
    expect(items[1]).toMatchObject({ priority: 5, maxAttempts: 10 });
  });
});

describe("payload validation", () => {
  const cases: [string, () => Promise<unknown>, RegExp, string][] = [
    ["a missing property", () => client.insertUserOnboarding(db.pool, {}), /queue "userOnboarding": payload\.email is required \(a string\)/, "payload.email"],
    ["a wrong type", () => client.insertSendInvoice(db.pool, { invoiceId: "v", amountCents: "100" as never }), /queue "sendInvoice": payload\.amountCents must be a finite number, got "100"/, "payload.amountCents"],
    ["a value outside a union", () => client.insertUserOnboarding(db.pool, { email: "x", plan: "gold" }), /payload\.plan must be "free" \| "pro" \| "enterprise", got "gold"/, "payload.plan"],
    ["a nested property", () => client.insertSendInvoice(db.pool, { invoiceId: "v", amountCents: 1, lines: [{ sku: "a", quantity: 1 }, { sku: 2 } as never] }), /payload\.lines\[1\]\.sku must be a string, got 2/, "payload.lines[1].sku"],
    ["not an object", () => client.insertUserOnboarding(db.pool, "x@example.com"), /payload must be an object, got "x@example.com"/, "payload"],
    ["one bad item of a batch", () => client.insertManyUserOnboarding(db.pool, [{ email: "ok@example.com" }, { email: null }]), /payload\.email must be a string, got null/, "payload.email"],
  ];
  it.each(cases)("rejects %s, naming queue and property, and writes nothing", async (_name, attempt, message, property) => {
    const before = await count();
    const error = await attempt().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SidetrackValidationError);
    expect((error as Error).message).toMatch(message);
    expect((error as SidetrackValidationError).path).toBe(property);
    expect(await count()).toBe(before);
  });

  it("exports validate() for checking a payload without inserting", () => {
    expect(() => client.validate("sendInvoice", { invoiceId: "x", amountCents: 1 })).not.toThrow();
    expect(() => client.validate("sendInvoice", { invoiceId: "x" })).toThrow(/payload\.amountCents is required/);
  });
});

describe("--format prisma migration", () => {
  it("applies as Prisma Migrate would, and records itself so runMigrations has nothing left to do", async () => {
    const dir = tempProject("app");
    expect(generate({ queues: path.join(dir, "sidetrack.queues.ts"), format: "prisma", schema: "prisma_jobs" }).ok).toBe(true);
    const { readFileSync } = await import("node:fs");
    const { readdirSync } = await import("node:fs");
    const folders = readdirSync(path.join(dir, "sidetrack/prisma-migrations")).sort();
    expect(folders.length).toBeGreaterThan(0);
    // As Prisma Migrate applies them: in folder-name order.
    for (const folder of folders) await db.pool.query(readFileSync(path.join(dir, "sidetrack/prisma-migrations", folder, "migration.sql"), "utf8"));
    expect(await runMigrations({ pool: db.pool, schema: "prisma_jobs" })).toEqual({ applied: [] });
    const { rows } = await db.pool.query("select count(*)::int as n from prisma_jobs.jobs");
    expect(rows[0].n).toBe(0);
  });
});

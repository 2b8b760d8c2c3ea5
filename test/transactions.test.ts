// The original documentation's promise: a job inserted in the application's transaction
// commits and rolls back with the application's data, through Prisma 7 and through pg.
import { PrismaPg } from "@prisma/adapter-pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMigrations, Sidetrack, usePg } from "../runtime/index.js";
import { usePrisma } from "../runtime/prisma.js";
import { PrismaClient } from "./fixtures/prisma/generated/client.js";
import { createTestDatabase, type TestDatabase } from "./support/database.js";

type Queues = { userOnboarding: { email: string } };

let db: TestDatabase;
let prisma: PrismaClient;
let sidetrack: Sidetrack<Queues>;

beforeAll(async () => {
  db = await createTestDatabase("transactions");
  await runMigrations({ pool: db.pool });
  // The fixture's User model; Prisma Migrate cannot run offline, so create it by hand.
  await db.pool.query(`create table "User" (id serial primary key, email text not null unique)`);
  prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: db.url }) });
  sidetrack = new Sidetrack<Queues>({ databaseOptions: { connectionString: db.url }, queues: { userOnboarding: {} } });
});
afterAll(async () => {
  await prisma.$disconnect();
  await sidetrack.close();
});

async function jobsFor(email: string) {
  const { rows } = await db.pool.query("select id::text from sidetrack.jobs where payload->>'email' = $1", [email]);
  return rows;
}

describe("Prisma interactive transaction", () => {
  it("commits the user and the job together", async () => {
    const job = await prisma.$transaction(async (tx) => {
      const user = await tx.user.create({ data: { email: "committed@example.com" } });
      return sidetrack.insertJob("userOnboarding", { email: user.email }, { dbClient: usePrisma(tx) });
    });
    expect(typeof job.id).toBe("string");
    expect(await prisma.user.count({ where: { email: "committed@example.com" } })).toBe(1);
    expect((await sidetrack.getJob(job.id))?.payload).toEqual({ email: "committed@example.com" });
  });

  it("rolls back both when the transaction throws after the insert", async () => {
    let insertedId: string | undefined;
    await expect(
      prisma.$transaction(async (tx) => {
        const user = await tx.user.create({ data: { email: "rolledback@example.com" } });
        insertedId = (await sidetrack.insertJob("userOnboarding", { email: user.email }, { dbClient: usePrisma(tx) })).id;
        throw new Error("payment declined");
      }),
    ).rejects.toThrow("payment declined");
    expect(insertedId).toBeDefined();
    expect(await prisma.user.count({ where: { email: "rolledback@example.com" } })).toBe(0);
    expect(await sidetrack.getJob(insertedId!)).toBeUndefined();
    expect(await jobsFor("rolledback@example.com")).toEqual([]);
  });

  it("accepts the Prisma transaction client directly, and bulk inserts through it", async () => {
    await prisma.$transaction(async (tx) => {
      await sidetrack.insertJobs("userOnboarding", [{ email: "bulk1@p" }, { email: "bulk2@p" }], { dbClient: tx });
    });
    expect(await jobsFor("bulk1@p")).toHaveLength(1);
    expect(await jobsFor("bulk2@p")).toHaveLength(1);
  });
});

describe("pg client with BEGIN/ROLLBACK", () => {
  it("commits with the application's rows", async () => {
    const client = await db.pool.connect();
    try {
      await client.query("begin");
      await client.query(`insert into "User" (email) values ($1)`, ["pg-commit@example.com"]);
      await sidetrack.insertJob("userOnboarding", { email: "pg-commit@example.com" }, { dbClient: usePg(client) });
      await client.query("commit");
    } finally {
      client.release();
    }
    expect(await jobsFor("pg-commit@example.com")).toHaveLength(1);
  });

  it("rolls back with the application's rows", async () => {
    const client = await db.pool.connect();
    try {
      await client.query("begin");
      await client.query(`insert into "User" (email) values ($1)`, ["pg-rollback@example.com"]);
      await sidetrack.insertJob("userOnboarding", { email: "pg-rollback@example.com" }, { dbClient: usePg(client) });
      await client.query("rollback");
    } finally {
      client.release();
    }
    expect(await jobsFor("pg-rollback@example.com")).toEqual([]);
    const { rows } = await db.pool.query(`select count(*)::int as n from "User" where email = 'pg-rollback@example.com'`);
    expect(rows[0].n).toBe(0);
  });
});

import { beforeAll, describe, expect, it } from "vitest";
import { runMigrations, Sidetrack } from "../../runtime/index.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { runCli } from "./run-cli.js";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase("cli_queues");
  await runMigrations({ pool: db.pool });
  const sidetrack = new Sidetrack<{ mail: { to: string }; sync: { tenantId: string } }>({
    databaseOptions: { pool: db.pool },
    queues: { mail: { rateLimit: { limit: 100, per: "1m" } }, sync: { globalConcurrency: 3, concurrencyBy: ["tenantId"] } },
  });
  await sidetrack.insertJobs("mail", [{ to: "a" }, { to: "b" }]);
  // The policy row start() would write for sync (this process runs no worker).
  await db.pool.query(`insert into sidetrack.queues (name, global_concurrency, concurrency_by, concurrency_per_key) values ('sync', 3, '{tenantId}', 1)`);
});

const cli = (...args: string[]) => runCli(["queues", ...args], { databaseUrl: db.url });

describe("sidetrack queues", () => {
  it("list shows each queue's pause state, policy and counts; --json gives them as data", async () => {
    const r = await cli("list");
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^QUEUE\s+PAUSED\s+GLOBAL\s+PER KEY\s+RATE LIMIT\s+SCHEDULED\s+RUNNING/);
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/).slice(0, 6))).toEqual([
      ["mail", "no", "-", "-", "-", "2"],
      ["sync", "no", "3", "1 by tenantId", "-", "0"],
    ]);
    const json = JSON.parse((await cli("list", "--json")).stdout);
    expect(json).toMatchObject([{ name: "mail", paused: false, counts: { scheduled: 2 } }, { name: "sync", globalConcurrency: 3, concurrencyPerKey: 1 }]);
  });

  it("pause and resume a queue; the state is in the database", async () => {
    const paused = await cli("pause", "mail");
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.stdout).toBe("queue mail paused (0 running will finish, 2 waiting)\n");
    expect((await db.pool.query("select paused from sidetrack.queues where name = 'mail'")).rows[0].paused).toBe(true);
    expect(JSON.parse((await cli("resume", "mail", "--json")).stdout)).toMatchObject({ name: "mail", paused: false });
    expect((await db.pool.query("select paused from sidetrack.queues where name = 'mail'")).rows[0].paused).toBe(false);
  });

  it("refuses an unknown queue, naming the ones there are", async () => {
    const r = await cli("pause", "mial");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('unknown queue "mial"');
    expect((await db.pool.query("select count(*)::int as n from sidetrack.queues where name = 'mial'")).rows[0].n).toBe(0);
  });
});

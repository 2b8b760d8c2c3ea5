import pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { migrationStatus, runMigrations, SidetrackMigrationError } from "../runtime/index.js";
import { MIGRATIONS } from "../runtime/db/migrations/index.js";
import { createTestDatabase, quiet, type TestDatabase } from "./support/database.js";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase("migrations");
});

async function tables(schema: string): Promise<string[]> {
  const { rows } = await db.pool.query<{ t: string }>(
    "select table_name as t from information_schema.tables where table_schema = $1 order by 1",
    [schema],
  );
  return rows.map((r) => r.t);
}

describe("runMigrations", () => {
  it("creates the schema, records every migration, and is idempotent", async () => {
    const first = await runMigrations({ connectionString: db.url });
    expect(first.applied).toEqual(MIGRATIONS.map((m) => m.version));
    expect(await tables("sidetrack")).toEqual(["cron_schedules", "jobs", "migrations", "queues", "workers"]);
    const second = await runMigrations({ pool: db.pool });
    expect(second.applied).toEqual([]);
    const status = await migrationStatus({ pool: db.pool });
    expect(status.every((m) => m.status === "applied")).toBe(true);
  });

  it("reports pending migrations before they are applied", async () => {
    const status = await migrationStatus({ pool: db.pool, schema: "never_migrated" });
    expect(status.map((m) => m.status)).toEqual(MIGRATIONS.map(() => "pending"));
    expect(await tables("never_migrated")).toEqual([]);
  });

  it("applies exactly once when five processes migrate at the same time", async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, () => runMigrations({ connectionString: db.url, schema: "racing" })),
    );
    const appliedCounts = results.map((r) => r.applied.length).sort();
    expect(appliedCounts).toEqual([0, 0, 0, 0, MIGRATIONS.length]);
    const { rows } = await db.pool.query("select version from racing.migrations");
    expect(rows).toHaveLength(MIGRATIONS.length);
  });

  it("quotes a configurable schema name", async () => {
    await runMigrations({ pool: db.pool, schema: "Mixed_Case$1" });
    expect(await tables("Mixed_Case$1")).toEqual(["cron_schedules", "jobs", "migrations", "queues", "workers"]);
  });

  it("rejects an invalid schema name before touching the database", async () => {
    await expect(runMigrations({ pool: db.pool, schema: 'x"; drop table y; --' })).rejects.toThrow(/invalid schema name/);
  });

  it("refuses when an applied migration's text changed", async () => {
    await runMigrations({ pool: db.pool, schema: "tampered" });
    await db.pool.query("update tampered.migrations set checksum = 'edited' where version = 1");
    const error = await runMigrations({ pool: db.pool, schema: "tampered" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SidetrackMigrationError);
    expect((error as Error).message).toMatch(/migration 1 \(jobs\) was applied to schema "tampered" with different text/);
  });

  it("refuses a database migrated by a newer version", async () => {
    await runMigrations({ pool: db.pool, schema: "future" });
    await db.pool.query("insert into future.migrations (version, name, checksum) values (9999, 'later', 'x')");
    await expect(runMigrations({ pool: db.pool, schema: "future" })).rejects.toThrow(/migration 9999.*upgrade sidetrack/);
  });

  it("leaves nothing behind when a migration fails half-way", async () => {
    // A table in the way makes migration 1 fail after the schema and migrations table exist.
    await db.pool.query("create schema blocked; create table blocked.jobs (x int)");
    await expect(runMigrations({ pool: db.pool, schema: "blocked" })).rejects.toThrow(/migration 1 \(jobs\) failed/);
    const { rows } = await db.pool.query("select count(*)::int as n from blocked.migrations");
    expect(rows[0].n).toBe(0);
    const client = quiet(new pg.Client({ connectionString: db.url }));
    await client.connect();
    // The advisory lock was released: another migration call does not hang.
    const { rows: lock } = await client.query("select pg_try_advisory_lock(hashtext('sidetrack.migrate.blocked')) as ok");
    expect(lock[0].ok).toBe(true);
    await client.end();
  });
});

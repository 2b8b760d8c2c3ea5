import { beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { runCli } from "./run-cli.js";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase("cli_migrate");
});

async function tableExists(schema: string): Promise<boolean> {
  const { rows } = await db.pool.query("select to_regclass($1) is not null as ok", [`"${schema}".jobs`]);
  return rows[0].ok;
}

describe("sidetrack migrate", () => {
  it("--status lists pending migrations and exits 1", async () => {
    const r = await runCli(["migrate", "--status"], { databaseUrl: db.url });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^VERSION\s+NAME\s+STATUS\s+APPLIED AT$/m);
    expect(r.stdout).toMatch(/^0001\s+jobs\s+pending\s+-$/m);
    expect(r.stdout).toMatch(/^0002\s+cron\s+pending\s+-$/m);
    expect(r.stdout).toMatch(/^0003\s+workers\s+pending\s+-$/m);
    expect(r.stdout).toMatch(/^0004\s+queues\s+pending\s+-$/m);
    expect(r.stdout).toMatch(/^0005\s+job_lifecycle\s+pending\s+-$/m);
    expect(r.stdout).toContain("6 pending migrations: run `sidetrack migrate`");
  });

  it("--dry-run prints the SQL and changes nothing", async () => {
    const r = await runCli(["migrate", "--dry-run"], { databaseUrl: db.url });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("-- 0001_jobs");
    expect(r.stdout).toContain('create table "sidetrack".jobs (');
    expect(r.stdout).toContain("create unique index jobs_unique_key_idx");
    expect(await tableExists("sidetrack")).toBe(false);
  });

  it("applies pending migrations, with progress on stderr", async () => {
    const r = await runCli(["migrate"], { databaseUrl: db.url });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('applying 6 migration(s) to schema "sidetrack"');
    expect(r.stdout).toContain("applied 0001_jobs");
    expect(r.stdout).toContain('schema "sidetrack" is up to date');
    expect(await tableExists("sidetrack")).toBe(true);
  });

  it("then --status exits 0 and a second migrate has nothing to do", async () => {
    const status = await runCli(["migrate", "--status"], { databaseUrl: db.url });
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^0001\s+jobs\s+applied\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/m);
    expect(status.stdout).toContain("up to date");
    const again = await runCli(["migrate"], { databaseUrl: db.url });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("nothing to apply");
    const dry = await runCli(["migrate", "--dry-run"], { databaseUrl: db.url });
    expect(dry.stdout).toContain("nothing to apply");
  });

  it("takes --database-url and --schema", async () => {
    const r = await runCli(["migrate", "--database-url", db.url, "--schema", "other_app"]);
    expect(r.code).toBe(0);
    expect(await tableExists("other_app")).toBe(true);
    const status = await runCli(["migrate", "--status", "--schema", "other_app"], { databaseUrl: db.url });
    expect(status.stdout).toContain('schema "other_app"');
  });

  it("rejects --status with --dry-run as a usage error (exit 2)", async () => {
    const r = await runCli(["migrate", "--status", "--dry-run"], { databaseUrl: db.url });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: Arguments status and dry-run are mutually exclusive");
    expect(r.stderr).toContain("fix:   see `sidetrack migrate --help`");
  });
});

// The plain SQL migration files, applied by a migration tool of the user's (psql here) instead of
// `sidetrack migrate`: each creates what it needs, records itself, and Sidetrack sees it as applied.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrationStatus, runMigrations, Sidetrack, SidetrackMigrationError } from "../runtime/index.js";
import { runCli, repoRoot } from "./cli/run-cli.js";
import { createTestDatabase } from "./support/database.js";

const project = path.join(repoRoot, ".tmp", `psql-${randomBytes(4).toString("hex")}`);
const migrationsDir = path.join(project, "sidetrack/migrations");
let files: string[];

beforeAll(async () => {
  fs.mkdirSync(project, { recursive: true });
  fs.copyFileSync(path.join(repoRoot, "test/cli/fixtures/declared/sidetrack.queues.ts"), path.join(project, "sidetrack.queues.ts"));
  const generated = await runCli(["generate", "--queues", path.relative(repoRoot, path.join(project, "sidetrack.queues.ts"))]);
  expect(generated.code, generated.stderr).toBe(0);
  files = fs.readdirSync(migrationsDir).sort();
});
afterAll(() => fs.rmSync(project, { recursive: true, force: true }));

function psql(url: string, file: string): void {
  execFileSync("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", path.join(migrationsDir, file)], { stdio: "pipe" });
}

function worker(url: string, migrate: boolean | undefined): Sidetrack<{ chargeInvoice: { n: number } }> {
  return new Sidetrack({ databaseOptions: { connectionString: url }, handleSignals: false, migrate, queues: { chargeInvoice: { handler: async () => undefined } } });
}

describe("plain SQL migrations applied with psql", () => {
  it("apply on a fresh database and are then seen as applied by migrate, status and start()", async () => {
    expect(files).toEqual(["0001_jobs.sql", "0002_cron.sql", "0003_workers.sql", "0004_queues.sql", "0005_job_lifecycle.sql", "0006_hot_path_indexes.sql"]);
    const db = await createTestDatabase("psql_fresh");
    for (const file of files) psql(db.url, file);
    expect((await migrationStatus({ pool: db.pool })).map((s) => s.status)).toEqual(files.map(() => "applied"));
    expect(await runMigrations({ pool: db.pool })).toEqual({ applied: [] });
    const status = await runCli(["status"], { databaseUrl: db.url });
    expect(status.code, status.stderr).toBe(0);
    const sidetrack = worker(db.url, false);
    await sidetrack.start();
    await sidetrack.stop();
  });

  it("record the checksum `sidetrack migrate` records", async () => {
    const viaPsql = await createTestDatabase("psql_sum");
    for (const file of files) psql(viaPsql.url, file);
    const viaMigrate = await createTestDatabase("migrate_sum");
    await runMigrations({ pool: viaMigrate.pool });
    const sums = async (pool: typeof viaPsql.pool) => (await pool.query("select version, name, checksum from sidetrack.migrations order by version")).rows;
    expect(await sums(viaPsql.pool)).toEqual(await sums(viaMigrate.pool));
  });

  it("start({ migrate: false }) names exactly the missing migration", async () => {
    const db = await createTestDatabase("psql_partial");
    // Every file but the last: exactly one migration is missing.
    for (const file of files.slice(0, -1)) psql(db.url, file);
    const last = files.at(-1)!.replace(/\.sql$/, "");
    const sidetrack = worker(db.url, undefined);
    const error = await sidetrack.start({ migrate: false }).catch((e: unknown) => e);
    await sidetrack.close();
    expect(error).toBeInstanceOf(SidetrackMigrationError);
    expect((error as Error).message).toMatch(new RegExp(`^schema "sidetrack" is missing migration ${last}: `));
    // Nothing was applied by the check.
    expect((await migrationStatus({ pool: db.pool })).map((s) => s.status)).toEqual([...files.slice(0, -1).map(() => "applied"), "pending"]);
  });
});

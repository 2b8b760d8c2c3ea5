import { beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { runCli, startCli, waitFor } from "./run-cli.js";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase("cli_worker");
  // The worker would apply migrations itself at start, but the jobs are inserted before it starts.
  const migrated = await runCli(["migrate"], { databaseUrl: db.url });
  expect(migrated.code, migrated.stderr).toBe(0);
});

async function insert(queue: string, payload: unknown): Promise<string> {
  const { rows } = await db.pool.query("insert into sidetrack.jobs (queue, payload) values ($1, $2) returning id::text", [queue, payload]);
  return rows[0].id;
}

async function status(id: string): Promise<string> {
  const { rows } = await db.pool.query("select status from sidetrack.jobs where id = $1", [id]);
  return rows[0].status;
}

describe("sidetrack worker", () => {
  it("runs the jobs of a handlers module and exits 0 on SIGTERM", async () => {
    const id = await insert("cliEcho", { hello: "world" });
    const cli = startCli(["worker", "--handlers", "test/cli/fixtures/handlers.mjs", "--concurrency", "2"], { databaseUrl: db.url });
    await waitFor(cli, async () => (await status(id)) === "completed", `job ${id} completed`);
    // The URL as printed: its password (when the suite's server has one) masked.
    const { username, password } = new URL(db.url);
    const shown = `postgres://${username}${password ? ":***" : ""}@`;
    expect(cli.stdout()).toContain(`worker started: queues cliEcho, cliOther · concurrency 2 · schema "sidetrack" · ${shown}`);
    cli.child.kill("SIGTERM");
    const r = await cli.exited;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("SIGTERM: stopping; no new jobs");
    expect(r.stdout).toMatch(/worker stopped\n$/);
  });

  it("--poll-only registers a worker without a liveness session; --listen-url one whose session is that connection", async () => {
    for (const [flags, alive] of [[["--poll-only"], null], [["--listen-url", db.url], true]] as const) {
      const cli = startCli(["worker", "--handlers", "test/cli/fixtures/handlers.mjs", "--no-prepared-statements", ...flags], { databaseUrl: db.url });
      await waitFor(cli, () => /worker started/.test(cli.stdout()), "the worker started");
      expect(cli.stdout()).toContain(alive === null ? "poll-only (rescue after ~10 s" : "LISTEN over --listen-url");
      const listed = JSON.parse((await runCli(["workers", "--json"], { databaseUrl: db.url })).stdout).workers;
      expect(listed.map((w: { alive: boolean | null }) => w.alive)).toEqual([alive]);
      cli.child.kill("SIGTERM");
      expect((await cli.exited).code).toBe(0);
    }
    const both = await runCli(["worker", "--handlers", "test/cli/fixtures/handlers.mjs", "--poll-only", "--listen-url", db.url], { databaseUrl: db.url });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("--poll-only and --listen-url cannot be used together");
  });

  it("--queues limits the queues; a TypeScript module loads through the caller's loader", async () => {
    const typed = await insert("cliTyped", { n: 21 });
    const cli = startCli(["worker", "--handlers", "test/cli/fixtures/handlers-ts.ts", "--queues", "cliTyped"], { databaseUrl: db.url });
    await waitFor(cli, async () => (await status(typed)) === "completed", `job ${typed} completed`);
    cli.child.kill("SIGINT");
    expect((await cli.exited).code).toBe(0);
  });

  it("--queues naming a queue without a handler is a usage error", async () => {
    const r = await runCli(["worker", "--handlers", "test/cli/fixtures/handlers.mjs", "--queues", "cliEcho,cliTypo"], { databaseUrl: db.url });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'error: --queues: unknown queue "cliTypo": test/cli/fixtures/handlers.mjs has no handler for it\nfix:   queues with handlers: cliEcho, cliOther\n',
    );
  });

  it("a missing module or one without handlers is an error with the fix", async () => {
    const missing = await runCli(["worker", "--handlers", "./nowhere.mjs"], { databaseUrl: db.url });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: handlers module not found: .*nowhere\.mjs\nfix:   pass the path of your handlers module/);
    const empty = await runCli(["worker", "--handlers", "test/cli/run-cli.ts"], { databaseUrl: db.url });
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/^error: test\/cli\/run-cli\.ts exports no handlers\nfix:   export a map of queue name to handler/);
    const noFlag = await runCli(["worker"], { databaseUrl: db.url });
    expect(noFlag.code).toBe(2);
    expect(noFlag.stderr).toContain("error: missing required option --handlers");
  });

  it("--no-migrate does not migrate: on an unmigrated schema it names the missing migrations and exits 1", async () => {
    const r = await runCli(["worker", "--handlers", "test/cli/fixtures/handlers.mjs", "--no-migrate", "--schema", "elsewhere"], { databaseUrl: db.url });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: schema "elsewhere" is missing migrations 0001_jobs, 0002_cron, 0003_workers, 0004_queues, 0005_job_lifecycle, 0006_hot_path_indexes: /);
    const { rows } = await db.pool.query("select to_regclass('elsewhere.jobs') is null as absent");
    expect(rows[0].absent).toBe(true);
  });

  it("--help shows the TypeScript example as one runnable line", async () => {
    const r = await runCli(["worker", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}node --import tsx node_modules\/\.bin\/sidetrack worker --handlers \.\/src\/handlers\.ts$/m);
  });
});

// `sidetrack worker` runs with the declaration's options, read from the generated client, and
// leaves alone the declared cron schedules a worker beside it registered.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { repoRoot, runCli, startCli, waitFor, type RunningCli } from "./run-cli.js";

let db: TestDatabase;
const project = path.join(repoRoot, ".tmp", `cli-declared-${randomBytes(4).toString("hex")}`);
const rel = (file: string) => path.relative(repoRoot, path.join(project, file));
const running: RunningCli[] = [];

beforeAll(async () => {
  fs.cpSync(path.join(repoRoot, "test/cli/fixtures/declared"), project, { recursive: true });
  db = await createTestDatabase("cli_declared");
  const generated = await runCli(["generate", "--queues", rel("sidetrack.queues.ts")]);
  expect(generated.code, generated.stderr).toBe(0);
  const migrated = await runCli(["migrate"], { databaseUrl: db.url });
  expect(migrated.code, migrated.stderr).toBe(0);
  await db.pool.query("create table runs (id serial primary key, pid int not null, job_id bigint not null, started timestamptz not null, finished timestamptz)");
});

afterAll(async () => {
  for (const cli of running) cli.child.kill("SIGKILL");
  fs.rmSync(project, { recursive: true, force: true });
});

/** The createWorker process, started like the CLI helper starts the CLI. */
function startCreateWorker(): RunningCli {
  const child = spawn(process.execPath, ["--import", "tsx", rel("create-worker.ts")], {
    cwd: repoRoot,
    env: { ...process.env, DATABASE_URL: db.url },
    stdio: "pipe",
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c) => (stdout += c));
  child.stderr.on("data", (c) => (stderr += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  const handle = { child, stdout: () => stdout, stderr: () => stderr, exited };
  running.push(handle);
  return handle;
}

async function count(sql: string): Promise<number> {
  return Number((await db.pool.query(sql)).rows[0].n);
}

describe("sidetrack worker --client", () => {
  it("runs beside createWorker with the declared concurrency, and the declared schedule survives", async () => {
    const beside = startCreateWorker();
    await waitFor(beside, () => beside.stdout().includes("ready"), "the createWorker process started");
    expect(await count("select count(*) n from sidetrack.cron_schedules where queue = 'nightlyReport'")).toBe(1);

    for (let n = 0; n < 6; n++) await db.pool.query("insert into sidetrack.jobs (queue, payload) values ('chargeInvoice', $1)", [{ n }]);
    const cli = startCli(["worker", "--handlers", rel("handlers.ts"), "--client", rel("sidetrack/client.ts"), "--queues", "chargeInvoice"], {
      databaseUrl: db.url,
    });
    running.push(cli);
    await waitFor(cli, () => cli.stdout().includes("worker started"), "the CLI worker started");
    expect(cli.stdout()).toContain("worker started: queues chargeInvoice (concurrency 2) · concurrency 10 ·");
    // The CLI worker knows the whole declaration, so its start() keeps the declared schedule.
    expect(await count("select count(*) n from sidetrack.cron_schedules where queue = 'nightlyReport'")).toBe(1);

    await waitFor(cli, async () => (await count("select count(*) n from runs where finished is not null")) === 6, "all six jobs ran");
    // Per process, the most runs in progress at any run's start (database clock).
    const { rows } = await db.pool.query(`
      select a.pid, max((select count(*) from runs b where b.pid = a.pid and b.started <= a.started and b.finished > a.started))::int as overlap
      from runs a group by a.pid`);
    expect(rows).toHaveLength(1);
    expect(rows[0].overlap).toBeLessThanOrEqual(2);

    // Both processes race for the per-second ticks; each tick still gets exactly one job.
    await waitFor(cli, async () => (await count("select count(*) n from sidetrack.jobs where queue = 'nightlyReport'")) >= 3, "three cron jobs");
    expect(await count("select count(*) n from (select run_at from sidetrack.jobs where queue = 'nightlyReport' group by run_at having count(*) > 1) d")).toBe(0);
    expect(await count("select count(*) n from sidetrack.cron_schedules where queue = 'nightlyReport'")).toBe(1);

    cli.child.kill("SIGTERM");
    beside.child.kill("SIGTERM");
    expect((await cli.exited).code).toBe(0);
    expect((await beside.exited).code).toBe(0);
  });

  it("without a generated client it warns and prunes no declared schedule", async () => {
    const before = await count("select count(*) n from sidetrack.cron_schedules");
    expect(before).toBe(1);
    const cli = startCli(["worker", "--handlers", rel("handlers.ts")], { databaseUrl: db.url });
    running.push(cli);
    await waitFor(cli, () => cli.stdout().includes("worker started"), "the CLI worker started");
    expect(cli.stderr()).toContain("warning: no generated client");
    expect(await count("select count(*) n from sidetrack.cron_schedules")).toBe(1);
    cli.child.kill("SIGTERM");
    expect((await cli.exited).code).toBe(0);
  });

  it("migrate --client writes the declared queue policies, leaving a pause alone", async () => {
    await db.pool.query("insert into sidetrack.queues (name, paused) values ('chargeInvoice', true) on conflict (name) do update set paused = true, global_concurrency = null");
    const r = await runCli(["migrate", "--client", rel("sidetrack/client.ts")], { databaseUrl: db.url });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("queue policies written from");
    const { rows } = await db.pool.query("select name, paused, global_concurrency from sidetrack.queues order by name");
    expect(rows).toEqual([
      { name: "chargeInvoice", paused: true, global_concurrency: 5 },
      { name: "nightlyReport", paused: false, global_concurrency: null },
    ]);
    await db.pool.query("update sidetrack.queues set paused = false");
  });

  it("createWorker without connectionString or pool throws at construction, in its own terms", async () => {
    const client = await import(path.join(project, "sidetrack/client.ts"));
    const handlers = { chargeInvoice: async () => undefined, nightlyReport: async () => undefined };
    expect(() => client.createWorker({ connectionString: undefined, handlers })).toThrow(/^createWorker: connectionString or pool is required$/);
  });

  it("a handler for a queue the client does not declare is a usage error", async () => {
    const r = await runCli(["worker", "--handlers", "test/cli/fixtures/handlers.mjs", "--client", rel("sidetrack/client.ts")], { databaseUrl: db.url });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('has a handler for "cliEcho", which');
  });
});

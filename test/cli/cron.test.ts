import { beforeAll, describe, expect, it } from "vitest";
import { runMigrations, Sidetrack } from "../../runtime/index.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { runCli } from "./run-cli.js";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase("cli_cron");
  await runMigrations({ pool: db.pool });
  const sidetrack = new Sidetrack<{ report: { kind: string }; twice: { n: number } }>({
    databaseOptions: { pool: db.pool },
    queues: { report: {}, twice: {} },
  });
  await sidetrack.scheduleCron("report", "0 3 * * *", { kind: "nightly" }, { timezone: "Europe/Berlin" });
  await sidetrack.scheduleCron("twice", "0 1 * * *", { n: 1 });
  await sidetrack.scheduleCron("twice", "0 2 * * *", { n: 2 });
});

const cli = (...args: string[]) => runCli(["cron", ...args], { databaseUrl: db.url });

describe("sidetrack cron", () => {
  it("list shows every schedule; --json gives them as data", async () => {
    const r = await cli("list");
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^QUEUE\s+EXPRESSION\s+TIMEZONE\s+SOURCE\s+ACTIVE\s+NEXT RUN\s+LAST RUN$/);
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/).slice(0, 5))).toEqual([
      ["report", "0 3 * * *", "Europe/Berlin", "programmatic", "yes"],
      ["twice", "0 1 * * *", "UTC", "programmatic", "yes"],
      ["twice", "0 2 * * *", "UTC", "programmatic", "yes"],
    ]);
    const json = JSON.parse((await cli("list", "--queue", "report", "--json")).stdout);
    expect(json).toMatchObject([{ queue: "report", expression: "0 3 * * *", payload: { kind: "nightly" }, active: true }]);
  });

  it("deactivate and activate a queue's only schedule", async () => {
    const off = await cli("deactivate", "report");
    expect(off.code, off.stderr).toBe(0);
    expect(off.stdout).toBe('cron report "0 3 * * *" deactivated\n');
    expect((await db.pool.query("select active from sidetrack.cron_schedules where queue = 'report'")).rows[0].active).toBe(false);
    const on = await cli("activate", "report", "--json");
    expect(on.code, on.stderr).toBe(0);
    expect(JSON.parse(on.stdout)).toMatchObject({ queue: "report", active: true });
  });

  it("run-now inserts one job with the schedule's payload", async () => {
    const r = await cli("run-now", "twice", "0 2 * * *");
    expect(r.code, r.stderr).toBe(0);
    const id = /^job (\d+) inserted for cron twice "0 2 \* \* \*", to run now\n$/.exec(r.stdout)?.[1];
    expect(id).toBeDefined();
    const { rows } = await db.pool.query("select queue, payload, status from sidetrack.jobs where id = $1", [id]);
    expect(rows).toEqual([{ queue: "twice", payload: { n: 2 }, status: "scheduled" }]);
  });

  it("a queue with several schedules needs the expression; an unknown queue names those there are", async () => {
    const several = await cli("deactivate", "twice");
    expect(several.code).toBe(2);
    expect(several.stderr).toContain('error: queue "twice" has 2 cron schedules: name one');
    const unknown = await cli("run-now", "nope");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('error: no cron schedule for queue "nope" in schema "sidetrack"\nfix:   queues with schedules: report, twice\n');
    const typo = await runCli(["cron", "lst"]);
    expect(typo.stderr).toContain('error: unknown command "lst". Did you mean list?');
  });

  it("a queue with a schedule but no job yet is 'declared, no jobs yet', not unknown", async () => {
    const status = await runCli(["status", "--queue", "report"], { databaseUrl: db.url });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toBe('schema "sidetrack" · queue "report": declared, no jobs yet\n');
    const list = await runCli(["jobs", "list", "--queue", "report"], { databaseUrl: db.url });
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toBe('queue "report": declared, no jobs yet\n');
  });
});

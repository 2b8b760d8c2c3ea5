import { beforeAll, describe, expect, it } from "vitest";
import { runMigrations } from "../../runtime/index.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { runCli, startCli, waitFor } from "./run-cli.js";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase("cli_status");
  await runMigrations({ pool: db.pool });
  // One job in every state the status counts, with known run_at and finalized_at.
  await db.pool.query(`insert into sidetrack.jobs (queue, payload, status, run_at, finalized_at) values
    ('mail', '{}', 'scheduled', now() - interval '2 hours', null),
    ('mail', '{}', 'scheduled', now() - interval '1 minute', null),
    ('mail', '{}', 'scheduled', now() + interval '1 hour', null),
    ('mail', '{}', 'running',   now() - interval '5 minutes', null),
    ('mail', '{}', 'retrying',  now() + interval '30 seconds', null),
    ('mail', '{}', 'failed',    now(), now()),
    ('mail', '{}', 'completed', now(), now() - interval '1 hour'),
    ('mail', '{}', 'completed', now(), now() - interval '3 days'),
    ('mail', '{}', 'cancelled', now(), now()),
    ('billing', '{}', 'completed', now(), now())`);
});

describe("sidetrack status", () => {
  it("--json gives every count per queue and the age of the oldest ready job", async () => {
    const r = await runCli(["status", "--json"], { databaseUrl: db.url });
    expect(r.code).toBe(0);
    const status = JSON.parse(r.stdout);
    expect(status.schema).toBe("sidetrack");
    expect(status.completedWindowMs).toBe(86_400_000);
    expect(status.queues.map((q: { queue: string }) => q.queue)).toEqual(["billing", "mail"]);
    expect(status.queues[1]).toMatchObject({
      queue: "mail",
      scheduledReady: 2,
      scheduledFuture: 1,
      running: 1,
      retrying: 1,
      failed: 1,
      completed: 1, // the one finalized 3 days ago is outside the 24h window
      cancelled: 1,
    });
    // The oldest ready job was due two hours before the insert.
    expect(status.queues[1].oldestReadyAgeMs).toBeGreaterThanOrEqual(2 * 3_600_000);
    expect(status.queues[0]).toMatchObject({ queue: "billing", completed: 1, scheduledReady: 0, oldestReadyAgeMs: null });
  });

  it("prints a readable table with a total row", async () => {
    const r = await runCli(["status"], { databaseUrl: db.url });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^schema "sidetrack" · \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/m);
    expect(r.stdout).toMatch(/^QUEUE\s+READY\s+FUTURE\s+RUNNING\s+RETRYING\s+FAILED\s+COMPLETED 24H\s+CANCELLED\s+OLDEST READY$/m);
    expect(r.stdout).toMatch(/^mail\s+2\s+1\s+1\s+1\s+1\s+1\s+1\s+2h \d\dm$/m);
    expect(r.stdout).toMatch(/^billing\s+0\s+0\s+0\s+0\s+0\s+1\s+0\s+-$/m);
    expect(r.stdout).toMatch(/^\(all\)\s+2\s+1\s+1\s+1\s+1\s+2\s+1\s+2h \d\dm$/m);
  });

  it("--queue and --completed-window narrow it", async () => {
    const r = await runCli(["status", "--queue", "mail", "--completed-window", "7d", "--json"], { databaseUrl: db.url });
    expect(r.code).toBe(0);
    const status = JSON.parse(r.stdout);
    expect(status.queues).toHaveLength(1);
    expect(status.queues[0].completed).toBe(2);
  });

  it("--watch refreshes until SIGINT, then exits 0", async () => {
    const cli = startCli(["status", "--watch", "--interval", "100ms", "--json"], { databaseUrl: db.url });
    await waitFor(cli, () => cli.stdout().split("\n").filter(Boolean).length >= 3, "three refreshes");
    cli.child.kill("SIGINT");
    const r = await cli.exited;
    expect(r.code).toBe(0);
    for (const line of r.stdout.split("\n").filter(Boolean)) expect(JSON.parse(line).queues).toHaveLength(2);
  });

  it("--watch without --json appends table frames when stdout is not a terminal", async () => {
    const cli = startCli(["status", "--watch", "--interval", "100ms"], { databaseUrl: db.url });
    await waitFor(cli, () => (cli.stdout().match(/^QUEUE/gm) ?? []).length >= 2, "two frames");
    cli.child.kill("SIGTERM");
    expect((await cli.exited).code).toBe(0);
  });

  it("an unknown queue is an error naming the queues there are", async () => {
    const r = await runCli(["status", "--queue", "mial"], { databaseUrl: db.url });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: unknown queue "mial": schema "sidetrack" has no jobs in it\nfix:   queues with jobs: billing, mail\n');
  });

  it("a schema that is not migrated says to run sidetrack migrate", async () => {
    const r = await runCli(["status", "--schema", "elsewhere"], { databaseUrl: db.url });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'error: schema "elsewhere" is not migrated: Sidetrack\'s tables are not there\nfix:   run `sidetrack migrate --schema elsewhere`\n',
    );
  });

  it("a bad --interval is a usage error", async () => {
    const r = await runCli(["status", "--watch", "--interval", "soon"], { databaseUrl: db.url });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--interval must be milliseconds or a string like");
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMigrations, Sidetrack } from "../../runtime/index.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { runCli } from "./run-cli.js";

let db: TestDatabase;
let worker: Sidetrack<{ mail: { to: string } }>;
beforeAll(async () => {
  db = await createTestDatabase("cli_workers");
  await runMigrations({ pool: db.pool });
});
afterAll(() => worker?.stop());

describe("sidetrack workers", () => {
  it("says so when no worker is running", async () => {
    const r = await runCli(["workers"], { databaseUrl: db.url });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('schema "sidetrack" · 0 workers\nno worker is running\n');
  });

  it("lists a running worker, in a table and as JSON, and forgets it once stopped", async () => {
    worker = new Sidetrack({
      databaseUrl: db.url,
      workerId: "mailer-1",
      concurrency: 3,
      handleSignals: false,
      queues: { mail: { handler: () => undefined } },
    });
    await worker.start();
    const table = await runCli(["workers"], { databaseUrl: db.url });
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^schema "sidetrack" · 1 worker\n/);
    expect(table.stdout).toMatch(/mailer-1 .* mail .* 3 .* 0\.1\.0 .* alive/);
    const json = await runCli(["workers", "--json"], { databaseUrl: db.url });
    const { workers } = JSON.parse(json.stdout);
    expect(workers).toEqual([
      expect.objectContaining({ id: "mailer-1", pid: process.pid, queues: ["mail"], concurrency: 3, version: "0.1.0", alive: true }),
    ]);
    expect(typeof workers[0].backendPid).toBe("number");
    await worker.stop();
    expect(JSON.parse((await runCli(["workers", "--json"], { databaseUrl: db.url })).stdout).workers).toEqual([]);
  });
});

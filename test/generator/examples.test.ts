// The runnable examples, each through its one npm script, against a fresh database.
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { createTestDatabase } from "../support/database.js";
import { repoRoot } from "./helpers.js";

const run = (script: string, url: string) =>
  execFileSync("npm", ["run", "--silent", script], { cwd: repoRoot, encoding: "utf8", env: { ...process.env, DATABASE_URL: url } });

describe("examples", () => {
  it("example:pg commits an invoice with its job, rolls back a draft, and the worker sends it", async () => {
    const db = await createTestDatabase("ex_pg");
    const out = run("example:pg", db.url);
    expect(out).toMatch(/committed invoice inv-\d+ with job \d+/);
    expect(out).toContain("rolled back: the draft was abandoned");
    expect(out).toMatch(/sending invoice inv-\d+ for 4200 cents/);
    expect(out).toContain("example:pg done");
    const { rows } = await db.pool.query("select status, count(*)::int as n from sidetrack.jobs group by status");
    expect(rows).toEqual([{ status: "completed", n: 1 }]);
  });

  it("example:flow holds per-key, global and rate limits across two workers, and pauses and resumes", async () => {
    const db = await createTestDatabase("ex_flow");
    const out = run("example:flow", db.url);
    expect(out).toContain("syncTenant: at most 4 at once (globalConcurrency 4), 1 per tenant");
    expect(out).toContain("callPartner while paused: 0 calls");
    expect(out).toContain("callPartner resumed: 10 calls, 5 in the first second");
    expect(out).toContain("example:flow done");
    const { rows } = await db.pool.query("select status, count(*)::int as n from sidetrack.jobs group by status");
    expect(rows).toEqual([{ status: "completed", n: 34 }]);
  });

  it("example:prisma onboards a user through insertUserOnboarding(tx, …)", async () => {
    const db = await createTestDatabase("ex_prisma");
    const out = run("example:prisma", db.url);
    expect(out).toContain("rolled back: signup aborted");
    expect(out).toMatch(/Welcome ada-\d+@example\.com/);
    expect(out).toContain("example:prisma done");
    const users = await db.pool.query(`select count(*)::int as n from "User"`);
    expect(users.rows[0].n).toBe(1);
    const { rows } = await db.pool.query("select status, count(*)::int as n from sidetrack.jobs group by status");
    expect(rows).toEqual([{ status: "completed", n: 1 }]);
  });
});

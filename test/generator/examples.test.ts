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

  it("example:output stores the handler's typed result and its last progress, read back by the generated getJob", async () => {
    const db = await createTestDatabase("ex_output");
    const out = run("example:output", db.url);
    expect(out).toMatch(/job \d+ output: https:\/\/cdn\.example\.com\/cat-320\.webp \(18432 bytes\)/);
    expect(out).toContain('last progress: {"step":"resizing","width":320}; tags: example');
    expect(out).toContain("example:output done");
    const { rows } = await db.pool.query("select status, output, progress, tags, meta from sidetrack.jobs");
    expect(rows).toEqual([
      {
        status: "completed",
        output: { url: "https://cdn.example.com/cat-320.webp", bytes: 18432 },
        progress: { step: "resizing", width: 320 },
        tags: ["example"],
        meta: { requestedBy: "example:output" },
      },
    ]);
  });

  it("example:snooze snoozes until the export is ready without spending its one attempt, and fails a deleted one at once", async () => {
    const db = await createTestDatabase("ex_snooze");
    const out = run("example:snooze", db.url);
    expect(out).toMatch(/job \d+: completed after 2 snoozes, attempt 1 of 1, output \{"downloaded":"e-42"\}/);
    expect(out).toMatch(/job \d+: failed: export gone was deleted/);
    expect(out).toContain("example:snooze done");
    const { rows } = await db.pool.query("select status, snoozes, attempt from sidetrack.jobs order by id");
    expect(rows).toEqual([
      { status: "completed", snoozes: 2, attempt: 1 },
      { status: "failed", snoozes: 0, attempt: 1 },
    ]);
  });

  it("example:debounce collapses five edits into one run of the latest, and throttles digests to one per hour", async () => {
    const db = await createTestDatabase("ex_debounce");
    const out = run("example:debounce", db.url);
    expect(out).toMatch(/reindex job \d+: revision 5, duplicate true, updated true/);
    expect(out).toMatch(/digest requests: job \d+, throttled, throttled/);
    expect(out).toContain("reindexed revisions: 5; digests sent: 1; a request after it ran: throttled");
    expect(out).toContain("example:debounce done");
    const { rows } = await db.pool.query("select queue, status, payload from sidetrack.jobs order by id");
    expect(rows).toEqual([
      { queue: "reindexDocument", status: "completed", payload: { documentId: "doc-1", revision: 5 } },
      { queue: "sendDigest", status: "completed", payload: { userId: "u-1" } },
    ]);
  });
});

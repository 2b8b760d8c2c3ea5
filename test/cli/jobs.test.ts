import { beforeAll, describe, expect, it } from "vitest";
import { runMigrations } from "../../runtime/index.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { runCli } from "./run-cli.js";

let db: TestDatabase;
const cli = (...args: string[]) => runCli(args, { databaseUrl: db.url });

beforeAll(async () => {
  db = await createTestDatabase("cli_jobs");
  await runMigrations({ pool: db.pool });
});

const ERRORS = JSON.stringify([
  { attempt: 1, message: "card declined", stack: "Error: card declined\n    at charge (billing.js:10:5)", at: "2025-01-01T10:00:00Z" },
  { attempt: 2, message: "gateway timeout", stack: "Error: gateway timeout\n    at charge (billing.js:12:7)", at: "2025-01-01T10:01:00Z" },
]);

/** Inserts a job straight into the table, in whatever state the test needs. Returns its id. */
async function job(queue: string, status: string, extra: { uniqueKey?: string; attempt?: number; maxAttempts?: number; errors?: string } = {}): Promise<string> {
  const finished = ["completed", "failed", "cancelled"].includes(status);
  const { rows } = await db.pool.query(
    `insert into sidetrack.jobs (queue, payload, status, attempt, max_attempts, errors, unique_key, finalized_at)
     values ($1, $2, $3, $4, $5, $6, $7, case when $8 then now() end) returning id::text`,
    [queue, { invoiceId: `inv-${queue}` }, status, extra.attempt ?? 0, extra.maxAttempts ?? 25, extra.errors ?? "[]", extra.uniqueKey ?? null, finished],
  );
  return rows[0].id;
}

async function read(id: string) {
  const { rows } = await db.pool.query("select status, attempt, max_attempts, jsonb_array_length(errors) as errors, finalized_at, run_at <= now() as due from sidetrack.jobs where id = $1", [id]);
  return rows[0];
}

describe("sidetrack jobs list", () => {
  it("lists jobs as a table, filtered by queue and status", async () => {
    const a = await job("listA", "scheduled");
    const b = await job("listA", "failed", { attempt: 2, maxAttempts: 2, errors: ERRORS });
    await job("listB", "scheduled");
    const r = await cli("jobs", "list", "--queue", "listA");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\s*ID\s+QUEUE\s+STATUS\s+ATTEMPT\s+RUN AT\s+LAST ERROR$/m);
    expect(r.stdout).toMatch(new RegExp(`^\\s*${a}\\s+listA\\s+scheduled\\s+0/25\\s+\\d{4}-`, "m"));
    expect(r.stdout).toMatch(new RegExp(`^\\s*${b}\\s+listA\\s+failed\\s+2/2\\s+.*gateway timeout$`, "m"));
    expect(r.stdout).not.toContain("listB");
    const failed = await cli("jobs", "list", "--queue", "listA", "--status", "failed", "--json");
    expect(JSON.parse(failed.stdout).map((j: { id: string }) => j.id)).toEqual([b]);
  });

  it("--tag lists only jobs with that tag; jobs show prints snoozes, tags, meta, progress and output", async () => {
    const { rows } = await db.pool.query(
      `insert into sidetrack.jobs (queue, payload, status, tags, meta, progress, output, snoozes, finalized_at)
       values ('tagged', '{}', 'completed', array['billing', 'eu'], '{"requestId": "r-9"}', '{"pct": 100}', '{"url": "/done"}', 3, now()),
              ('tagged', '{}', 'scheduled', array['other'], null, null, null, 0, null)
       returning id::text`,
    );
    const [tagged, other] = rows.map((r: { id: string }) => r.id);
    const listed = await cli("jobs", "list", "--tag", "billing", "--json");
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout).map((j: { id: string }) => j.id)).toEqual([tagged]);
    const table = await cli("jobs", "list", "--tag", "other");
    expect(table.stdout).toContain(other);
    expect(table.stdout).not.toMatch(new RegExp(`^\\s*${tagged}\\s`, "m"));
    const shown = await cli("jobs", "show", tagged!);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^\s+snoozes\s+3$/m);
    expect(shown.stdout).toMatch(/^\s+tags\s+billing, eu$/m);
    expect(shown.stdout).toContain('meta\n  {\n    "requestId": "r-9"\n  }');
    expect(shown.stdout).toContain('progress\n  {\n    "pct": 100\n  }');
    expect(shown.stdout).toContain('output\n  {\n    "url": "/done"\n  }');
    const plain = await cli("jobs", "show", other!);
    expect(plain.stdout).toContain("meta: none\nprogress: none\noutput: none");
  });

  it("--limit pages, with the next page's flag on stderr", async () => {
    const r = await cli("jobs", "list", "--queue", "listA", "--limit", "1");
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n")).toHaveLength(2);
    const next = /next page: --after (\d+)/.exec(r.stderr)![1]!;
    const page2 = await cli("jobs", "list", "--queue", "listA", "--limit", "1", "--after", next, "--json");
    expect(JSON.parse(page2.stdout)[0].status).toBe("failed");
  });

  it("rejects an unknown queue (exit 1) and a bad status or limit (exit 2)", async () => {
    const unknown = await cli("jobs", "list", "--queue", "nope");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error: unknown queue "nope": schema "sidetrack" has no jobs in it\nfix:   queues with jobs: .*listA/);
    const status = await cli("jobs", "list", "--status", "done");
    expect(status.code).toBe(2);
    expect(status.stderr).toMatch(/^error: Invalid values: Argument: status, Given: "done", Choices: "scheduled", .*\nfix:   see `sidetrack jobs list --help`\n$/);
    const limit = await cli("jobs", "list", "--limit", "0");
    expect(limit.code).toBe(2);
    expect(limit.stderr).toContain("error: --limit must be a positive integer, got 0");
  });

  it("says to migrate when the schema is not there", async () => {
    const r = await cli("jobs", "list", "--schema", "nothing_here");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("fix:   run `sidetrack migrate --schema nothing_here`");
  });
});

describe("sidetrack jobs show", () => {
  it("shows payload, attempts and every error with its stack", async () => {
    const id = await job("show", "failed", { attempt: 2, maxAttempts: 2, errors: ERRORS });
    const r = await cli("jobs", "show", id);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`job ${id}\n`);
    expect(r.stdout).toMatch(/^ {2}status\s+failed$/m);
    expect(r.stdout).toMatch(/^ {2}attempts\s+2 of 2$/m);
    expect(r.stdout).toContain('payload\n  {\n    "invoiceId": "inv-show"\n  }');
    expect(r.stdout).toContain("errors (2)\n  attempt 1 at 2025-01-01 10:00:00Z: card declined\n    Error: card declined\n        at charge (billing.js:10:5)");
    expect(r.stdout).toContain("  attempt 2 at 2025-01-01 10:01:00Z: gateway timeout\n    Error: gateway timeout\n        at charge (billing.js:12:7)");
    const json = JSON.parse((await cli("jobs", "show", id, "--json")).stdout);
    expect(json.errors).toHaveLength(2);
  });

  it("an unknown id exits 1, a malformed one 2", async () => {
    const unknown = await cli("jobs", "show", "987654");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error: unknown job id 987654: schema "sidetrack" has no such job\nfix:   find ids with `sidetrack jobs list`/);
    const bad = await cli("jobs", "show", "12abc");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('error: job id must be a positive integer (a job id), got "12abc"\nfix:   see `sidetrack jobs show --help`\n');
  });
});

describe("sidetrack jobs retry", () => {
  it("retries one failed job: scheduled now, one more attempt, errors kept", async () => {
    const id = await job("retryOne", "failed", { attempt: 3, maxAttempts: 3, errors: ERRORS });
    const r = await cli("jobs", "retry", id);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`job ${id} retried: queue "retryOne", scheduled to run now (next attempt 4 of 4)\n`);
    expect(await read(id)).toMatchObject({ status: "scheduled", attempt: 3, max_attempts: 4, errors: 2, finalized_at: null, due: true });
  });

  it("retries a cancelled job too, and refuses live or completed ones", async () => {
    const cancelled = await job("retryOne", "cancelled");
    expect((await cli("jobs", "retry", cancelled)).code).toBe(0);
    expect((await read(cancelled)).status).toBe("scheduled");
    const running = await job("retryOne", "running");
    const r = await cli("jobs", "retry", running);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: job ${running} is running: only failed or cancelled jobs can be retried\nfix:   it will run (or is running) already\n`);
    const completed = await job("retryOne", "completed");
    expect((await cli("jobs", "retry", completed)).stderr).toContain("a completed job is never run again: insert a new job");
    expect((await read(completed)).status).toBe("completed");
  });

  it("an unknown id is an error", async () => {
    const r = await cli("jobs", "retry", "999999");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: unknown job id 999999/);
  });

  it("a retry that would break the unique key gives a clear error and changes nothing", async () => {
    const failed = await job("uniq", "failed", { uniqueKey: '["k1"]', attempt: 1, maxAttempts: 1 });
    const live = await job("uniq", "scheduled", { uniqueKey: '["k1"]' });
    const r = await cli("jobs", "retry", failed);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `error: job ${failed} cannot be retried: job ${live} is live with the same queue and unique key\n` +
        `fix:   let job ${live} finish, or cancel it (\`sidetrack jobs cancel ${live}\`), then retry\n`,
    );
    expect((await read(failed)).status).toBe("failed");
  });

  it("retries thousands of failed jobs of a queue in batches, with progress on stderr", async () => {
    await db.pool.query(`insert into sidetrack.jobs (queue, payload, status, attempt, max_attempts, errors, finalized_at)
      select 'bulk', jsonb_build_object('n', n), 'failed', 5, 5, $1::jsonb, now() from generate_series(1, 2500) n`, [ERRORS]);
    await job("bulk", "cancelled");
    const r = await cli("jobs", "retry", "--queue", "bulk", "--status", "failed", "--batch-size", "1000");
    expect(r.code).toBe(0);
    expect(r.stderr.split("\n").filter(Boolean)).toEqual([
      'retrying failed jobs of queue "bulk": 1000/2500',
      'retrying failed jobs of queue "bulk": 2000/2500',
      'retrying failed jobs of queue "bulk": 2500/2500',
      'retrying failed jobs of queue "bulk": done',
    ]);
    expect(r.stdout).toBe('retried 2500 failed jobs of queue "bulk"\n');
    const { rows } = await db.pool.query(`select status, count(*)::int as n, min(max_attempts) as min_max, min(jsonb_array_length(errors)) as errors
      from sidetrack.jobs where queue = 'bulk' group by status order by status`);
    expect(rows).toEqual([
      { status: "cancelled", n: 1, min_max: 25, errors: 0 },
      { status: "scheduled", n: 2500, min_max: 6, errors: 2 },
    ]);
    const none = await cli("jobs", "retry", "--queue", "bulk");
    expect(none.stdout).toBe('no failed jobs of queue "bulk"\n');
  });

  it("a bulk retry of one job says job, not jobs", async () => {
    await job("single", "failed");
    const r = await cli("jobs", "retry", "--queue", "single");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('retried 1 failed job of queue "single"\n');
  });

  it("a bulk retry skips jobs whose unique key is taken and exits 1", async () => {
    const first = await job("bulkUniq", "failed", { uniqueKey: '["same"]' });
    const second = await job("bulkUniq", "failed", { uniqueKey: '["same"]' });
    const plain = await job("bulkUniq", "failed");
    const r = await cli("jobs", "retry", "--queue", "bulkUniq");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      `retried 2 failed jobs of queue "bulkUniq"\nskipped 1: a live job holds their unique key: ${second} (key held by job ${first})\n`,
    );
    expect([(await read(first)).status, (await read(second)).status, (await read(plain)).status]).toEqual(["scheduled", "failed", "scheduled"]);
  });

  it("needs an id or --queue, not both (exit 2)", async () => {
    const neither = await cli("jobs", "retry");
    expect(neither.code).toBe(2);
    expect(neither.stderr).toContain("error: name what to retry");
    const both = await cli("jobs", "retry", "1", "--queue", "bulk");
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("error: give a job id or --queue, not both");
    const badStatus = await cli("jobs", "retry", "--queue", "bulk", "--status", "running");
    expect(badStatus.code).toBe(2);
  });
});

describe("sidetrack jobs cancel", () => {
  it("cancels a scheduled job, and a second cancel is not an error", async () => {
    const id = await job("cancel", "scheduled");
    const r = await cli("jobs", "cancel", id);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`job ${id} cancelled (was scheduled)\n`);
    expect((await read(id)).status).toBe("cancelled");
    const again = await cli("jobs", "cancel", id);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`job ${id} was already cancelled\n`);
  });

  it("says when a running job's handler will be aborted", async () => {
    const id = await job("cancel", "running");
    const r = await cli("jobs", "cancel", id);
    expect(r.stdout).toBe(`job ${id} cancelled (was running: the worker running it aborts its handler)\n`);
  });

  it("refuses a finished job and an unknown id (exit 1)", async () => {
    const done = await job("cancel", "completed");
    const r = await cli("jobs", "cancel", done);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: job ${done} is completed: only scheduled, retrying or running jobs can be cancelled\nfix:   nothing to do\n`);
    const unknown = await cli("jobs", "cancel", "424242");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error: unknown job id 424242/);
  });
});

// A worker's writes to the jobs it holds (outcomes, progress, lease renewals, giving jobs back)
// find them by id through the primary key, whatever the statistics say. A generic plan made
// while statistics said few jobs ran used to scan every running job of every worker through
// jobs_running_idx instead, so a completion cost as much as the cluster's running jobs.
// Checked from the generic plans the server makes for each prepared statement.
import type pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { runMigrations } from "../runtime/index.js";
import { completeJobsSql, completeJobsWithOutputSql } from "../runtime/db/sql/completeJobs.js";
import { failJobsSql } from "../runtime/db/sql/failJobs.js";
import { fetchJobsSql } from "../runtime/db/sql/fetchJobs.js";
import { writeProgressSql } from "../runtime/db/sql/progressJobs.js";
import { renewLeasesSql } from "../runtime/db/sql/renewLeases.js";
import { returnJobsSql } from "../runtime/db/sql/returnJobs.js";
import { snoozeJobsSql } from "../runtime/db/sql/snoozeJobs.js";
import { createTestDatabase, type TestDatabase } from "./support/database.js";

const schema = "plans";
let db: TestDatabase;
/** 100 of the jobs this worker ("me") holds, as SQL literals for EXECUTE. */
let ids: string;
let recordset: string;

beforeAll(async () => {
  db = await createTestDatabase("plans");
  await runMigrations({ pool: db.pool, schema });
  await db.pool.query(`insert into ${schema}.jobs (queue, payload) select 'work', '{}' from generate_series(1, 20000)`);
  // Statistics taken while nothing runs, as after an ANALYZE at a quiet moment...
  await db.pool.query(`vacuum analyze ${schema}.jobs`);
  // ...and then 4,000 jobs running on other workers, 100 on this one.
  await db.pool.query(`update ${schema}.jobs set status = 'running', locked_by = 'other-' || (id % 4), locked_until = now() + interval '1 hour' where id % 5 = 0`);
  const { rows } = await db.pool.query<{ id: string }>(
    `update ${schema}.jobs set status = 'running', locked_by = 'me', locked_until = now() + interval '1 hour' where id % 5 = 1 and id < 500 returning id::text`,
  );
  ids = `'{${rows.map((r) => r.id).join(",")}}'`;
  recordset = `'${JSON.stringify(rows.map((r) => ({ id: r.id, delay_ms: 1000, max_snoozes: 5, buffered_ms: 0, output: null, progress: null, final: false, error: { attempt: 1, message: "x" } })))}'`;
}, 60_000);

/** The generic plan of `sql`, prepared and explained with `args` (SQL literals). */
async function genericPlan(client: pg.ClientBase, sql: string, args: string): Promise<string> {
  await client.query("deallocate all");
  await client.query(`prepare s as ${sql}`);
  const { rows } = await client.query(`explain execute s(${args})`);
  return rows.map((r: { "QUERY PLAN": string }) => r["QUERY PLAN"]).join("\n");
}

describe("the writes to a worker's own jobs", () => {
  const statements: [string, () => string, () => string][] = [
    ["the claim's completions", () => fetchJobsSql(schema), () => `'me', 30000, '{work}', '{50}', 50, ${ids}, array_fill(0, array[100]), '${schema}.jobs'`],
    ["completions", () => completeJobsSql(schema), () => `${ids}, 'me', array_fill(0, array[100])`],
    ["completions with output", () => completeJobsWithOutputSql(schema), () => `${recordset}, 'me'`],
    ["failures", () => failJobsSql(schema), () => `${recordset}, 'me'`],
    ["snoozes", () => snoozeJobsSql(schema), () => `${recordset}, 'me'`],
    ["lease renewals", () => renewLeasesSql(schema), () => `${ids}, 'me', 30000`],
    ["jobs given back", () => returnJobsSql(schema), () => `${ids}, 'me', 'channel'`],
    ["progress", () => writeProgressSql(schema), () => `(${ids}::bigint[])[1], 'me', '{"done": 1}'`],
  ];
  for (const [what, sql, args] of statements) {
    it(`${what}: look their jobs up by id, never through the running jobs of every worker`, async () => {
      const client = await db.pool.connect();
      try {
        await client.query("set plan_cache_mode = force_generic_plan");
        const plan = await genericPlan(client, sql(), args());
        expect(plan, plan).toContain("jobs_pkey");
        expect(plan, plan).not.toContain("jobs_running_idx");
      } finally {
        await client.query("deallocate all");
        await client.query("reset plan_cache_mode");
        client.release();
      }
    });
  }
});

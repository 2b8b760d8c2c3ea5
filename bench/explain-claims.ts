// `npx tsx bench/explain-claims.ts` (DATABASE_URL required): EXPLAIN ANALYZE of each claim path on
// 100,000 ready jobs per queue, median of 7 rolled-back runs; PLANS=1 prints the plans. The figures
// are in docs/flow-control.md. It works in a schema of its own ("ex") and drops it afterwards.
import pg from "pg";
import { runMigrations } from "../runtime/index.js";
import { fetchJobsSql } from "../runtime/db/sql/fetchJobs.js";
import { claimLimitedSql, claimLimitedPerKeySql, lockQueuePoliciesSql } from "../runtime/db/sql/queues.js";
import { previousReleaseFetchSql } from "../test/fixtures/previous-release-sql.js";
const url = process.env.DATABASE_URL!;
const pool = new pg.Pool({ connectionString: url, max: 2 });
await pool.query("drop schema if exists ex cascade");
await runMigrations({ pool, schema: "ex" });
for (const q of ["plain", "global", "perkey", "rate"]) {
  await pool.query(`insert into ex.jobs (queue, payload, concurrency_key) select $1, '{}', case when $1 = 'perkey' then 'k' || (g % 50) end from generate_series(1, 100000) g`, [q]);
}
await pool.query(`insert into ex.queues (name, global_concurrency, concurrency_per_key, concurrency_by, rate_limit, rate_per_ms) values
 ('plain', null, null, null, null, null), ('global', 5, null, null, null, null), ('perkey', null, 1, '{tenantId}', null, null), ('rate', null, null, null, 1000, 1000)`);
await pool.query("vacuum analyze ex.jobs");
const c = await pool.connect();
async function explain(label: string, sql: string, params: unknown[], lock?: string[]) {
  const times: number[] = [];
  let plan = "";
  for (let i = 0; i < 7; i++) {
    await c.query("begin");
    if (lock) await c.query(lockQueuePoliciesSql("ex"), [lock]);
    const { rows } = await c.query(`explain (analyze, buffers, format text) ${sql}`, params);
    await c.query("rollback");
    plan = rows.map((r: any) => r["QUERY PLAN"]).join("\n");
    times.push(Number(/Execution Time: ([\d.]+)/.exec(plan)![1]));
  }
  times.sort((a, b) => a - b);
  console.log(`${label}: median execution ${times[3]} ms (min ${times[0]}, max ${times[6]})`);
  if (process.env.PLANS) console.log(plan);
}
await explain("previous release claim, plain queue, 50 rows", previousReleaseFetchSql("ex"), ["w", 30000, ["plain"], [50], 50, []]);
await explain("plain claim (policy row FOR KEY SHARE), 50 rows", fetchJobsSql("ex"), ["w", 30000, ["plain"], [50], 50, [], [], "ex.jobs"]);
await explain("limited claim, globalConcurrency 5", claimLimitedSql("ex"), ["w", 30000, "global", 50], ["global"]);
await explain("limited claim, rateLimit 1000/1s, 50 rows", claimLimitedSql("ex"), ["w", 30000, "rate", 50], ["rate"]);
await explain("limited claim, concurrencyPerKey 1, 50 keys, 100k ready", claimLimitedPerKeySql("ex"), ["w", 30000, "perkey", 50], ["perkey"]);
c.release();
await pool.query("drop schema ex cascade");
await pool.end();

// Claims are never JIT-compiled. PostgreSQL compiles a statement on every execution once its
// estimated cost passes jit_above_cost (tens of milliseconds for a claim that runs in a few), and
// a claim's estimate can grow with the backlog: the plain claim is bounded by a constant the
// planner sees, the limited claims' transaction turns JIT off. Checked from the plans the server
// makes, on a backlog large enough to cross the threshold without those rules.
import pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { runMigrations } from "../runtime/index.js";
import { fetchJobsSql } from "../runtime/db/sql/fetchJobs.js";
import { claimLimitedPerKeySql, claimLimitedSql, lockQueuePoliciesSql } from "../runtime/db/sql/queues.js";
import { createTestDatabase, type TestDatabase } from "./support/database.js";

const schema = "jit";
/** The limited queues, apart: the planner's estimate per queue is the table's rows over its queues. */
const limitedSchema = "jit_limited";
/** Ready jobs in the plain queue: about twice where the unbounded claim's estimate crossed 100,000. */
const BACKLOG = 400_000;
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase("jit");
  await runMigrations({ pool: db.pool, schema });
  await db.pool.query(`insert into ${schema}.jobs (queue, payload) select 'plain', '{}' from generate_series(1, ${BACKLOG})`);
  await db.pool.query(`vacuum analyze ${schema}.jobs`);
  await runMigrations({ pool: db.pool, schema: limitedSchema });
  await db.pool.query(
    `insert into ${limitedSchema}.jobs (queue, payload, concurrency_key) select 'keyed', '{}', 'k' || (g % 50) from generate_series(1, 2000) g`,
  );
  await db.pool.query(`insert into ${limitedSchema}.queues (name, global_concurrency, concurrency_per_key, concurrency_by, rate_limit, rate_per_ms)
    values ('limited', 2, null, null, 1000, 1000), ('keyed', null, 1, '{tenantId}', null, null)`);
}, 120_000);

/** The plan's lines, from EXPLAIN inside a transaction rolled back afterwards (after `before`). */
async function plan(client: pg.ClientBase, sql: string, params: unknown[], before: (c: pg.ClientBase) => Promise<void> = async () => undefined) {
  await client.query("begin");
  try {
    await before(client);
    return (await client.query(`explain ${sql}`, params)).rows.map((r: { "QUERY PLAN": string }) => r["QUERY PLAN"]);
  } finally {
    await client.query("rollback");
  }
}
const jitted = (lines: string[]) => lines.some((line) => line.startsWith("JIT:"));

describe("JIT compilation", () => {
  it("this server compiles an expensive statement (so the checks below can fail)", async () => {
    const client = await db.pool.connect();
    try {
      expect((await client.query("select pg_jit_available() as on")).rows[0].on).toBe(true);
      expect(jitted(await plan(client, `select count(*) from ${schema}.jobs a cross join ${schema}.jobs b`, []))).toBe(true);
    } finally {
      client.release();
    }
  });

  it(`the plain claim stays under jit_above_cost with ${BACKLOG.toLocaleString("en")} ready jobs`, async () => {
    const client = await db.pool.connect();
    try {
      const lines = await plan(client, fetchJobsSql(schema), ["w", 30_000, ["plain"], [500], 500, [], [], `${schema}.jobs`]);
      expect(jitted(lines)).toBe(false);
    } finally {
      client.release();
    }
  });

  it("the limited claims are never compiled, whatever their estimate (jit_above_cost 0)", async () => {
    const client = await db.pool.connect();
    try {
      for (const [queue, sql] of [
        ["limited", claimLimitedSql(limitedSchema)],
        ["keyed", claimLimitedPerKeySql(limitedSchema)],
      ] as const) {
        // Every statement with a cost is compiled at this setting, unless JIT is off.
        const lines = await plan(client, sql, ["w", 30_000, queue, 50], async (c) => {
          await c.query("set local jit_above_cost = 0");
          await c.query(lockQueuePoliciesSql(limitedSchema), [[queue]]);
        });
        expect(jitted(lines), queue).toBe(false);
      }
    } finally {
      client.release();
    }
  });
});

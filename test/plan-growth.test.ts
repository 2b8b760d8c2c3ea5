// A worker's prepared claim keeps the plan PostgreSQL made for it until the table is analyzed,
// and a plan made while the jobs table was small reads all of it (a sequential scan is the
// cheapest way through a few pages). A worker that started on a new, empty table must not go on
// reading the whole table once it has grown: its statements follow the table's size class
// (db/statement-names.ts), so the claim it sends now was planned against the table as it is.
// Checked from the statements prepared on the worker's one connection and the server's plan for
// the one in use.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMigrations, Sidetrack } from "../runtime/index.js";
import { sleep } from "../runtime/worker/backoff.js";
import { StatementNames, TABLE_CLASS_BASE_BYTES, TABLE_CLASS_TOP_BYTES } from "../runtime/db/statement-names.js";
import { createTestDatabase, quiet, type TestDatabase } from "./support/database.js";

const schema = "grown";
let db: TestDatabase;
/** The worker's only connection, so every statement it prepares is prepared there. */
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase("plan_growth");
  await runMigrations({ pool: db.pool, schema });
  pool = quiet(new pg.Pool({ connectionString: db.url, max: 1 }));
  pool.on("connect", (client) => void quiet(client));
}, 60_000);
afterAll(async () => {
  await pool?.end();
});

async function fetchStatements(like = "sidetrack_fetch_%"): Promise<string[]> {
  const { rows } = await pool.query<{ name: string }>("select name from pg_prepared_statements where name like $1 order by prepare_time", [like]);
  return rows.map((r) => r.name);
}

async function planOf(statement: string, args: string): Promise<string> {
  const { rows } = await pool.query(`explain execute ${statement}(${args})`);
  return rows.map((r: { "QUERY PLAN": string }) => r["QUERY PLAN"]).join("\n");
}

async function genericPlans(): Promise<number> {
  const { rows } = await pool.query<{ n: string }>("select coalesce(sum(generic_plans), 0)::text as n from pg_prepared_statements where name like 'sidetrack_fetch_%'");
  return Number(rows[0]!.n);
}

describe("a worker started on a small jobs table", () => {
  it("plans its claim again once the table has grown, and no longer reads the whole table", async () => {
    const worker = new Sidetrack<{ work: Record<string, never> }>({
      databaseOptions: { pool },
      schema,
      concurrency: 5,
      listen: false,
      pollInterval: 50,
      handleSignals: false,
      retention: false,
      queues: { work: { handler: () => undefined } },
    });
    await worker.start();
    try {
      // Claims of an empty queue, one per poll, until PostgreSQL keeps a generic plan for the
      // claim (after five executions), made while the table had no rows.
      const planned = Date.now() + 10_000;
      while ((await genericPlans()) === 0 && Date.now() < planned) await sleep(50);
      const first = await fetchStatements();
      expect(first).toHaveLength(1);
      expect(await genericPlans()).toBeGreaterThan(0);
      // 40,000 jobs due tomorrow: the table grows to several MB; the claims find nothing to run.
      await db.pool.query(
        `insert into ${schema}.jobs (queue, payload, run_at) select 'work', '{}', now() + interval '1 day' from generate_series(1, 40000)`,
      );
      const deadline = Date.now() + 10_000;
      let names = first;
      while (names.length === 1 && Date.now() < deadline) {
        await sleep(50);
        names = await fetchStatements();
      }
      expect(names.length, `statements prepared: ${names.join(", ")}`).toBeGreaterThan(1);
      expect(names[0]).toBe(first[0]);
    } finally {
      await worker.stop({ grace: 0 });
    }
    const names = await fetchStatements();
    const now = names.at(-1)!;
    // Explained six times, so the last is the generic plan the statement keeps.
    let plan = "";
    for (let i = 0; i < 6; i++) {
      const { rows } = await pool.query(`explain execute ${now}('w', 30000, '{work}', '{5}', 5, '{}', '{}', '${schema}.jobs')`);
      plan = rows.map((r: { "QUERY PLAN": string }) => r["QUERY PLAN"]).join("\n");
    }
    expect(plan, plan).not.toMatch(/Seq Scan on jobs/);
    expect(plan, plan).toContain("jobs_fetch_idx");
    expect(plan, plan).toContain("Tid Scan on jobs");
    expect(plan, plan).toContain("jobs_pkey");
    // The statement first prepared, planned on the empty table, is what the worker would still be using.
    const { rows: old } = await pool.query(`explain execute ${names[0]}('w', 30000, '{work}', '{5}', 5, '{}', '{}', '${schema}.jobs')`);
    expect(old.map((r: { "QUERY PLAN": string }) => r["QUERY PLAN"]).join("\n")).toMatch(/Seq Scan on jobs/);
  }, 60_000);
});

describe("keyed inserts into a small jobs table", () => {
  it("are planned again once the table has grown, and no longer read the whole table", async () => {
    const keyedSchema = "grown_keys";
    await runMigrations({ pool: db.pool, schema: keyedSchema });
    const inserter = new Sidetrack<{ work: { n: number } }>({ databaseOptions: { pool }, schema: keyedSchema, queues: { work: {} } });
    // Six keyed inserts on the empty table: the sixth runs the generic plan PostgreSQL keeps.
    for (let n = 0; n < 6; n++) await inserter.insertJob("work", { n }, { uniqueKey: `k${n}`, uniqueFor: "1h" });
    const before = await fetchStatements("sidetrack_insert_%");
    expect(before.filter((name) => !name.startsWith("sidetrack_insert_plain"))).toHaveLength(1);
    await db.pool.query(
      `insert into ${keyedSchema}.jobs (queue, payload, unique_key, unique_until, status, finalized_at) select 'work', '{}', 'old' || i, now() + interval '1 hour', 'completed', now() from generate_series(1, 40000) i`,
    );
    // The first keyed insert after the growth reads the size; the next takes the new name.
    await inserter.insertJob("work", { n: 6 }, { uniqueKey: "k6", uniqueFor: "1h" });
    const duplicate = await inserter.insertJob("work", { n: 7 }, { uniqueKey: "old7", uniqueFor: "1h" });
    expect(duplicate.duplicate).toBe(true);
    const keyed = (await fetchStatements("sidetrack_insert_%")).filter((name) => !name.startsWith("sidetrack_insert_plain"));
    expect(keyed, keyed.join(", ")).toHaveLength(2);
    const args = `'[{"i":0,"queue":"work","payload":{},"priority":0,"max_attempts":3,"unique_key":"k9","unique_for_ms":1000,"on_duplicate":"keep"}]', 'ch', '[]', '${keyedSchema}.jobs'`;
    let plan = "";
    for (let i = 0; i < 6; i++) plan = await planOf(keyed[1]!, args);
    expect(plan, plan).not.toMatch(/Seq Scan on jobs/);
    expect(await planOf(keyed[0]!, args)).toMatch(/Seq Scan on jobs/);
  }, 60_000);
});

describe("statement names", () => {
  it("move up one class per doubling of the table up to the top class, and never down", () => {
    const names = new StatementNames("s", true);
    expect(names.of("fetch")).toBe("sidetrack_fetch_0_s");
    names.observeTableBytes(TABLE_CLASS_BASE_BYTES - 1);
    expect(names.of("fetch")).toBe("sidetrack_fetch_0_s");
    names.observeTableBytes(TABLE_CLASS_BASE_BYTES);
    expect(names.of("fetch")).toBe("sidetrack_fetch_1_s");
    names.observeTableBytes(TABLE_CLASS_BASE_BYTES * 4);
    expect(names.of("complete")).toBe("sidetrack_complete_3_s");
    names.observeTableBytes(0);
    expect(names.of("complete")).toBe("sidetrack_complete_3_s");
    names.observeTableBytes(TABLE_CLASS_TOP_BYTES);
    const top = names.of("fetch");
    names.observeTableBytes(1e12);
    expect(names.of("fetch")).toBe(top);
    expect(top).toBe("sidetrack_fetch_7_s");
    expect(new StatementNames("s", false).of("fetch")).toBeUndefined();
  });
});

// Foundation figures: migrate time (fresh and up to date) and a 10,000-job insertJobs. Run: npx tsx bench/migrate-and-insert.ts
// Uses DATABASE_URL or the local postgres database.
import pg from "pg";
import { runMigrations, Sidetrack } from "../runtime/index.js";
const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
for (let k = 0; k < 3; k++) {
  const c = new pg.Client(url); await c.connect(); await c.query("drop schema if exists mtime cascade"); await c.end();
  let t = performance.now();
  await runMigrations({ connectionString: url, schema: "mtime" });
  const fresh = performance.now() - t;
  t = performance.now();
  await runMigrations({ connectionString: url, schema: "mtime" });
  const noop = performance.now() - t;
  const s = new Sidetrack<{ q: { i: number } }>({ databaseUrl: url, schema: "mtime", queues: { q: {} } });
  await s.insertJob("q", { i: -1 });
  t = performance.now();
  await s.insertJobs("q", Array.from({ length: 10_000 }, (_, i) => ({ i })));
  const bulk = performance.now() - t;
  await s.close();
  console.log(`migrate fresh ${fresh.toFixed(0)} ms, up-to-date ${noop.toFixed(0)} ms, 10,000-job insertJobs ${bulk.toFixed(0)} ms`);
}

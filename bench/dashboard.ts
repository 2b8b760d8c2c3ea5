// `npx tsx bench/dashboard.ts [--jobs=1000000]`: the dashboard's latency on a big jobs table (a
// bench, not a test). Fills a fresh database with a realistic mix (mostly finished jobs over the
// past days, a few thousand live ones), then times the overview and the first jobs pages through
// the real HTTP handler and prints median and p95 per page.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import pg from "pg";
import { createDashboard } from "../dashboard/index.js";
import { runMigrations } from "../runtime/index.js";
import { exitOnEmbeddedError, startEmbeddedPostgres } from "../scripts/embedded-postgres.js";

const JOBS = Number(process.argv.find((a) => a.startsWith("--jobs="))?.slice(7) ?? 1_000_000);
const SAMPLES = 30;
const DATABASE = "sidetrack_bench_dashboard";

const embedded = process.env.DATABASE_URL ? undefined : await startEmbeddedPostgres().catch(exitOnEmbeddedError);
const adminUrl = process.env.DATABASE_URL ?? embedded!.url;
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`drop database if exists ${DATABASE} with (force)`);
await admin.query(`create database ${DATABASE}`);
await admin.end();
const url = new URL(adminUrl);
url.pathname = `/${DATABASE}`;
const pool = new pg.Pool({ connectionString: url.toString(), max: 4 });

try {
  await runMigrations({ pool });
  console.error(`filling ${JOBS.toLocaleString("en-US")} jobs …`);
  const started = Date.now();
  // 99 % finished over the last three days (completed, 2 % failed, 1 % cancelled); the newest 1 %
  // live (scheduled and retrying), as in a table whose old jobs have all run.
  await pool.query(
    `insert into sidetrack.jobs (queue, payload, status, attempt, run_at, inserted_at, finalized_at, errors)
     select 'queue_' || (g % 8), jsonb_build_object('user', g, 'email', 'user' || g || '@example.com'),
       s.status, 1, t, t, case when s.status in ('completed', 'failed', 'cancelled') then t end,
       case when s.status = 'failed' then '[{"attempt":1,"message":"boom","stack":"Error: boom","at":"2026-01-01T00:00:00Z"}]'::jsonb else '[]'::jsonb end
     from generate_series(1, $1::int) g
     cross join lateral (select now() - ($1::int - g) * interval '250 milliseconds' as t) tt
     cross join lateral (select case when g > $1::int * 0.99 then (case when g % 3 = 0 then 'retrying' else 'scheduled' end)
       when g % 50 = 1 then 'failed' when g % 97 = 2 then 'cancelled' else 'completed' end as status) s`,
    [JOBS],
  );
  await pool.query("vacuum analyze sidetrack.jobs");
  console.error(`filled in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const dashboard = createDashboard({ pool });
  const server = createServer(dashboard);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const pages = ["/", "/api/overview", "/jobs", "/jobs?state=failed", "/jobs?queue=queue_3&state=scheduled", "/jobs?sort=run_at", "/jobs?q=user12345%40"];
  const rows: string[] = [];
  for (const page of pages) {
    await fetch(`${base}${page}`).then((r) => r.text()); // warm the plan cache and the buffers
    const times: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const t = performance.now();
      const r = await fetch(`${base}${page}`);
      await r.text();
      if (!r.ok) throw new Error(`${page}: HTTP ${r.status}`);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    const p = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(1);
    rows.push(`| \`${page}\` | ${p(0.5)} | ${p(0.95)} |`);
  }
  server.closeAllConnections();
  server.close();
  console.log(`Dashboard on ${JOBS.toLocaleString("en-US")} jobs (${SAMPLES} requests each, ms):\n\n| page | median | p95 |\n| --- | ---: | ---: |\n${rows.join("\n")}`);
} finally {
  await pool.end();
  await embedded?.stop();
}

// The dashboard's JSON API on its own (no browser): reads, keyset pages, CSRF, read-only and
// "read" users, bulk actions in batches, cron actions, the optional workers and queues tables,
// estimated counts on a big table, no secret in any response, and the CLI command.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDashboard, type DashboardOptions } from "../../dashboard/index.js";
import { upsertSchedule } from "../../runtime/cron/schedules.js";
import { usePg, runMigrations } from "../../runtime/index.js";
import { startCli, waitFor } from "../cli/run-cli.js";
import { createTestDatabase, withDatabase, type TestDatabase } from "../support/database.js";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { browserAvailable, serve, type Served } from "./browser.js";

let db: TestDatabase;
const servers: Served[] = [];

beforeAll(async () => {
  db = await createTestDatabase("dashboard_api");
  await runMigrations({ pool: db.pool });
});
afterAll(async () => {
  for (const s of servers) await s.close();
});

async function start(options: Partial<DashboardOptions> = {}): Promise<Served> {
  const s = await serve(createDashboard({ pool: db.pool, ...options }));
  servers.push(s);
  return s;
}

/** A client that keeps the CSRF cookie and sends the token, as the page's script does. */
async function session(site: Served): Promise<{ get(path: string): Promise<Response>; post(path: string, body?: unknown, token?: string | null): Promise<Response> }> {
  const first = await fetch(`${site.url}/`);
  const cookie = (first.headers.get("set-cookie") ?? "").split(";")[0]!;
  const token = cookie.split("=")[1]!;
  return {
    get: (path) => fetch(`${site.url}${path}`, { headers: { cookie } }),
    post: (path, body = {}, sent = token) =>
      fetch(`${site.url}${path}`, {
        method: "POST",
        headers: { cookie, "content-type": "application/json", ...(sent === null ? {} : { "x-sidetrack-csrf": sent }) },
        body: JSON.stringify(body),
      }),
  };
}

async function insert(queue: string, status: string, payload: unknown, extra = ""): Promise<string> {
  const { rows } = await db.pool.query<{ id: string }>(
    `insert into sidetrack.jobs (queue, payload, status, finalized_at, run_at) values ($1, $2, $3,
       case when $3 in ('completed', 'failed', 'cancelled') then now() end, now() + $4::interval) returning id::text as id`,
    [queue, JSON.stringify(payload), status, extra || "0 seconds"],
  );
  return rows[0]!.id;
}

type Session = Awaited<ReturnType<typeof session>>;

/** An action on every job matching the filter, batch after batch as the page's script runs it; the steps' answers. */
async function everyMatching(s: Session, action: string, filter: Record<string, string>): Promise<{ processed: number; changed: number; after: string; done: boolean }[]> {
  const steps = [];
  let after = "0";
  for (;;) {
    const step = await (await s.post("/api/jobs/bulk", { action, filter, after })).json();
    steps.push(step);
    after = step.after;
    if (step.done) return steps;
  }
}

async function tagJobs(ids: readonly string[], tags: readonly string[]): Promise<void> {
  await db.pool.query("update sidetrack.jobs set tags = $2::text[] where id = any($1::bigint[])", [ids, tags]);
}

describe("JSON API", () => {
  it("overview: counts per queue and state, exact on a small table, throughput per minute", async () => {
    await insert("api_a", "scheduled", { n: 1 });
    await insert("api_a", "scheduled", { n: 2 }, "1 day");
    await insert("api_a", "failed", { n: 3 });
    await insert("api_a", "completed", { n: 4 });
    const site = await start();
    const r = await fetch(`${site.url}/api/overview`);
    expect(r.headers.get("content-type")).toContain("application/json");
    const body = await r.json();
    expect(body.finishedCountsExact).toBe(true);
    expect(body.queues.find((q: { queue: string }) => q.queue === "api_a")).toMatchObject({
      scheduledReady: 1,
      scheduledFuture: 1,
      failed: 1,
      completed: 1,
      cancelled: 0,
    });
    expect(body.throughput.reduce((n: number, t: { completed: number }) => n + t.completed, 0)).toBeGreaterThanOrEqual(1);
    expect(body.pausable).toBe(true); // migration 0004 made the queues table part of every schema
  });

  it("jobs: filters by queue, state, payload text and id; keyset pages by id and by run_at cover every job once", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 120; i++) ids.push(await insert("api_pages", "scheduled", { i, tag: i % 2 ? "odd" : "even" }, `${120 - i} minutes`));
    const site = await start();
    const collect = async (sort: string) => {
      const seen: string[] = [];
      let cursor: string | null = "";
      while (cursor !== null) {
        const page: { jobs: { id: string }[]; next: string | null } = await (await fetch(`${site.url}/api/jobs?queue=api_pages&sort=${sort}&cursor=${cursor}`)).json();
        seen.push(...page.jobs.map((j) => j.id));
        cursor = page.next;
      }
      return seen;
    };
    expect(await collect("id")).toEqual([...ids].reverse());
    // run_at was set decreasing with the id: earliest first is the reverse of insertion.
    expect(await collect("run_at")).toEqual([...ids].reverse());
    const odd = await (await fetch(`${site.url}/api/jobs?queue=api_pages&q=odd`)).json();
    expect(odd.matching).toEqual({ count: 60, capped: false });
    // q is also a job id: it finds the job whose payload does not contain it.
    const lone = await insert("api_by_id", "scheduled", { k: "v" });
    await insert("api_by_id", "scheduled", { k: "w" });
    const byId = await (await fetch(`${site.url}/api/jobs?queue=api_by_id&q=${lone}`)).json();
    expect(byId.jobs.map((j: { id: string }) => j.id)).toEqual([lone]);
    const bad = await fetch(`${site.url}/api/jobs?state=bogus`);
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toContain("filter.status");
  });

  it("jobs: filters by tag through the tags column, with the other filters and the match count", async () => {
    const tagged = await insert("api_tags", "scheduled", { n: 1 });
    await insert("api_tags", "scheduled", { n: 2 });
    const failedTagged = await insert("api_tags", "failed", { n: 3 });
    await tagJobs([tagged, failedTagged], ["vip", "eu"]);
    const site = await start();
    const vip = await (await fetch(`${site.url}/api/jobs?queue=api_tags&tag=vip`)).json();
    expect(vip.jobs.map((j: { id: string }) => j.id).sort()).toEqual([tagged, failedTagged].sort());
    expect(vip.matching).toEqual({ count: 2, capped: false });
    const failedVip = await (await fetch(`${site.url}/api/jobs?queue=api_tags&tag=vip&state=failed`)).json();
    expect(failedVip.jobs.map((j: { id: string }) => j.id)).toEqual([failedTagged]);
    expect((await (await fetch(`${site.url}/api/jobs?queue=api_tags&tag=none`)).json()).jobs).toEqual([]);
    expect(vip.filter).toEqual({ queue: "api_tags", tag: "vip" });
    const page = await (await fetch(`${site.url}/jobs?queue=api_tags&tag=vip`)).text();
    expect(page).toContain('name="tag" value="vip"');
  });

  it("jobs: the payload text and the tag reach the database as plain text, array syntax and the word NULL included", async () => {
    const odd = { w: "NULL x,}{y" };
    const tagged = await insert("api_tag_text", "scheduled", odd);
    await insert("api_tag_text", "scheduled", odd);
    await tagJobs([tagged], ['a,"b"}', "NULL"]);
    const site = await start();
    const ids = async (query: Record<string, string>) =>
      ((await (await fetch(`${site.url}/api/jobs?${new URLSearchParams({ queue: "api_tag_text", ...query })}`)).json()).jobs as { id: string }[]).map((j) => j.id);
    expect(await ids({ q: "NULL x,}{y", tag: "NULL" })).toEqual([tagged]);
    expect(await ids({ tag: 'a,"b"}' })).toEqual([tagged]);
    expect(await ids({ tag: "a" })).toEqual([]);
  });

  it("the jobs page keeps the tag in its pages, its selection form and its filter-wide actions, escaped", async () => {
    await db.pool.query(
      `insert into sidetrack.jobs (queue, payload, status, tags)
       select 'api_tag_pages', jsonb_build_object('i', i), 'scheduled', case when i % 3 = 0 then null else array['page'] end
       from generate_series(1, 120) i`,
    );
    const site = await start();
    const s = await session(site);
    const seen: string[] = [];
    let path: string | undefined = "/jobs?queue=api_tag_pages&tag=page";
    while (path) {
      const html = await (await s.get(path)).text();
      expect(html).toContain('name="tag" value="page"');
      const filter = /data-filter="([^"]*)"/.exec(html)![1]!.replaceAll("&quot;", '"');
      expect(JSON.parse(filter)).toEqual({ queue: "api_tag_pages", tag: "page" });
      expect(/name="back" value="([^"]*)"/.exec(html)![1]).toContain("tag=page");
      seen.push(...[...html.matchAll(/<tr data-job="(\d+)">/g)].map((m) => m[1]!));
      path = /href="([^"]*)" rel="next"/.exec(html)?.[1]?.replaceAll("&amp;", "&");
      if (path) expect(path).toContain("tag=page");
    }
    const { rows } = await db.pool.query<{ id: string }>(
      "select id::text as id from sidetrack.jobs where queue = 'api_tag_pages' and tags @> array['page'] order by id desc",
    );
    expect(seen).toEqual(rows.map((r) => r.id));
    expect(seen).toHaveLength(80);
    const hostile = await (await s.get(`/jobs?tag=${encodeURIComponent('"><script>alert(1)</script>')}`)).text();
    expect(hostile).not.toContain("<script>alert(1)");
    expect(hostile).toContain('name="tag" value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
  });

  it("one job: the job, its cron tick among the extra columns; 404 for an unknown id", async () => {
    const id = await insert("api_one", "scheduled", { x: 1 });
    await db.pool.query("update sidetrack.jobs set cron_schedule_id = 42, cron_tick = '2026-01-01T00:00:00Z' where id = $1", [id]);
    const site = await start();
    const body = await (await fetch(`${site.url}/api/jobs/${id}`)).json();
    expect(body.job).toMatchObject({ id, queue: "api_one", payload: { x: 1 } });
    expect(body.extra).toMatchObject({ cron_schedule_id: 42, cron_tick: "2026-01-01T00:00:00+00:00" });
    expect((await fetch(`${site.url}/api/jobs/999999999`)).status).toBe(404);
    const html = await (await fetch(`${site.url}/jobs/${id}`)).text();
    expect(html).toContain('datetime="2026-01-01T00:00:00.000Z"');
  });

  it("actions need the CSRF token; retry, cancel and delete one job", async () => {
    const failed = await insert("api_act", "failed", {});
    const site = await start();
    const s = await session(site);
    expect((await s.post(`/api/jobs/${failed}/retry`, {}, null)).status).toBe(403);
    expect((await s.post(`/api/jobs/${failed}/retry`, {}, "x".repeat(32))).status).toBe(403);
    // The token without the cookie (what another site could send) is refused too.
    const noCookie = await fetch(`${site.url}/api/jobs/${failed}/retry`, { method: "POST", headers: { "x-sidetrack-csrf": "a".repeat(32), "content-type": "application/json" }, body: "{}" });
    expect(noCookie.status).toBe(403);
    expect(await (await s.post(`/api/jobs/${failed}/retry`)).json()).toEqual({ processed: 1, changed: 1 });
    expect(await (await s.post(`/api/jobs/${failed}/cancel`)).json()).toEqual({ processed: 1, changed: 1 });
    expect(await (await s.post(`/api/jobs/${failed}/cancel`)).json()).toEqual({ processed: 1, changed: 0 });
    expect(await (await s.post(`/api/jobs/${failed}/delete`)).json()).toEqual({ processed: 1, changed: 1 });
    expect((await db.pool.query("select 1 from sidetrack.jobs where id = $1", [failed])).rowCount).toBe(0);
  });

  it("a selection, and every job matching a filter in batches", async () => {
    const ids = [];
    for (let i = 0; i < 450; i++) ids.push(await insert("api_bulk", "failed", { i }));
    const keep = await insert("api_bulk", "scheduled", {});
    const site = await start();
    const s = await session(site);
    expect(await (await s.post("/api/jobs/actions", { action: "delete", ids: ids.slice(0, 3) })).json()).toEqual({ processed: 3, changed: 3 });
    const steps = await everyMatching(s, "retry", { queue: "api_bulk", status: "failed" });
    expect(steps.map((st) => st.processed)).toEqual([200, 200, 47]);
    expect(steps.reduce((n, st) => n + st.changed, 0)).toBe(447);
    const { rows } = await db.pool.query("select status, count(*)::int as n from sidetrack.jobs where queue = 'api_bulk' group by status order by status");
    expect(rows).toEqual([{ status: "scheduled", n: 448 }]);
    expect((await s.post("/api/jobs/bulk", { action: "explode", filter: {} })).status).toBe(400);
    void keep;
  });

  it("an action on every job matching a tag leaves the jobs of another tag alone", async () => {
    const red: string[] = [];
    const blue: string[] = [];
    for (let i = 0; i < 210; i++) red.push(await insert("api_bulk_tags", "scheduled", { i }));
    for (let i = 0; i < 5; i++) blue.push(await insert("api_bulk_tags", "scheduled", { i }));
    const both = await insert("api_bulk_tags", "scheduled", {});
    const untagged = await insert("api_bulk_tags", "scheduled", {});
    await tagJobs(red, ["red"]);
    await tagJobs(blue, ["blue"]);
    await tagJobs([both], ["blue", "red"]);
    const s = await session(await start());
    const steps = await everyMatching(s, "cancel", { queue: "api_bulk_tags", tag: "red" });
    expect(steps.map((st) => st.processed)).toEqual([200, 11]);
    expect(steps.reduce((n, st) => n + st.changed, 0)).toBe(211);
    const { rows } = await db.pool.query<{ id: string; status: string }>(
      "select id::text as id, status from sidetrack.jobs where queue = 'api_bulk_tags' order by id",
    );
    const status = new Map(rows.map((r) => [r.id, r.status]));
    expect([...red, both].every((id) => status.get(id) === "cancelled")).toBe(true);
    expect([...blue, untagged].map((id) => status.get(id))).toEqual(Array(6).fill("scheduled"));
    const bad = await s.post("/api/jobs/bulk", { action: "cancel", filter: { tag: ["red"] } });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toContain("filter.tag");
  });

  it("read-only and a 'read' user see everything and change nothing; a refused user sees nothing", async () => {
    const id = await insert("api_ro", "failed", {});
    for (const options of [{ readOnly: true }, { authorize: () => "read" as const }]) {
      const site = await start(options);
      const s = await session(site);
      expect((await s.get("/api/overview")).status).toBe(200);
      const html = await (await s.get(`/jobs/${id}`)).text();
      expect(html).not.toContain('method="post"');
      const r = await s.post(`/api/jobs/${id}/retry`);
      expect(r.status).toBe(403);
    }
    const refused = await start({ authorize: () => false });
    expect((await fetch(`${refused.url}/api/overview`)).status).toBe(403);
    expect((await fetch(`${refused.url}/`)).status).toBe(403);
    expect((await db.pool.query("select status from sidetrack.jobs where id = $1", [id])).rows[0].status).toBe("failed");
  });

  it("cron: lists schedules, deactivates, activates and runs one now", async () => {
    const schedule = await upsertSchedule(usePg(db.pool), "sidetrack", {
      queue: "api_cron",
      expression: "0 3 * * *",
      timezone: "UTC",
      payload: { nightly: true },
      runMissed: false,
    } as Parameters<typeof upsertSchedule>[2]);
    const site = await start();
    const s = await session(site);
    const list = await (await s.get("/api/cron")).json();
    expect(list.schedules.map((c: { id: string }) => c.id)).toContain(schedule.id);
    expect((await s.post(`/api/cron/${schedule.id}/deactivate`)).status).toBe(200);
    expect((await db.pool.query("select active from sidetrack.cron_schedules where id = $1", [schedule.id])).rows[0].active).toBe(false);
    expect((await s.post(`/api/cron/${schedule.id}/activate`)).status).toBe(200);
    expect((await db.pool.query("select active from sidetrack.cron_schedules where id = $1", [schedule.id])).rows[0].active).toBe(true);
    expect(await (await s.post(`/api/cron/${schedule.id}/run`)).json()).toMatchObject({ ok: true });
    expect((await db.pool.query("select payload from sidetrack.jobs where queue = 'api_cron'")).rows).toEqual([{ payload: { nightly: true } }]);
  });

  it("shows the worker registry and paused queues, and pauses and resumes a queue (CSRF-checked)", async () => {
    const schema = "dash_opt";
    await runMigrations({ pool: db.pool, schema });
    const site = await start({ schema });
    expect(await (await fetch(`${site.url}/api/workers`)).json()).toEqual({ registry: true, workers: [] });
    await db.pool.query(`insert into ${schema}.workers (id, host, pid, queues, concurrency, version) values ('w-1', 'box<b>', 4242, '{mail}', 8, '0.1.0')`);
    const workers = await (await fetch(`${site.url}/api/workers`)).json();
    expect(workers.registry).toBe(true);
    expect(workers.workers[0]).toMatchObject({ id: "w-1", host: "box<b>", pid: 4242, concurrency: 8 });
    const page = await (await fetch(`${site.url}/workers`)).text();
    expect(page).toContain("box&lt;b&gt;");
    expect(page).toContain("4242");

    await db.pool.query(`insert into ${schema}.jobs (queue, payload) values ('mail', '{}')`);
    const client = await session(site);
    expect((await client.post("/api/queues/mail/pause", {}, null)).status).toBe(403);
    expect(await (await client.post("/api/queues/mail/pause")).json()).toEqual({ ok: true, queue: "mail", paused: true });
    const overview = await (await fetch(`${site.url}/api/overview`)).json();
    expect(overview.pausable).toBe(true);
    expect(overview.queues[0]).toMatchObject({ queue: "mail", paused: true });
    const { rows } = await db.pool.query<{ paused: boolean }>(`select paused from ${schema}.queues where name = 'mail'`);
    expect(rows).toEqual([{ paused: true }]);
    expect(await (await client.post("/api/queues/mail/resume")).json()).toEqual({ ok: true, queue: "mail", paused: false });
    expect((await db.pool.query(`select paused from ${schema}.queues where name = 'mail'`)).rows).toEqual([{ paused: false }]);
    const readOnly = await start({ schema, readOnly: true });
    expect((await (await session(readOnly)).post("/api/queues/mail/pause")).status).toBe(403);
  });

  it("past the threshold, finished counts are estimates and the page says so", async () => {
    const schema = "dash_big";
    await runMigrations({ pool: db.pool, schema });
    await db.pool.query(`insert into ${schema}.jobs (queue, payload, status, finalized_at)
      select 'big', '{}', 'completed', now() - interval '2 hours' from generate_series(1, 210000)`);
    await db.pool.query(`insert into ${schema}.jobs (queue, payload) values ('big', '{}')`);
    await db.pool.query(`analyze ${schema}.jobs`);
    const site = await start({ schema });
    const body = await (await fetch(`${site.url}/api/overview`)).json();
    expect(body.finishedCountsExact).toBe(false);
    expect(body.estimatedRows).toBeGreaterThan(200_000);
    const big = body.queues.find((q: { queue: string }) => q.queue === "big");
    expect(big.scheduledReady).toBe(1); // live counts stay exact
    expect(big.completed).toBeGreaterThan(0);
    expect(big.completed % 100).toBe(0); // scaled from the 1 % sample
    const html = await (await fetch(`${site.url}/`)).text();
    expect(html).toContain("estimates from a 1 % sample");
    expect(html).toMatch(/>~[\d,]+</);
  });

  it("no connection string or password in any page, any JSON answer or an error", async () => {
    const secret = "Sekr3tPassw0rdXyz";
    const url = new URL(db.url);
    url.password = secret;
    const own = createDashboard({ connectionString: url.toString() });
    const site = await serve(own);
    servers.push(site);
    const broken = createDashboard({ connectionString: withDatabase(url.toString(), "no_such_database_xyz") });
    const brokenSite = await serve(broken);
    servers.push(brokenSite);
    try {
      for (const path of ["/", "/queues", "/jobs", "/cron", "/workers", "/api/overview", "/api/jobs", "/api/cron", "/api/workers", "/jobs/1", "/nope"]) {
        for (const s of [site, brokenSite]) {
          const text = await (await fetch(`${s.url}${path}`)).text();
          expect(text, path).not.toContain(secret);
          expect(text, path).not.toContain(url.host);
          expect(text, path).not.toContain("postgres://");
        }
      }
      expect((await fetch(`${brokenSite.url}/api/overview`)).status).toBe(500);
    } finally {
      await own.close();
      await broken.close();
    }
  });

  it("pages send a strict content security policy; a partial request gets the page body only", async () => {
    const site = await start();
    const r = await fetch(`${site.url}/jobs`);
    expect(r.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(r.headers.get("content-security-policy")).toContain("default-src 'none'");
    const partial = await (await fetch(`${site.url}/jobs`, { headers: { "x-sidetrack-partial": "1" } })).text();
    expect(partial.startsWith("<h1>Jobs</h1>")).toBe(true);
  });
});

describe("sidetrack dashboard (CLI)", () => {
  it("binds 127.0.0.1 by default and asks for basic auth when given one", async () => {
    const cli = startCli(["dashboard", "--port", "0", "--read-only"], { databaseUrl: db.url, env: { SIDETRACK_DASHBOARD_AUTH: "ops:pa55word" } });
    try {
      await waitFor(cli, () => cli.stdout().includes("sidetrack dashboard on"), "the dashboard listened");
      const m = /on http:\/\/127\.0\.0\.1:(\d+)\/ · schema "sidetrack" · read-only · basic auth/.exec(cli.stdout());
      expect(m, cli.stdout()).not.toBeNull();
      const base = `http://127.0.0.1:${m![1]}`;
      const anonymous = await fetch(`${base}/`);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get("www-authenticate")).toContain("Basic");
      expect((await fetch(`${base}/`, { headers: { authorization: `Basic ${Buffer.from("ops:wrong").toString("base64")}` } })).status).toBe(401);
      const ok = await fetch(`${base}/api/overview`, { headers: { authorization: `Basic ${Buffer.from("ops:pa55word").toString("base64")}` } });
      expect(ok.status).toBe(200);
      expect(cli.stdout() + cli.stderr()).not.toContain("pa55word");
    } finally {
      cli.child.kill("SIGTERM");
      await cli.exited;
    }
  });

  it("refuses a malformed --basic-auth", async () => {
    const cli = startCli(["dashboard", "--basic-auth", "nocolon"], { databaseUrl: db.url });
    const r = await cli.exited;
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--basic-auth must be user:password");
  });
});

describe("the browser suite without Chromium", () => {
  it("fails under CI and is skipped elsewhere", () => {
    expect(() => browserAvailable("/no/such/chromium", { CI: "true" })).toThrow(/is missing: .ci\/run installs the chromium package/);
    expect(browserAvailable("/no/such/chromium", {})).toBe(false);
  });
});

describe("/metrics", () => {
  it("serves Prometheus text with the job gauges read from the database, under the page's authorization", async () => {
    await insert("metrics_q", "scheduled", { n: 1 }, "-1 hour");
    await insert("metrics_q", "scheduled", { n: 2 });
    const site = await start();
    const response = await fetch(`${site.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const families = parsePrometheusTextFormat(await response.text()) as { name: string; metrics: { labels?: Record<string, string>; value?: string }[] }[];
    const jobs = families.find((f) => f.name === "sidetrack_jobs")!.metrics.filter((m) => m.labels!.queue === "metrics_q");
    expect(jobs.map((m) => [m.labels!.state, Number(m.value)])).toEqual([["scheduled", 2]]);
    const oldest = families.find((f) => f.name === "sidetrack_queue_oldest_ready_age_seconds")!.metrics.find((m) => m.labels!.queue === "metrics_q");
    expect(Number(oldest!.value)).toBeGreaterThanOrEqual(3600);
    const refused = await start({ authorize: () => false });
    expect((await fetch(`${refused.url}/metrics`)).status).toBe(403);
  });
});

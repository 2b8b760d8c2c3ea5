// The dashboard end to end in Chromium: counts on the overview, finding a failed job and retrying
// it under a running worker, a bulk cancel of every job matching a filter (a tag's filter too),
// read-only mode, and a hostile corpus that must render as inert text.
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDashboard, type DashboardHandler } from "../../dashboard/index.js";
import { runMigrations, Sidetrack } from "../../runtime/index.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { browserAvailable, launchBrowser, screenshot, serve, type Browser, type Served } from "./browser.js";

const run = browserAvailable();

describe.runIf(run)("dashboard in a real browser", () => {
  let db: TestDatabase;
  let browser: Browser;
  let dashboard: DashboardHandler;
  let site: Served;
  let sidetrack: Sidetrack<{ mail: { to: string }; report: { day: number }; bulk: { n: number } }>;
  let broken = true;
  const later = new Date(Date.now() + 86_400_000);

  beforeAll(async () => {
    db = await createTestDatabase("dashboard_e2e");
    await runMigrations({ pool: db.pool });
    sidetrack = new Sidetrack({
      databaseOptions: { connectionString: db.url, max: 3 },
      handleSignals: false,
      pollInterval: 50,
      queues: {
        mail: {
          maxAttempts: 1,
          handler: () => {
            if (broken) throw new Error("smtp down: connection refused");
          },
        },
        report: {},
        bulk: {},
      },
    });
    dashboard = createDashboard({ pool: db.pool });
    site = await serve(dashboard);
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await site?.close();
    await sidetrack?.stop({ grace: 0 });
  });

  async function open(path: string): Promise<Page> {
    const page = await browser.context.newPage();
    await page.goto(`${site.url}${path}`);
    return page;
  }

  it("the overview shows each queue's counts by state", async () => {
    for (let day = 0; day < 3; day++) await sidetrack.insertJob("report", { day }, { runAt: later });
    const ready = await sidetrack.insertJobs("report", [{ day: 9 }, { day: 10 }]);
    await sidetrack.cancelJob(ready[0]!.id);
    const page = await open("/");
    const row = page.locator('tr[data-queue="report"]');
    await expect.poll(() => row.locator('[data-count="later"]').textContent()).toBe("3");
    expect(await row.locator('[data-count="ready"]').textContent()).toBe("1");
    expect(await row.locator("td").nth(6).textContent()).toBe("1"); // cancelled
    expect(await page.locator("#counts-note").textContent()).toContain("exact");
    expect(await page.locator("figure.chart svg title").first().textContent()).toContain("last hour");
    await screenshot(page, "overview");
    await page.close();
  });

  it("filters failed jobs, opens one, shows its stack, retries it and sees it complete under a running worker", async () => {
    const job = await sidetrack.insertJob("mail", { to: "ops@example.com" });
    await sidetrack.start();
    await expect.poll(async () => (await sidetrack.getJob(job.id))?.status, { timeout: 30_000 }).toBe("failed");

    const page = await open("/jobs");
    await page.getByLabel("State").selectOption("failed");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/state=failed/);
    await page.getByRole("link", { name: job.id, exact: true }).click();
    await page.waitForURL(new RegExp(`/jobs/${job.id}$`));
    expect(await page.locator(".error-message").first().textContent()).toBe("smtp down: connection refused");
    expect(await page.locator("pre.stack").first().textContent()).toMatch(/^Error: smtp down[\s\S]*at /);
    await screenshot(page, "failed-job");

    broken = false;
    await page.getByRole("button", { name: "Retry" }).click();
    await page.waitForURL(/flash=/);
    // Live refresh redraws the page as the worker completes the job.
    await expect.poll(() => page.locator('[data-field="status"]').textContent(), { timeout: 30_000 }).toBe("completed");
    expect((await sidetrack.getJob(job.id))?.status).toBe("completed");
    await page.close();
  });

  it("cancels every scheduled job matching a filter, in batches, after a confirmation", async () => {
    await sidetrack.insertJobs("bulk", Array.from({ length: 450 }, (_, n) => ({ n })));
    await sidetrack.insertJob("bulk", { n: 999 }, { runAt: later });
    // A job of another queue matching the same state stays.
    const other = await sidetrack.insertJob("report", { day: 77 }, { runAt: later });
    const page = await open("/jobs?queue=bulk&state=scheduled");
    expect(await page.locator("#match-count").textContent()).toContain("451 matching");
    const dialogs: string[] = [];
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.accept();
    });
    await page.getByRole("button", { name: "Cancel all matching" }).click();
    await expect.poll(() => page.locator("[data-progress]").textContent(), { timeout: 30_000 }).toMatch(/451 changed of 451 processed – done/);
    expect(dialogs).toEqual(["cancel all 451 jobs matching this filter?"]);
    await screenshot(page, "bulk-cancel");
    const { rows } = await db.pool.query<{ status: string; n: string }>(
      "select status, count(*)::text as n from sidetrack.jobs where queue = 'bulk' group by status",
    );
    expect(rows).toEqual([{ status: "cancelled", n: "451" }]);
    expect((await sidetrack.getJob(other.id))?.status).toBe("scheduled");
    await page.close();
  });

  it("filters by a tag typed in the form and cancels every job carrying it; another tag's jobs stay", async () => {
    // A queue no worker here handles, so every job stays where the test puts it.
    await db.pool.query(
      `insert into sidetrack.jobs (queue, payload, status, tags)
       select 'tagged', jsonb_build_object('n', n), 'scheduled', case when n <= 3 then array['red'] else array['blue'] end
       from generate_series(1, 5) n`,
    );
    const page = await open("/jobs?queue=tagged");
    expect(await page.locator("#match-count").textContent()).toContain("5 matching");
    await page.getByLabel("Tag", { exact: true }).fill("red");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/tag=red/);
    expect(await page.locator("#match-count").textContent()).toContain("3 matching");
    expect(await page.getByLabel("Tag", { exact: true }).inputValue()).toBe("red");
    page.on("dialog", (d) => void d.accept());
    await page.getByRole("button", { name: "Cancel all matching" }).click();
    await expect.poll(() => page.locator("[data-progress]").textContent(), { timeout: 30_000 }).toMatch(/3 changed of 3 processed – done/);
    const { rows } = await db.pool.query<{ tag: string; status: string; n: string }>(
      "select tags[1] as tag, status, count(*)::text as n from sidetrack.jobs where queue = 'tagged' group by 1, 2 order by 1",
    );
    expect(rows).toEqual([
      { tag: "blue", status: "scheduled", n: "2" },
      { tag: "red", status: "cancelled", n: "3" },
    ]);
    await page.close();
  });

  it("live refresh has a visible pause control, remembered across pages; resuming shows new data", async () => {
    const job = await sidetrack.insertJob("report", { day: 55 }, { runAt: later });
    const page = await open(`/jobs/${job.id}`);
    const toggle = page.getByRole("button", { name: "Pause live refresh" });
    await toggle.click();
    await expect.poll(() => page.locator("#live-toggle").getAttribute("aria-pressed")).toBe("true");
    expect(await page.locator("#live-stamp").textContent()).toBe("paused");
    await page.reload();
    expect(await page.locator("#live-toggle").getAttribute("aria-pressed")).toBe("true");
    await sidetrack.cancelJob(job.id);
    await page.getByRole("button", { name: "Resume live refresh" }).click();
    await expect.poll(() => page.locator('[data-field="status"]').textContent(), { timeout: 30_000 }).toBe("cancelled");
    expect(await page.locator("#live-toggle").getAttribute("aria-pressed")).toBe("false");
    await page.close();
  });

  it("works from the keyboard: the navigation, the filter form and a job link", async () => {
    const page = await open("/");
    await page.keyboard.press("Tab"); // the brand link
    await page.keyboard.press("Tab"); // Overview
    await page.keyboard.press("Tab"); // Queues
    await page.keyboard.press("Tab"); // Jobs
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Jobs");
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/jobs$/);
    await page.getByLabel("State").focus();
    await page.keyboard.press("End"); // the last state: cancelled
    await page.getByLabel("Payload text or id").focus();
    await page.keyboard.press("Enter");
    await page.waitForURL(/state=cancelled/);
    const first = page.locator("tr[data-job] a").first();
    await first.focus();
    const id = await first.textContent();
    await page.keyboard.press("Enter");
    await page.waitForURL(new RegExp(`/jobs/${id}$`));
    expect(await page.locator('[data-field="status"]').textContent()).toBe("cancelled");
    await page.close();
  });

  it("pauses and resumes a queue: no job starts while paused, the worker runs them after", async () => {
    const started: string[] = [];
    const worker = new Sidetrack<{ steady: { n: number } }>({
      databaseOptions: { connectionString: db.url, max: 3 },
      handleSignals: false,
      pollInterval: 50,
      queues: { steady: { handler: (job) => void started.push(job.id) } },
    });
    await worker.start();
    const page = await open("/queues/steady");
    const dialogs: string[] = [];
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.accept();
    });
    await page.getByRole("button", { name: "Pause queue" }).click();
    await page.waitForURL(/flash=/);
    expect(dialogs).toEqual(["Pause steady? Workers stop starting its jobs; running ones finish."]);
    expect(await page.locator("dl.fields").textContent()).toContain("Pausedyes");
    const jobs = await worker.insertJobs("steady", [{ n: 1 }, { n: 2 }, { n: 3 }]);
    // Polls and NOTIFYs come and go; none of them may start a job of the paused queue.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(started).toEqual([]);
    expect((await sidetrack.getJob(jobs[0]!.id))?.status).toBe("scheduled");
    await page.getByRole("button", { name: "Resume queue" }).click();
    await page.waitForURL(/resumed/);
    await expect.poll(() => started.length, { timeout: 15_000 }).toBe(3);
    await screenshot(page, "queue-resumed");
    await page.close();
    await worker.stop({ grace: 1_000 });
  });

  it("a dismissed confirmation changes nothing", async () => {
    await sidetrack.insertJobs("bulk", [{ n: 1 }, { n: 2 }]);
    const page = await open("/jobs?queue=bulk&state=scheduled");
    page.on("dialog", (d) => void d.dismiss());
    await page.getByRole("button", { name: "Delete all matching" }).click();
    await page.getByRole("button", { name: "Delete selected" }).waitFor();
    const { rows } = await db.pool.query("select 1 from sidetrack.jobs where queue = 'bulk' and status = 'scheduled'");
    expect(rows.length).toBe(2);
    expect(await page.locator("[data-progress]").textContent()).toBe("");
    await page.close();
  });

  it("read-only mode shows no action and refuses a forged POST", async () => {
    const readOnly = createDashboard({ pool: db.pool, readOnly: true });
    const ro = await serve(readOnly);
    try {
      const [failed] = (await db.pool.query<{ id: string }>("select id::text as id from sidetrack.jobs where status = 'scheduled' limit 1")).rows;
      const page = await browser.context.newPage();
      for (const path of ["/", "/jobs", `/jobs/${failed!.id}`, "/cron"]) {
        await page.goto(`${ro.url}${path}`);
        expect(await page.locator('form[method="post"], [data-bulk-action], input[name="_csrf"]').count(), path).toBe(0);
        expect(await page.locator(".badge", { hasText: "read-only" }).count()).toBe(1);
      }
      // A forged POST from the page itself, with the cookie the browser holds: refused.
      const status = await page.evaluate(async (id) => {
        const r = await fetch(`/api/jobs/${id}/cancel`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
        return r.status;
      }, failed!.id);
      expect(status).toBe(403);
      const form = await fetch(`${ro.url}/jobs/${failed!.id}/cancel`, { method: "POST", body: new URLSearchParams({ _csrf: "x" }) });
      expect(form.status).toBe(403);
      expect((await sidetrack.getJob(failed!.id))?.status).toBe("scheduled");
      await screenshot(page, "read-only");
      await page.close();
    } finally {
      await ro.close();
    }
  });

  it("a hostile corpus renders as inert, readable text: no dialog, no request", async () => {
    const hostile = [
      "<script>alert('x')</script>",
      '"><img src=x onerror=alert(1)>',
      "javascript:alert(document.cookie)",
      "<a href=\"javascript:alert(2)\">click</a>",
      "\u202Eevil\u202C \u200B zero\u200Dwidth 𝕳𝖔𝖘𝖙 👩‍👩‍👧 ﷽",
      "</pre></td><svg onload=alert(3)>",
      "{{constructor.constructor('alert(4)')()}}",
    ];
    const ids: string[] = [];
    for (const text of hostile) {
      const { rows } = await db.pool.query<{ id: string }>(
        `insert into sidetrack.jobs (queue, payload, status, errors, unique_key, locked_by, finalized_at, failed_at)
         values ($1, $2, 'failed', $3, $1, $1, now(), now()) returning id::text as id`,
        [text, JSON.stringify({ text, [text]: [text] }), JSON.stringify([{ attempt: 1, message: text, stack: `${text}\n    at hostile`, at: new Date().toISOString() }])],
      );
      ids.push(rows[0]!.id);
    }
    const huge = await sidetrack.insertJob("report", { day: 1, blob: "<script>".repeat(100_000) });
    ids.push(huge.id);

    const page = await browser.context.newPage();
    const dialogs: string[] = [];
    const requests: string[] = [];
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on("request", (r) => requests.push(r.url()));
    const paths = ["/", "/queues", "/jobs", "/jobs?state=failed", ...ids.map((id) => `/jobs/${id}`), ...hostile.map((h) => `/queues/${encodeURIComponent(h)}`)];
    for (const path of paths) {
      await page.goto(`${site.url}${path}`);
      await page.waitForLoadState("load");
    }
    await page.goto(`${site.url}/jobs/${ids[1]}`);
    expect(await page.locator(".error-message").textContent()).toBe(hostile[1]);
    for (const path of ["/jobs?state=failed", `/jobs/${ids[3]}`, `/queues/${encodeURIComponent(hostile[3]!)}`]) {
      await page.goto(`${site.url}${path}`);
      // No element carries an event handler attribute, and no link a javascript: target.
      const handlers = await page.evaluate(() =>
        [...document.querySelectorAll("*")].flatMap((e) => [...e.attributes].filter((a) => /^on/i.test(a.name)).map((a) => `${e.tagName} ${a.name}`)),
      );
      expect(handlers, path).toEqual([]);
      expect(await page.locator('[href^="javascript:" i], [src^="javascript:" i], img, iframe, object, embed').count(), path).toBe(0);
    }
    await page.goto(`${site.url}/jobs/${ids[0]}`);
    expect(await page.locator("pre.json").first().textContent()).toContain("<script>alert('x')</script>");
    expect(await page.locator("h1").count()).toBe(1);
    await screenshot(page, "hostile");
    await page.goto(`${site.url}/jobs/${huge.id}`);
    expect(await page.locator(".note", { hasText: "Cut at" }).count()).toBe(1);
    await page.close();

    expect(dialogs).toEqual([]);
    const allowed = /^\/(|queues|queues\/[^/]+|jobs|jobs\/\d+|assets\/app\.(js|css))$/;
    const foreign = requests.filter((u) => {
      const url = new URL(u);
      return url.origin !== site.url || !allowed.test(url.pathname);
    });
    expect(foreign).toEqual([]);
    expect(requests.length).toBeGreaterThanOrEqual(paths.length);
  });
});

// The dashboard's pages, rendered on the server from the same data the JSON API returns.
import type { JobDetail, JobsData, OverviewData, QueueData } from "./data.js";
import { age, count, esc, html, prettyJson, query, Safe, time } from "./html.js";
import type { CronSchedule } from "../runtime/index.js";

/** What every page needs to know about the request. */
export interface View {
  /** The URL prefix the dashboard is mounted at ("" at the root). */
  base: string;
  /** Whether actions are shown and accepted. */
  canWrite: boolean;
  csrf: string;
  /** A message after a form action (from the redirect's query). */
  flash?: string;
}

export interface Page {
  title: string;
  nav: "overview" | "queues" | "jobs" | "cron" | "workers";
  body: Safe;
}

const NAV: [Page["nav"], string, string][] = [
  ["overview", "/", "Overview"],
  ["queues", "/queues", "Queues"],
  ["jobs", "/jobs", "Jobs"],
  ["cron", "/cron", "Cron"],
  ["workers", "/workers", "Workers"],
];

/** The whole document around a page's body. */
export function layout(view: View, page: Page): string {
  return `<!doctype html>${html`<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="sidetrack-base" content="${view.base}">
<meta name="csrf-token" content="${view.canWrite ? view.csrf : ""}">
<title>${page.title} · Sidetrack</title>
<link rel="stylesheet" href="${view.base}/assets/app.css">
<script src="${view.base}/assets/app.js" defer></script>
</head><body>
<header class="top"><a class="brand" href="${view.base}/">Sidetrack</a>
<nav aria-label="Dashboard"><ul>${NAV.map(
    ([key, path, label]) => html`<li><a href="${view.base}${path}"${key === page.nav ? new Safe(' aria-current="page"') : ""}>${label}</a></li>`,
  )}</ul></nav>
<div class="live"><span id="live-stamp" aria-live="polite">live</span><button type="button" id="live-toggle" aria-pressed="false">Pause live refresh</button>${
    view.canWrite ? "" : html`<span class="badge">read-only</span>`
  }</div></header>
<main id="main">${page.body}</main></body></html>`}`;
}

function flash(view: View): Safe {
  return view.flash ? html`<p class="flash" role="status">${view.flash}</p>` : html``;
}

function jobsLink(view: View, params: Record<string, string | undefined>): string {
  return `${view.base}/jobs${query(params)}`;
}

function queueLink(view: View, queue: string): string {
  return `${view.base}/queues/${encodeURIComponent(queue)}`;
}

function countsNote(data: OverviewData): Safe {
  return data.finishedCountsExact
    ? html`<p class="note">All counts are exact.</p>`
    : html`<p class="note">Completed, failed and cancelled counts marked ~ are estimates from a 1 % sample (about ${count(data.estimatedRows)} jobs in the table); live counts are exact.</p>`;
}

function countsTable(view: View, data: OverviewData): Safe {
  const est = !data.finishedCountsExact;
  const cell = (queue: string, status: string, n: number, estimated = false) =>
    html`<td class="num"><a href="${jobsLink(view, { queue, state: status })}">${count(n, estimated)}</a></td>`;
  return html`<table aria-describedby="counts-note"><thead><tr><th scope="col">Queue</th><th scope="col" class="num">Ready</th><th scope="col" class="num">Scheduled later</th>
<th scope="col" class="num">Running</th><th scope="col" class="num">Retrying</th><th scope="col" class="num">Failed</th><th scope="col" class="num">Completed</th>
<th scope="col" class="num">Cancelled</th><th scope="col" class="num">Oldest ready</th>${data.pausable ? html`<th scope="col">Paused</th>` : ""}</tr></thead><tbody>
${data.queues.length === 0 ? html`<tr><td colspan="10" class="muted">No jobs yet.</td></tr>` : ""}
${data.queues.map(
    (q) => html`<tr data-queue="${q.queue}"><th scope="row"><a href="${queueLink(view, q.queue)}">${q.queue}</a></th>
<td class="num" data-count="ready">${count(q.scheduledReady)}</td><td class="num" data-count="later">${count(q.scheduledFuture)}</td>
${cell(q.queue, "running", q.running)}${cell(q.queue, "retrying", q.retrying)}${cell(q.queue, "failed", q.failed, est)}
${cell(q.queue, "completed", q.completed, est)}${cell(q.queue, "cancelled", q.cancelled, est)}
<td class="num">${age(q.oldestReadyAgeMs)}</td>${data.pausable ? html`<td>${q.paused ? "paused" : "no"}</td>` : ""}</tr>`,
  )}</tbody></table><div id="counts-note">${countsNote(data)}</div>`;
}

/** Completed and failed per minute over the last hour, as inline SVG bars (no script needed). */
function chart(data: OverviewData): Safe {
  const width = 720;
  const height = 160;
  const minutes = 60;
  const nowMinute = Math.floor(data.now / 60_000) * 60_000;
  const start = nowMinute - (minutes - 1) * 60_000;
  const byMinute = new Map(data.throughput.map((t) => [t.minuteMs, t]));
  const series = Array.from({ length: minutes }, (_, i) => byMinute.get(start + i * 60_000) ?? { minuteMs: start + i * 60_000, completed: 0, failed: 0 });
  const max = Math.max(1, ...series.map((s) => s.completed + s.failed));
  const bar = width / minutes;
  const scale = (n: number) => (n / max) * (height - 20);
  const total = series.reduce((a, s) => ({ c: a.c + s.completed, f: a.f + s.failed }), { c: 0, f: 0 });
  return html`<figure class="chart"><svg role="img" aria-labelledby="tp-title" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">
<title id="tp-title">Completed and failed jobs per minute, last hour: ${count(total.c)} completed, ${count(total.f)} failed; busiest minute ${count(max)}.</title>
${series.map((s, i) => {
    const hc = scale(s.completed);
    const hf = scale(s.failed);
    const x = (i * bar + 1).toFixed(1);
    return html`<rect x="${x}" y="${(height - hc).toFixed(1)}" width="${(bar - 2).toFixed(1)}" height="${hc.toFixed(1)}" fill="#2e9e5b"><title>${new Date(s.minuteMs).toISOString().slice(11, 16)} UTC: ${s.completed} completed</title></rect>
<rect x="${x}" y="${(height - hc - hf).toFixed(1)}" width="${(bar - 2).toFixed(1)}" height="${hf.toFixed(1)}" fill="#d64545"><title>${new Date(s.minuteMs).toISOString().slice(11, 16)} UTC: ${s.failed} failed</title></rect>`;
  })}
<text x="4" y="12" font-size="11" fill="#5c6472">${count(max)}/min</text></svg>
<figcaption class="legend"><span><span class="sw c"></span>completed (${count(total.c)})</span><span><span class="sw f"></span>failed (${count(total.f)})</span><span class="muted">per minute, last 60 minutes</span></figcaption></figure>`;
}

export function overviewPage(view: View, data: OverviewData): Page {
  return {
    title: "Overview",
    nav: "overview",
    body: html`<h1>Overview</h1>${flash(view)}<h2>Jobs by queue and state</h2>${countsTable(view, data)}<h2>Throughput</h2>${chart(data)}`,
  };
}

export function queuesPage(view: View, data: OverviewData): Page {
  return {
    title: "Queues",
    nav: "queues",
    body: html`<h1>Queues</h1>${flash(view)}${countsTable(view, data)}`,
  };
}

/** Pause or resume: claims stop (or start again) across every worker once it commits. */
function pauseForm(view: View, queue: string, paused: boolean) {
  const verb = paused ? "resume" : "pause";
  const confirm = paused ? "" : html` data-confirm="Pause ${queue}? Workers stop starting its jobs; running ones finish."`;
  return html`<form method="post" action="${view.base}/queues/${queue}/${verb}"${confirm}><input type="hidden" name="_csrf" value="${view.csrf}"><button type="submit">${paused ? "Resume queue" : "Pause queue"}</button></form>`;
}

export function queuePage(view: View, data: QueueData): Page {
  const q = data.counts;
  return {
    title: `Queue ${data.queue}`,
    nav: "queues",
    body: html`<h1>Queue <code>${data.queue}</code></h1>${flash(view)}
${q ? html`<dl class="fields"><dt>Ready</dt><dd>${count(q.scheduledReady)}</dd><dt>Scheduled later</dt><dd>${count(q.scheduledFuture)}</dd>
<dt>Running</dt><dd>${count(q.running)}</dd><dt>Retrying</dt><dd>${count(q.retrying)}</dd><dt>Failed</dt><dd>${count(q.failed, !data.finishedCountsExact)}</dd>
<dt>Completed</dt><dd>${count(q.completed, !data.finishedCountsExact)}</dd><dt>Cancelled</dt><dd>${count(q.cancelled, !data.finishedCountsExact)}</dd>
<dt>Oldest ready</dt><dd>${age(q.oldestReadyAgeMs)}</dd>${q.paused !== undefined ? html`<dt>Paused</dt><dd>${q.paused ? "yes" : "no"}</dd>` : ""}</dl>` : html`<p class="muted">No jobs in this queue.</p>`}
${view.canWrite ? pauseForm(view, data.queue, q?.paused === true) : ""}
<p><a href="${jobsLink(view, { queue: data.queue })}">All jobs of this queue</a> · <a href="${jobsLink(view, { queue: data.queue, state: "failed" })}">failed</a></p>
<h2>Cron schedules</h2>${cronTable(view, data.schedules)}`,
  };
}

function stateBadge(status: string): Safe {
  return html`<span class="badge s-${status}">${status}</span>`;
}

const STATES = ["scheduled", "running", "retrying", "completed", "failed", "cancelled"];

export function jobsPage(view: View, data: JobsData): Page {
  const f = data.filter;
  const filterJson = JSON.stringify({ queue: f.queue, status: f.status, q: f.q, tag: f.tag });
  const totalLabel = `${data.matching.capped ? "more than " : ""}${data.matching.count.toLocaleString("en-US")}`;
  const here = { queue: f.queue, state: f.status, q: f.q, tag: f.tag, sort: data.sort };
  return {
    title: "Jobs",
    nav: "jobs",
    body: html`<h1>Jobs</h1>${flash(view)}
<form class="filters" method="get" action="${view.base}/jobs" role="search">
<label>Queue<select name="queue"><option value="">all</option>${data.queues.map((q) => html`<option value="${q}"${q === f.queue ? new Safe(" selected") : ""}>${q}</option>`)}</select></label>
<label>State<select name="state"><option value="">all</option>${STATES.map((s) => html`<option${s === f.status ? new Safe(" selected") : ""}>${s}</option>`)}</select></label>
<label>Payload text or id<input type="search" name="q" value="${f.q ?? ""}"></label>
<label>Tag<input type="search" name="tag" value="${f.tag ?? ""}"></label>
<label>Sort<select name="sort"><option value="id"${data.sort === "id" ? new Safe(" selected") : ""}>newest id first</option><option value="run_at"${data.sort === "run_at" ? new Safe(" selected") : ""}>run_at, earliest first</option></select></label>
<button type="submit">Filter</button></form>
<p id="match-count">${data.matching.capped ? "More than " : ""}${count(data.matching.count)} matching job${data.matching.count === 1 ? "" : "s"}${data.matching.capped ? " (counting stops there)" : ""}.</p>
${view.canWrite && data.matching.count > 0
      ? html`<section class="actions" aria-label="Act on every matching job" data-filter="${filterJson}" data-total="${data.matching.count}" data-total-label="${totalLabel}">
<strong>All ${totalLabel} matching:</strong>
<button type="button" data-bulk-action="retry">Retry all matching</button>
<button type="button" data-bulk-action="cancel" class="danger">Cancel all matching</button>
<button type="button" data-bulk-action="delete" class="danger">Delete all matching</button>
<progress hidden value="0" max="1" aria-label="Progress"></progress><span data-progress aria-live="polite"></span></section>`
      : ""}
${view.canWrite ? html`<form method="post" action="${view.base}/jobs/selection" data-confirm="Apply this action to the selected jobs?"><input type="hidden" name="_csrf" value="${view.csrf}"><input type="hidden" name="back" value="${jobsLink(view, here)}">` : ""}
<table><thead><tr>${view.canWrite ? html`<th scope="col"><input type="checkbox" id="select-all" aria-label="Select every job on this page"></th>` : ""}
<th scope="col">Id</th><th scope="col">Queue</th><th scope="col">State</th><th scope="col" class="num">Attempt</th><th scope="col">Run at</th><th scope="col">Payload</th></tr></thead><tbody>
${data.page.jobs.length === 0 ? html`<tr><td colspan="7" class="muted">No jobs match.</td></tr>` : ""}
${data.page.jobs.map(
      (j) => html`<tr data-job="${j.id}">${view.canWrite ? html`<td><input type="checkbox" name="ids" value="${j.id}" aria-label="Select job ${j.id}"></td>` : ""}
<td><a href="${view.base}/jobs/${j.id}">${j.id}</a></td><td>${j.queue}</td><td>${stateBadge(j.status)}</td><td class="num">${j.attempt}/${j.maxAttempts}</td>
<td>${time(j.runAt)}</td><td class="payload">${j.payloadPreview}${j.payloadPreview.length >= 160 ? "…" : ""}</td></tr>`,
    )}</tbody></table>
${view.canWrite && data.page.jobs.length > 0 ? html`<div class="actions"><span>Selected:</span><button name="action" value="retry">Retry selected</button><button name="action" value="cancel" class="danger">Cancel selected</button><button name="action" value="delete" class="danger">Delete selected</button></div>` : ""}
${view.canWrite ? new Safe("</form>") : ""}
<nav class="pager" aria-label="Pages">${data.cursor ? html`<a href="${jobsLink(view, { ...here, sort: data.sort === "id" ? undefined : data.sort })}">First page</a>` : ""}${
      data.page.next ? html`<a href="${jobsLink(view, { ...here, sort: data.sort === "id" ? undefined : data.sort, cursor: data.page.next })}" rel="next">Next page</a>` : ""
    }</nav>`,
  };
}

function actionForm(view: View, path: string, action: string, label: string, confirmText?: string): Safe {
  if (!view.canWrite) return html``;
  return html`<form class="inline" method="post" action="${view.base}${path}/${action}"${confirmText ? html` data-confirm="${confirmText}"` : ""}><input type="hidden" name="_csrf" value="${view.csrf}"><button type="submit"${confirmText ? new Safe(' class="danger"') : ""}>${label}</button></form>`;
}

export function jobPage(view: View, detail: JobDetail): Page {
  const { job, extra } = detail;
  const retryable = job.status === "failed" || job.status === "cancelled";
  const cancellable = job.status === "scheduled" || job.status === "running" || job.status === "retrying";
  const path = `/jobs/${job.id}`;
  const cronTick = typeof extra.cron_tick === "string" ? new Date(extra.cron_tick) : null;
  const others = Object.entries(extra).filter(([k]) => k !== "cron_tick" && k !== "cron_schedule_id");
  return {
    title: `Job ${job.id}`,
    nav: "jobs",
    body: html`<h1>Job ${job.id} ${stateBadge(job.status)}</h1>${flash(view)}
<div class="actions">${retryable ? actionForm(view, path, "retry", "Retry") : ""}${cancellable ? actionForm(view, path, "cancel", "Cancel", "Cancel this job?") : ""}${
      job.status !== "running" ? actionForm(view, path, "delete", "Delete", "Delete this job? This cannot be undone.") : ""
    }</div>
<dl class="fields"><dt>Queue</dt><dd><a href="${queueLink(view, job.queue)}">${job.queue}</a></dd><dt>State</dt><dd data-field="status">${job.status}</dd>
<dt>Attempt</dt><dd>${job.attempt} of ${job.maxAttempts}</dd><dt>Priority</dt><dd>${job.priority}</dd>
<dt>Run at</dt><dd>${time(job.runAt)}</dd><dt>Inserted</dt><dd>${time(job.insertedAt)}</dd><dt>Started</dt><dd>${time(job.startedAt)}</dd>
<dt>Completed</dt><dd>${time(job.completedAt)}</dd><dt>Failed</dt><dd>${time(job.failedAt)}</dd><dt>Cancelled</dt><dd>${time(job.cancelledAt)}</dd>
<dt>Lease owner</dt><dd>${job.lockedBy ?? "–"}</dd><dt>Lease expires</dt><dd>${time(job.lockedUntil)}</dd>
<dt>Unique key</dt><dd>${job.uniqueKey ?? "–"}</dd><dt>Cron tick</dt><dd>${cronTick ? html`${time(cronTick)} (schedule ${String(extra.cron_schedule_id ?? "")})` : "–"}</dd></dl>
<h2>Payload</h2>${prettyJson(job.payload)}
${others.map(([k, v]) => html`<h2>${k}</h2>${prettyJson(v)}`)}
<h2>Attempts</h2>${job.errors.length === 0 ? html`<p class="muted">No failed attempt.</p>` : html`<ol class="timeline">${job.errors.map(
      (e) => html`<li><strong>Attempt ${e.attempt}</strong> failed at ${time(e.at)}<p class="error-message">${e.message}</p>${e.stack ? html`<details open><summary>Stack</summary><pre class="stack">${e.stack}</pre></details>` : ""}</li>`,
    )}</ol>`}`,
  };
}

function cronTable(view: View, schedules: CronSchedule[]): Safe {
  if (schedules.length === 0) return html`<p class="muted">No cron schedules.</p>`;
  return html`<table><thead><tr><th scope="col">Queue</th><th scope="col">Expression</th><th scope="col">Timezone</th><th scope="col">Source</th><th scope="col">Active</th>
<th scope="col">Next tick</th><th scope="col">Last tick</th>${view.canWrite ? html`<th scope="col">Actions</th>` : ""}</tr></thead><tbody>${schedules.map(
    (s) => html`<tr data-schedule="${s.id}"><td><a href="${queueLink(view, s.queue)}">${s.queue}</a></td><td><code>${s.expression}</code></td><td>${s.timezone}</td><td>${s.source}</td>
<td>${s.active ? "yes" : "no"}</td><td>${time(s.nextRunAt)}</td><td>${time(s.lastRunAt)}</td>${
      view.canWrite
        ? html`<td>${s.active ? actionForm(view, `/cron/${s.id}`, "deactivate", "Deactivate") : actionForm(view, `/cron/${s.id}`, "activate", "Activate")}${actionForm(view, `/cron/${s.id}`, "run", "Run now")}</td>`
        : ""
    }</tr>`,
  )}</tbody></table>`;
}

export function cronPage(view: View, schedules: CronSchedule[]): Page {
  return { title: "Cron", nav: "cron", body: html`<h1>Cron schedules</h1>${flash(view)}${cronTable(view, schedules)}` };
}

const WORKER_COLUMNS = ["id", "host", "pid", "queues", "concurrency", "running", "version", "started_at", "heartbeat_at"];

export function workersPage(view: View, workers: Record<string, unknown>[] | undefined): Page {
  if (workers === undefined) {
    return { title: "Workers", nav: "workers", body: html`<h1>Workers</h1><p class="muted">No worker registry yet: this database has no workers table.</p>` };
  }
  const columns = WORKER_COLUMNS.filter((c) => workers.some((w) => c in w));
  const cell = (v: unknown) => (v === null || v === undefined ? "–" : typeof v === "object" ? JSON.stringify(v) : String(v));
  return {
    title: "Workers",
    nav: "workers",
    body: html`<h1>Workers</h1>${workers.length === 0 ? html`<p class="muted">No worker is registered.</p>` : html`<table><thead><tr>${columns.map((c) => html`<th scope="col">${c.replace("_", " ")}</th>`)}</tr></thead><tbody>${workers.map(
      (w) => html`<tr>${columns.map((c) => html`<td>${cell(w[c])}</td>`)}</tr>`,
    )}</tbody></table>`}`,
  };
}

export function errorPage(status: number, message: string): Page {
  return { title: `Error ${status}`, nav: "overview", body: html`<h1>${status}</h1><p>${message}</p>` };
}

export { esc };

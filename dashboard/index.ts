// sidetrack/dashboard: the web dashboard as a Node request handler, mountable in node:http,
// Express, Fastify or Hono (docs/dashboard.md). Pages are rendered on the server; the JSON API
// under /api serves the same data and takes the same actions.
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import pg from "pg";
import { actOnJobs, actOnMatchingJobs, checkJobFilter, JOB_ACTIONS, type JobAction, type JobFilter } from "../runtime/client/dashboard.js";
import { DEFAULT_SCHEMA, validateSchemaName } from "../runtime/config/identifiers.js";
import { setQueuePaused } from "../runtime/client/queues.js";
import { activateSchedule, deactivateSchedule, listSchedules, runScheduleNow } from "../runtime/cron/schedules.js";
import { toDbClient, type DbClient } from "../runtime/db/clients.js";
import { SidetrackValidationError } from "../runtime/errors.js";
import { gauges } from "../runtime/telemetry/metrics.js";
import { metricsHandler } from "../runtime/telemetry/prometheus.js";
import { CSS, JS } from "./assets.js";
import { cronData, jobData, jobsData, overviewData, queueData, workersData } from "./data.js";
import { cronPage, errorPage, jobPage, jobsPage, layout, overviewPage, queuePage, queuesPage, workersPage, type Page, type View } from "./pages.js";

export type Access = "write" | "read" | false;

export interface DashboardOptions {
  /** A node-postgres pool; the dashboard never ends a pool it was given. */
  pool?: pg.Pool;
  /** Used when no pool is given: the dashboard opens a small pool of its own (see `close`). */
  connectionString?: string;
  /** Default "sidetrack". */
  schema?: string;
  /** Show no action and refuse every POST with 403. */
  readOnly?: boolean;
  /** Who may see ("read") or also act ("write"); false refuses the request with 403. Default: everyone writes. */
  authorize?: (req: IncomingMessage) => Access | Promise<Access>;
  /** The URL prefix the dashboard is mounted at, e.g. "/admin/jobs". Default: detected (Express's baseUrl) or "/". */
  basePath?: string;
}

export type DashboardHandler = ((req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void) & {
  /** Ends the pool the dashboard opened from `connectionString` (a given pool is left alone). */
  close(): Promise<void>;
};

/** Pool size of a dashboard that opens its own pool: a page runs at most four reads at once. */
const OWN_POOL_MAX = 4;
/** Largest request body accepted (a selection of ids, a filter): 1 MiB. */
const BODY_MAX_BYTES = 1024 * 1024;
const CSRF_COOKIE = "sidetrack_csrf";

const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Builds the dashboard's request handler. */
export function createDashboard(options: DashboardOptions): DashboardHandler {
  const schema = validateSchemaName(options.schema ?? DEFAULT_SCHEMA);
  if (!options.pool && !options.connectionString) {
    throw new SidetrackValidationError("createDashboard: pass pool or connectionString");
  }
  const ownPool = options.pool ? undefined : new pg.Pool({ connectionString: options.connectionString, max: OWN_POOL_MAX });
  ownPool?.on("error", () => undefined);
  const db = toDbClient(options.pool ?? ownPool!);
  const configuredBase = options.basePath === undefined ? undefined : normalizeBase(options.basePath);
  const metrics = metricsHandler();
  let gaugesOn = false;

  /**
   * `/metrics`: Prometheus text of this process (the job gauges, read from the database, and the
   * counters of any worker running in it), under the same authorization as the pages.
   */
  function serveMetrics(req: IncomingMessage, res: ServerResponse): void {
    if (!gaugesOn) {
      gauges.add(schema, (options.pool ?? ownPool)!);
      gaugesOn = true;
    }
    metrics(req, res);
  }

  const handler = ((req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => {
    handle(req, res, next).catch((error: unknown) => {
      if (res.headersSent) {
        res.end();
        return;
      }
      const status = error instanceof HttpError ? error.status : error instanceof SidetrackValidationError ? 400 : 500;
      // A 500 names no detail: a driver error could carry a host name or a connection string.
      const message = status === 500 ? "internal error (see the server's log)" : (error as Error).message;
      if (status === 500) console.error("sidetrack dashboard:", error);
      const wantsJson = routeOf(req).path.startsWith("/api/");
      if (wantsJson) sendJson(res, status, { error: message });
      else sendHtml(res, status, layout({ base: baseOf(req), canWrite: false, csrf: "" }, errorPage(status, message)));
    });
  }) as DashboardHandler;
  handler.close = async () => {
    if (gaugesOn) gauges.remove(schema, (options.pool ?? ownPool)!);
    await ownPool?.end();
  };

  function baseOf(req: IncomingMessage): string {
    if (configuredBase !== undefined) return configuredBase;
    const baseUrl = (req as { baseUrl?: unknown }).baseUrl;
    return typeof baseUrl === "string" ? normalizeBase(baseUrl) : "";
  }

  /** The path inside the dashboard: frameworks that strip the mount prefix (Express) and those that don't both work. */
  function routeOf(req: IncomingMessage): { path: string; params: URLSearchParams } {
    const url = new URL(req.url ?? "/", "http://dashboard.invalid");
    let path = url.pathname;
    const base = configuredBase ?? "";
    if (base && (path === base || path.startsWith(`${base}/`))) path = path.slice(base.length) || "/";
    return { path: path.length > 1 ? path.replace(/\/+$/, "") : path, params: url.searchParams };
  }

  async function handle(req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): Promise<void> {
    const { path, params } = routeOf(req);
    const base = baseOf(req);
    const method = req.method ?? "GET";

    if (method === "GET" && path === "/assets/app.js") return sendAsset(res, "text/javascript; charset=utf-8", JS);
    if (method === "GET" && path === "/assets/app.css") return sendAsset(res, "text/css; charset=utf-8", CSS);

    const granted = await (options.authorize ? options.authorize(req) : "write");
    if (granted !== "write" && granted !== "read") throw new HttpError(403, "not allowed");
    const canWrite = granted === "write" && options.readOnly !== true;
    const csrf = csrfCookie(req, res, base);
    const view: View = { base, canWrite, csrf, flash: params.get("flash") ?? undefined };

    if (method === "POST") {
      if (!canWrite) throw new HttpError(403, options.readOnly ? "read-only dashboard: actions are disabled" : "this user may only read");
      const body = await readBody(req);
      checkCsrf(req, body, csrf);
      return post(path, body, req, res, base);
    }
    if (method !== "GET" && method !== "HEAD") throw new HttpError(405, "method not allowed");
    if (path === "/metrics") return serveMetrics(req, res);

    if (path.startsWith("/api/")) {
      const data = await apiGet(path.slice(4), params);
      if (data === undefined) return notFound(res, next, true);
      return sendJson(res, 200, data);
    }
    const page = await pageFor(path, params, view);
    if (!page) return notFound(res, next, false);
    if (req.headers["x-sidetrack-partial"] === "1") return sendHtml(res, 200, page.body.value);
    return sendHtml(res, 200, layout(view, page));
  }

  async function pageFor(path: string, params: URLSearchParams, view: View): Promise<Page | undefined> {
    if (path === "/") return overviewPage(view, await overviewData(db, schema));
    if (path === "/queues") return queuesPage(view, await overviewData(db, schema));
    let m = /^\/queues\/([^/]+)$/.exec(path);
    if (m) return queuePage(view, await queueData(db, schema, decodeURIComponent(m[1]!)));
    if (path === "/jobs") return jobsPage(view, await jobsData(db, schema, params));
    m = /^\/jobs\/([^/]+)$/.exec(path);
    if (m) {
      const detail = await jobData(db, schema, decodeURIComponent(m[1]!));
      if (!detail) throw new HttpError(404, "no such job");
      return jobPage(view, detail);
    }
    if (path === "/cron") return cronPage(view, await cronData(db, schema));
    if (path === "/workers") return workersPage(view, await workersData(db, schema));
    return undefined;
  }

  async function apiGet(path: string, params: URLSearchParams): Promise<unknown> {
    if (path === "/overview" || path === "/queues") return overviewData(db, schema);
    let m = /^\/queues\/([^/]+)$/.exec(path);
    if (m) return queueData(db, schema, decodeURIComponent(m[1]!));
    if (path === "/jobs") {
      const data = await jobsData(db, schema, params);
      return { filter: data.filter, sort: data.sort, jobs: data.page.jobs, next: data.page.next, matching: data.matching };
    }
    m = /^\/jobs\/([^/]+)$/.exec(path);
    if (m) {
      const detail = await jobData(db, schema, decodeURIComponent(m[1]!));
      if (!detail) throw new HttpError(404, "no such job");
      return detail;
    }
    if (path === "/cron") return { schedules: await cronData(db, schema) };
    if (path === "/workers") {
      const workers = await workersData(db, schema);
      return { registry: workers !== undefined, workers: workers ?? [] };
    }
    return undefined;
  }

  async function post(path: string, body: Body, req: IncomingMessage, res: ServerResponse, base: string): Promise<void> {
    const api = path.startsWith("/api/");
    const route = api ? path.slice(4) : path;
    let m = /^\/jobs\/(\d{1,18})\/(retry|cancel|delete)$/.exec(route);
    if (m) {
      const result = await actOnJobs(db, m[2] as JobAction, [m[1]!], { schema });
      if (api) return sendJson(res, 200, result);
      const note = result.changed ? `${pastTense(m[2]!)} job ${m[1]}` : `job ${m[1]} was not ${pastTense(m[2]!)} (its state does not allow it)`;
      return redirect(res, m[2] === "delete" && result.changed ? `${base}/jobs?flash=${encodeURIComponent(note)}` : `${base}/jobs/${m[1]}?flash=${encodeURIComponent(note)}`);
    }
    if (route === "/jobs/selection" || route === "/jobs/actions") {
      const action = jobAction(body.get("action"));
      const ids = body.getAll("ids");
      const result = await actOnJobs(db, action, ids, { schema });
      if (api) return sendJson(res, 200, result);
      const back = sameSiteBack(body.get("back"), base);
      return redirect(res, withFlash(back, `${pastTense(action)} ${result.changed} of ${result.processed} selected jobs`));
    }
    if (api && route === "/jobs/bulk") {
      const action = jobAction(body.get("action"));
      const filter = checkJobFilter((body.json?.filter ?? {}) as JobFilter);
      const after = body.get("after") ?? "0";
      return sendJson(res, 200, await actOnMatchingJobs(db, action, filter, { schema, after: String(after) }));
    }
    m = /^\/cron\/(\d{1,18})\/(activate|deactivate|run)$/.exec(route);
    if (m) {
      const schedule = (await listSchedules(db, schema)).find((s) => s.id === m![1]);
      if (!schedule) throw new HttpError(404, "no such cron schedule");
      let note: string;
      if (m[2] === "activate") note = (await activateSchedule(db, schema, schedule.queue, schedule.expression)) ? "activated" : "not found";
      else if (m[2] === "deactivate") note = (await deactivateSchedule(db, schema, schedule.queue, schedule.expression)) ? "deactivated" : "not found";
      else note = `inserted job ${(await runScheduleNow(db, schema, schedule)).id}`;
      if (api) return sendJson(res, 200, { ok: true, note });
      return redirect(res, `${base}/cron?flash=${encodeURIComponent(`${schedule.queue} ${schedule.expression}: ${note}`)}`);
    }
    m = /^\/queues\/([A-Za-z][A-Za-z0-9_]{0,99})\/(pause|resume)$/.exec(route);
    if (m) {
      const [, queue, verb] = m;
      await setQueuePaused(db, queue!, verb === "pause", { schema });
      const note = verb === "pause" ? "paused: no worker starts its jobs until it is resumed" : "resumed";
      if (api) return sendJson(res, 200, { ok: true, queue, paused: verb === "pause" });
      return redirect(res, `${base}/queues/${encodeURIComponent(queue!)}?flash=${encodeURIComponent(`${queue}: ${note}`)}`);
    }
    void req;
    throw new HttpError(404, "no such action");
  }

  return handler;
}

function jobAction(value: unknown): JobAction {
  if (typeof value !== "string" || !(JOB_ACTIONS as readonly string[]).includes(value)) {
    throw new SidetrackValidationError(`action: one of ${JOB_ACTIONS.join(", ")}, got ${JSON.stringify(value)}`);
  }
  return value as JobAction;
}

function pastTense(action: string): string {
  return action === "retry" ? "retried" : action === "cancel" ? "cancelled" : "deleted";
}

/** A back link from a form, kept only when it points inside the dashboard (no open redirect). */
function sameSiteBack(back: string | undefined, base: string): string {
  if (back && back.startsWith(`${base}/`) && !back.startsWith("//") && !/[\\\r\n]/.test(back)) return back;
  return `${base}/jobs`;
}

function withFlash(url: string, note: string): string {
  const u = new URL(url, "http://dashboard.invalid");
  u.searchParams.set("flash", note);
  return `${u.pathname}${u.search}`;
}

function normalizeBase(base: string): string {
  const trimmed = base.trim().replace(/\/+$/, "");
  if (trimmed === "") return "";
  if (!/^\/[A-Za-z0-9._~\-/]*$/.test(trimmed)) {
    throw new SidetrackValidationError(`basePath: a path such as /admin/jobs (letters, digits, - . _ ~ /), got ${JSON.stringify(base)}`);
  }
  return trimmed;
}

/** A request body, form-encoded or JSON, read once. */
interface Body {
  get(name: string): string | undefined;
  getAll(name: string): string[];
  json?: Record<string, unknown>;
}

async function readBody(req: IncomingMessage): Promise<Body> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > BODY_MAX_BYTES) throw new HttpError(413, "request body too large");
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  const type = String(req.headers["content-type"] ?? "");
  if (type.includes("application/json")) {
    let json: Record<string, unknown>;
    try {
      json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      throw new HttpError(400, "request body is not valid JSON");
    }
    if (typeof json !== "object" || json === null || Array.isArray(json)) throw new HttpError(400, "request body must be a JSON object");
    return {
      json,
      get: (n) => (json[n] === undefined || json[n] === null ? undefined : String(json[n])),
      getAll: (n) => (Array.isArray(json[n]) ? (json[n] as unknown[]).map(String) : json[n] === undefined ? [] : [String(json[n])]),
    };
  }
  const form = new URLSearchParams(text);
  return { get: (n) => form.get(n) ?? undefined, getAll: (n) => form.getAll(n) };
}

function cookies(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of String(req.headers.cookie ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0) out.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  return out;
}

/**
 * CSRF by double submit: a random token in a SameSite=Strict cookie, repeated in each form (or
 * the x-sidetrack-csrf header). Another site can make a browser send the cookie on a form post
 * but can read neither it nor the page, so it cannot repeat the token.
 */
function csrfCookie(req: IncomingMessage, res: ServerResponse, base: string): string {
  const existing = cookies(req).get(CSRF_COOKIE);
  if (existing && /^[A-Za-z0-9_-]{32,}$/.test(existing)) return existing;
  const token = randomBytes(24).toString("base64url");
  res.setHeader("set-cookie", `${CSRF_COOKIE}=${token}; Path=${base || "/"}; HttpOnly; SameSite=Strict`);
  return token;
}

function checkCsrf(req: IncomingMessage, body: Body, cookieToken: string): void {
  const sent = String(req.headers["x-sidetrack-csrf"] ?? body.get("_csrf") ?? "");
  const a = Buffer.from(sent);
  const b = Buffer.from(cookieToken);
  const fromCookie = cookies(req).get(CSRF_COOKIE) === cookieToken;
  if (!fromCookie || a.length !== b.length || !timingSafeEqual(a, b)) throw new HttpError(403, "missing or wrong CSRF token: reload the page and try again");
}

function sendHtml(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { ...SECURITY_HEADERS, "content-type": "text/html; charset=utf-8" });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, data: unknown): void {
  res.writeHead(status, { ...SECURITY_HEADERS, "content-type": "application/json; charset=utf-8" });
  res.end(JSON.stringify(data));
}

function sendAsset(res: ServerResponse, type: string, body: string): void {
  res.writeHead(200, { "content-type": type, "x-content-type-options": "nosniff", "cache-control": "public, max-age=300" });
  res.end(body);
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(303, { ...SECURITY_HEADERS, location });
  res.end();
}

function notFound(res: ServerResponse, next: ((error?: unknown) => void) | undefined, api: boolean): void {
  if (next) return next();
  if (api) return sendJson(res, 404, { error: "not found" });
  sendHtml(res, 404, "<!doctype html><title>Not found</title><h1>404</h1><p>No such page.</p>");
}

// Reads and bulk changes behind the web dashboard (sidetrack/dashboard). Every read is bounded so
// a dashboard left open on a busy installation does not load its database: see the statements in
// db/sql/dashboard.ts.
import {
  DASHBOARD_BULK_BATCH,
  DASHBOARD_EXACT_COUNT_MAX_ROWS,
  DASHBOARD_MATCH_COUNT_CAP,
  DASHBOARD_PAGE_SIZE,
  DASHBOARD_SAMPLE_PERCENT,
} from "../config/defaults.js";
import { DEFAULT_SCHEMA, isJobId, validateSchemaName } from "../config/identifiers.js";
import { parseJob } from "../db/rows.js";
import { getJobSql } from "../db/sql/readJobs.js";
import { toDbClient, type AnyDbClient, type DbClient } from "../db/clients.js";
import {
  countMatchingSql,
  deleteJobsSql,
  finishedCountsSql,
  jobsPageByIdSql,
  jobsPageByRunAtSql,
  jobsRowEstimateSql,
  liveCountsSql,
  matchingIdsSql,
  queueRowsSql,
  sampledFinishedCountsSql,
  tableColumnsSql,
  throughputSql,
  workersSql,
} from "../db/sql/dashboard.js";
import { SidetrackValidationError } from "../errors.js";
import { JOB_STATUSES, type Job, type JobStatus } from "../types.js";
import { retryJob } from "./admin.js";
import { cancelJob } from "./jobs.js";

export interface QueueCounts {
  queue: string;
  scheduledReady: number;
  scheduledFuture: number;
  running: number;
  retrying: number;
  completed: number;
  failed: number;
  cancelled: number;
  oldestReadyAgeMs: number | null;
  /** From the queues table when it exists (flow control); undefined when there is none. */
  paused?: boolean;
}

export interface Overview {
  queues: QueueCounts[];
  /** False when completed / failed / cancelled are estimates from a sample (big tables). */
  finishedCountsExact: boolean;
  /** The planner's estimate of the jobs table's rows. */
  estimatedRows: number;
  /** Completed and failed jobs per minute, last hour, oldest first; minutes without any are absent. */
  throughput: { minuteMs: number; completed: number; failed: number }[];
}

function schemaOf(options: { schema?: string }): string {
  return validateSchemaName(options.schema ?? DEFAULT_SCHEMA);
}

/** Counts per queue and state, the oldest ready job's age and the last hour's throughput. */
export async function dashboardOverview(db: AnyDbClient, options: { schema?: string } = {}): Promise<Overview> {
  const schema = schemaOf(options);
  const client = toDbClient(db);
  const [estimate] = await client.query<{ n: string }>(jobsRowEstimateSql(schema), [schema]);
  const estimatedRows = Number(estimate?.n ?? 0);
  const exact = estimatedRows < DASHBOARD_EXACT_COUNT_MAX_ROWS;
  const [live, finished, throughput, queueRows] = await Promise.all([
    client.query<{ queue: string; status: JobStatus; due: boolean; n: string; oldest_ready_age_ms: string | null }>(liveCountsSql(schema)),
    exact
      ? client.query<{ queue: string; status: JobStatus; n: string }>(finishedCountsSql(schema))
      : client.query<{ queue: string; status: JobStatus; n: string }>(sampledFinishedCountsSql(schema), [DASHBOARD_SAMPLE_PERCENT]),
    client.query<{ minute_ms: number; completed: string; failed: string }>(throughputSql(schema)),
    queueTableRows(client, schema),
  ]);
  const byQueue = new Map<string, QueueCounts>();
  const entry = (queue: string): QueueCounts => {
    let q = byQueue.get(queue);
    if (!q) {
      q = { queue, scheduledReady: 0, scheduledFuture: 0, running: 0, retrying: 0, completed: 0, failed: 0, cancelled: 0, oldestReadyAgeMs: null };
      byQueue.set(queue, q);
    }
    return q;
  };
  for (const r of live) {
    const q = entry(r.queue);
    const n = Number(r.n);
    if (r.status === "scheduled") {
      if (r.due) q.scheduledReady += n;
      else q.scheduledFuture += n;
    } else if (r.status === "running") q.running += n;
    else if (r.status === "retrying") q.retrying += n;
    if (r.oldest_ready_age_ms !== null) {
      const age = Math.max(0, Number(r.oldest_ready_age_ms));
      q.oldestReadyAgeMs = Math.max(q.oldestReadyAgeMs ?? 0, age);
    }
  }
  const scale = exact ? 1 : 100 / DASHBOARD_SAMPLE_PERCENT;
  for (const r of finished) {
    const q = entry(r.queue);
    const n = Math.round(Number(r.n) * scale);
    if (r.status === "completed") q.completed = n;
    else if (r.status === "failed") q.failed = n;
    else if (r.status === "cancelled") q.cancelled = n;
  }
  for (const row of queueRows ?? []) {
    const name = typeof row.name === "string" ? row.name : row.queue;
    if (typeof name === "string" && typeof row.paused === "boolean") entry(name).paused = row.paused;
  }
  return {
    queues: [...byQueue.values()].sort((a, b) => (a.queue < b.queue ? -1 : a.queue > b.queue ? 1 : 0)),
    finishedCountsExact: exact,
    estimatedRows,
    throughput: throughput.map((r) => ({ minuteMs: Number(r.minute_ms), completed: Number(r.completed), failed: Number(r.failed) })),
  };
}

/** Which jobs a page or a bulk action covers. Every field is optional; `q` is text in the payload, or a job id. */
export interface JobFilter {
  queue?: string;
  status?: JobStatus;
  q?: string;
  /** Jobs carrying this tag. */
  tag?: string;
}

export interface JobsPageOptions {
  schema?: string;
  /** `id`: newest first (default); `run_at`: earliest first. */
  sort?: "id" | "run_at";
  /** The `next` cursor of the previous page. */
  cursor?: string;
  limit?: number;
}

export interface JobSummary {
  id: string;
  queue: string;
  status: JobStatus;
  attempt: number;
  maxAttempts: number;
  priority: number;
  runAt: Date;
  insertedAt: Date;
  finalizedAt: Date | null;
  /** The payload as JSON text, cut at 160 characters. */
  payloadPreview: string;
}

export interface JobsPage {
  jobs: JobSummary[];
  /** Pass as `cursor` for the next page; null on the last page. */
  next: string | null;
}

/** Checks a filter that came from outside (a URL), naming the field at fault. */
export function checkJobFilter(filter: JobFilter): JobFilter {
  if (filter.status !== undefined && !JOB_STATUSES.includes(filter.status)) {
    throw new SidetrackValidationError(`filter.status: unknown status ${JSON.stringify(filter.status)}; one of ${JOB_STATUSES.join(", ")}`);
  }
  if (filter.queue !== undefined && typeof filter.queue !== "string") throw new SidetrackValidationError("filter.queue: must be a string");
  if (filter.q !== undefined && typeof filter.q !== "string") throw new SidetrackValidationError("filter.q: must be a string");
  if (filter.tag !== undefined && typeof filter.tag !== "string") throw new SidetrackValidationError("filter.tag: must be a string");
  return filter;
}

function filterParams(filter: JobFilter): unknown[] {
  checkJobFilter(filter);
  return [filter.queue || null, filter.status || null, [filter.q || null, filter.tag || null]];
}

/** One keyset page of jobs matching the filter. */
export async function jobsPage(db: AnyDbClient, filter: JobFilter, options: JobsPageOptions = {}): Promise<JobsPage> {
  const schema = schemaOf(options);
  const limit = options.limit ?? DASHBOARD_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new SidetrackValidationError(`jobsPage: limit must be an integer from 1 to 1000, got ${limit}`);
  const sort = options.sort ?? "id";
  if (sort !== "id" && sort !== "run_at") throw new SidetrackValidationError(`jobsPage: sort must be "id" or "run_at", got ${JSON.stringify(sort)}`);
  const [cursorId, cursorRunAt] = parseCursor(options.cursor, sort);
  const client = toDbClient(db);
  const base = filterParams(filter);
  const rows =
    sort === "id"
      ? await client.query<ListRow>(jobsPageByIdSql(schema), [...base, cursorId, limit + 1])
      : await client.query<ListRow>(jobsPageByRunAtSql(schema), [...base, cursorId, limit + 1, cursorRunAt]);
  const jobs = rows.slice(0, limit).map(toSummary);
  const last = rows[Math.min(rows.length, limit) - 1];
  const next = rows.length > limit && last ? (sort === "id" ? last.id : `${last.run_at_us}_${last.id}`) : null;
  return { jobs, next };
}

interface ListRow {
  id: string;
  queue: string;
  status: JobStatus;
  attempt: number;
  max_attempts: number;
  priority: number;
  run_at_ms: number;
  run_at_us: string;
  inserted_at_ms: number;
  finalized_at_ms: number | null;
  payload_preview: string;
}

function toSummary(r: ListRow): JobSummary {
  return {
    id: r.id,
    queue: r.queue,
    status: r.status,
    attempt: Number(r.attempt),
    maxAttempts: Number(r.max_attempts),
    priority: Number(r.priority),
    runAt: new Date(Number(r.run_at_ms)),
    insertedAt: new Date(Number(r.inserted_at_ms)),
    finalizedAt: r.finalized_at_ms === null ? null : new Date(Number(r.finalized_at_ms)),
    payloadPreview: r.payload_preview,
  };
}

function parseCursor(cursor: string | undefined, sort: "id" | "run_at"): [string | null, string | null] {
  if (cursor === undefined || cursor === "") return [null, null];
  if (sort === "id") {
    if (!isJobId(cursor)) throw new SidetrackValidationError(`cursor: expected a job id, got ${JSON.stringify(cursor)}`);
    return [cursor, null];
  }
  const m = /^(-?\d{1,18})_(\d{1,18})$/.exec(cursor);
  if (!m) throw new SidetrackValidationError(`cursor: expected <run_at in µs>_<id>, got ${JSON.stringify(cursor)}`);
  return [m[2]!, m[1]!];
}

/** How many jobs match, counted up to DASHBOARD_MATCH_COUNT_CAP; `capped` when there are more. */
export async function countMatchingJobs(db: AnyDbClient, filter: JobFilter, options: { schema?: string } = {}): Promise<{ count: number; capped: boolean }> {
  const schema = schemaOf(options);
  const [row] = await toDbClient(db).query<{ n: string }>(countMatchingSql(schema), [...filterParams(filter), DASHBOARD_MATCH_COUNT_CAP + 1]);
  const n = Number(row?.n ?? 0);
  return { count: Math.min(n, DASHBOARD_MATCH_COUNT_CAP), capped: n > DASHBOARD_MATCH_COUNT_CAP };
}

export const JOB_ACTIONS = ["retry", "cancel", "delete"] as const;
export type JobAction = (typeof JOB_ACTIONS)[number];

export interface JobActionResult {
  /** Jobs looked at. */
  processed: number;
  /** Jobs the action changed; the others were in a state it does not apply to (or held a unique key). */
  changed: number;
}

/** Retries, cancels or deletes the listed jobs. Running jobs are never deleted (cancel them first). */
export async function actOnJobs(db: AnyDbClient, action: JobAction, ids: readonly string[], options: { schema?: string } = {}): Promise<JobActionResult> {
  const schema = schemaOf(options);
  if (!JOB_ACTIONS.includes(action)) throw new SidetrackValidationError(`action: one of ${JOB_ACTIONS.join(", ")}, got ${JSON.stringify(action)}`);
  const bad = ids.find((id) => !isJobId(id));
  if (bad !== undefined) throw new SidetrackValidationError(`ids: ${JSON.stringify(bad)} is not a job id`);
  const client = toDbClient(db);
  if (action === "delete") {
    const deleted = ids.length === 0 ? [] : await client.query<{ id: string }>(deleteJobsSql(schema), [[...ids]]);
    return { processed: ids.length, changed: deleted.length };
  }
  let changed = 0;
  for (const id of ids) {
    if (action === "cancel") {
      if ((await cancelJob(client, id, { schema })) !== undefined) changed++;
    } else {
      const outcome = await retryJob(client, id, { schema });
      if (outcome.outcome === "retried") changed++;
    }
  }
  return { processed: ids.length, changed };
}

export interface BulkStep extends JobActionResult {
  /** Pass as `after` to the next step; the action is done when `done` is true. */
  after: string;
  done: boolean;
}

/**
 * One batch of an action on every job matching the filter: the next `batchSize` matching jobs
 * with an id above `after`. Callers loop until `done`, showing progress; each batch commits on
 * its own so a big filter never holds one long transaction.
 */
export async function actOnMatchingJobs(
  db: AnyDbClient,
  action: JobAction,
  filter: JobFilter,
  options: { schema?: string; after?: string; batchSize?: number } = {},
): Promise<BulkStep> {
  const schema = schemaOf(options);
  const after = options.after ?? "0";
  if (!isJobId(after)) throw new SidetrackValidationError(`after: expected a job id, got ${JSON.stringify(after)}`);
  const batchSize = options.batchSize ?? DASHBOARD_BULK_BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) throw new SidetrackValidationError(`batchSize: an integer from 1 to 10000, got ${batchSize}`);
  const client = toDbClient(db);
  const rows = await client.query<{ id: string }>(matchingIdsSql(schema), [...filterParams(filter), after, batchSize]);
  const ids = rows.map((r) => r.id);
  const result = await actOnJobs(client, action, ids, { schema });
  return { ...result, after: ids[ids.length - 1] ?? after, done: ids.length < batchSize };
}

/** Tables other features add (the workers registry, the queues table): which exist, with which columns. */
export async function optionalTables(db: AnyDbClient, options: { schema?: string } = {}): Promise<{ workers: boolean; queuesPaused: boolean }> {
  const schema = schemaOf(options);
  const client = toDbClient(db);
  const [workers, queues] = await Promise.all([columnsOf(client, schema, "workers"), columnsOf(client, schema, "queues")]);
  return { workers: workers.includes("heartbeat_at"), queuesPaused: queues.includes("paused") };
}

async function columnsOf(client: DbClient, schema: string, table: string): Promise<string[]> {
  return (await client.query<{ name: string }>(tableColumnsSql(), [schema, table])).map((r) => r.name);
}

async function queueTableRows(client: DbClient, schema: string): Promise<Record<string, unknown>[] | undefined> {
  const columns = await columnsOf(client, schema, "queues");
  if (!columns.includes("paused")) return undefined;
  return (await client.query<{ queue: string }>(queueRowsSql(schema))).map((r) => JSON.parse(r.queue) as Record<string, unknown>);
}

/** Rows of the workers registry when it exists (undefined when it does not), as stored. */
export async function listWorkerRows(db: AnyDbClient, options: { schema?: string } = {}): Promise<Record<string, unknown>[] | undefined> {
  const schema = schemaOf(options);
  const client = toDbClient(db);
  if (!(await optionalTables(client, { schema })).workers) return undefined;
  return (await client.query<{ worker: string }>(workersSql(schema))).map((r) => JSON.parse(r.worker) as Record<string, unknown>);
}

/** The columns Job carries; any other column of the row (cron tick, tags, output …) is `extra`. */
const JOB_COLUMNS = new Set([
  "id", "queue", "payload", "status", "priority", "attempt", "max_attempts", "run_at", "inserted_at", "started_at",
  "completed_at", "failed_at", "cancelled_at", "finalized_at", "locked_by", "locked_until", "errors", "unique_key",
]);

/**
 * One job for the job page: the Job, and every other column of its row as stored (the cron
 * schedule and tick today; output, progress, tags or meta when later migrations add them).
 */
export async function jobDetail(db: AnyDbClient, id: string, options: { schema?: string } = {}): Promise<{ job: Job; extra: Record<string, unknown> } | undefined> {
  const schema = schemaOf(options);
  const [row] = await toDbClient(db).query<{ job: string }>(getJobSql(schema), [String(id)]);
  if (!row) return undefined;
  const raw = JSON.parse(row.job) as Record<string, unknown>;
  const extra = Object.fromEntries(Object.entries(raw).filter(([k, v]) => !JOB_COLUMNS.has(k) && v !== null));
  return { job: parseJob(row.job), extra };
}

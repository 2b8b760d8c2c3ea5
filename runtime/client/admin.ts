// Operator functions behind `sidetrack status` and `sidetrack jobs retry`; usable from code too.
import { toDbClient, type AnyDbClient } from "../db/clients.js";
import { RETENTION_COMPLETED_DEFAULT_MS, RETRY_BATCH_DEFAULT } from "../config/defaults.js";
import { SidetrackUniqueConflictError, SidetrackValidationError } from "../errors.js";
import { DEFAULT_SCHEMA, jobsChannel, validateSchemaName } from "../config/identifiers.js";
import { parseJob } from "../db/rows.js";
import type { Job, JobStatus } from "../types.js";
import { getJobSql } from "../db/sql/readJobs.js";
import { countRetryableSql, retryJobsSql } from "../db/sql/retryJobs.js";
import { knownQueuesSql, queueExistsSql, queueStatusSql } from "../db/sql/status.js";
import { listWorkersSql } from "../db/sql/workers.js";

export interface QueueStatus {
  queue: string;
  /** Scheduled and due: a worker may claim them now. */
  scheduledReady: number;
  /** Scheduled for later (run_at in the future). */
  scheduledFuture: number;
  running: number;
  /** Waiting for their next attempt after a failure. */
  retrying: number;
  failed: number;
  /** Completed within the window asked for (`completedWithinMs`). */
  completed: number;
  cancelled: number;
  /** How long the oldest job a worker could claim now (scheduled or retrying) has been due; null when none. */
  oldestReadyAgeMs: number | null;
}

export interface QueueStatusOptions {
  schema?: string;
  /** Only this queue. */
  queue?: string;
  /** Count completed jobs finalized within this many ms. Default: the completed retention (24 h). */
  completedWithinMs?: number;
}

/** Job counts per queue, in queue order; queues without jobs do not appear. */
export async function queueStatus(db: AnyDbClient, options: QueueStatusOptions = {}): Promise<QueueStatus[]> {
  const schema = validateSchemaName(options.schema ?? DEFAULT_SCHEMA);
  const window = options.completedWithinMs ?? RETENTION_COMPLETED_DEFAULT_MS;
  const rows = await toDbClient(db).query<Record<string, string | null>>(queueStatusSql(schema), [
    options.queue ?? null,
    Math.round(window),
  ]);
  return rows.map((r) => ({
    queue: String(r.queue),
    scheduledReady: Number(r.scheduled_ready),
    scheduledFuture: Number(r.scheduled_future),
    running: Number(r.running),
    retrying: Number(r.retrying),
    failed: Number(r.failed),
    completed: Number(r.completed),
    cancelled: Number(r.cancelled),
    oldestReadyAgeMs: r.oldest_ready_age_ms === null ? null : Math.max(0, Number(r.oldest_ready_age_ms)),
  }));
}

/** Every queue that has at least one job (the database knows no other queues). */
export async function knownQueues(db: AnyDbClient, options: { schema?: string } = {}): Promise<string[]> {
  const schema = validateSchemaName(options.schema ?? DEFAULT_SCHEMA);
  const rows = await toDbClient(db).query<{ queue: string }>(knownQueuesSql(schema));
  return rows.map((r) => r.queue);
}

/** Whether any job, in any state, belongs to this queue. */
export async function queueHasJobs(db: AnyDbClient, queue: string, options: { schema?: string } = {}): Promise<boolean> {
  const schema = validateSchemaName(options.schema ?? DEFAULT_SCHEMA);
  const [row] = await toDbClient(db).query<{ found: boolean }>(queueExistsSql(schema), [queue]);
  return row?.found === true;
}

/** Statuses a retry accepts: failed jobs, and cancelled ones (to undo a cancel). */
export const RETRYABLE_STATUSES = ["failed", "cancelled"] as const satisfies readonly JobStatus[];
export type RetryableStatus = (typeof RETRYABLE_STATUSES)[number];

/** A job a retry left alone because a live job holds its unique key. */
export interface RetrySkip {
  id: string;
  /** The live job (or the job retried earlier in the same call) holding the key. */
  heldBy: string;
}

export interface RetryJobsOptions {
  schema?: string;
  queue: string;
  /** Which jobs to retry. Default "failed". */
  status?: RetryableStatus;
  /** Jobs changed per statement (each batch commits on its own). Default 1000. */
  batchSize?: number;
  /** Called after each batch. `total` is counted before the first batch. */
  onProgress?: (progress: { processed: number; retried: number; skipped: number; total: number }) => void;
}

export interface RetryJobsResult {
  retried: number;
  skipped: RetrySkip[];
  total: number;
}

/**
 * Retries every failed (or cancelled) job of a queue, in batches, so thousands of jobs never
 * sit in one long transaction. Each job goes back to `scheduled`, due now, keeps its errors
 * and gets at least one more attempt. Jobs whose unique key a live job holds are skipped.
 */
export async function retryJobs(db: AnyDbClient, options: RetryJobsOptions): Promise<RetryJobsResult> {
  const schema = validateSchemaName(options.schema ?? DEFAULT_SCHEMA);
  const status = retryableStatus(options.status ?? "failed");
  const batchSize = options.batchSize ?? RETRY_BATCH_DEFAULT;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new SidetrackValidationError(`retryJobs: batchSize must be a positive integer, got ${batchSize}`);
  }
  const client = toDbClient(db);
  const [count] = await client.query<{ n: string }>(countRetryableSql(schema), [options.queue, [status]]);
  const total = Number(count?.n ?? 0);
  const result: RetryJobsResult = { retried: 0, skipped: [], total };
  let processed = 0;
  let after = "0";
  for (;;) {
    const rows = await runRetry(client, schema, [null, options.queue, [status], after, batchSize]);
    if (rows.length === 0) break;
    for (const row of rows) {
      if (row.retried) result.retried++;
      else if (row.held_by !== null) result.skipped.push({ id: row.id, heldBy: row.held_by });
    }
    processed += rows.length;
    after = rows[rows.length - 1]!.id;
    options.onProgress?.({ processed, retried: result.retried, skipped: result.skipped.length, total: Math.max(total, processed) });
  }
  return result;
}

export type RetryJobResult =
  | { outcome: "retried"; job: Job }
  | { outcome: "not-found" }
  /** The job exists but is not failed or cancelled (retrying it would run it twice). */
  | { outcome: "not-retryable"; status: JobStatus }
  | { outcome: "unique-conflict"; heldBy: string };

/** Retries one failed or cancelled job; says why when it cannot. */
export async function retryJob(db: AnyDbClient, id: string, options: { schema?: string } = {}): Promise<RetryJobResult> {
  const schema = validateSchemaName(options.schema ?? DEFAULT_SCHEMA);
  const client = toDbClient(db);
  const [row] = await runRetry(client, schema, [String(id), null, [...RETRYABLE_STATUSES], "0", 1]);
  if (row?.retried && row.job) return { outcome: "retried", job: parseJob(row.job) };
  if (row?.held_by) return { outcome: "unique-conflict", heldBy: row.held_by };
  // Not a candidate: either no such job or one in another state. Read it to say which.
  const [current] = await client.query<{ job: string }>(getJobSql(schema), [String(id)]);
  return current ? { outcome: "not-retryable", status: parseJob(current.job).status } : { outcome: "not-found" };
}

interface RetryRow {
  id: string;
  retried: boolean;
  held_by: string | null;
  job: string | null;
}

async function runRetry(client: ReturnType<typeof toDbClient>, schema: string, params: unknown[]): Promise<RetryRow[]> {
  try {
    return await client.query<RetryRow>(retryJobsSql(schema), [...params, jobsChannel(schema)]);
  } catch (error) {
    const e = error as { code?: string; constraint?: string; message?: string };
    if (e.code === "23505" || String(e.message).includes("jobs_unique_key_idx")) {
      throw new SidetrackUniqueConflictError(
        "retry collided with a job inserted meanwhile that holds the same unique key; nothing in that batch changed, run the retry again",
      );
    }
    throw error;
  }
}

function retryableStatus(status: string): RetryableStatus {
  if (!(RETRYABLE_STATUSES as readonly string[]).includes(status)) {
    throw new SidetrackValidationError(`retry: status must be one of ${RETRYABLE_STATUSES.join(", ")}, got ${JSON.stringify(status)}`);
  }
  return status as RetryableStatus;
}

/** A registered worker process (`listWorkers()`, `sidetrack workers`). */
export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  queues: string[];
  concurrency: number;
  /** The Sidetrack version it runs. */
  version: string;
  startedAt: Date;
  heartbeatAt: Date;
  heartbeatAgeMs: number;
  /** Backend pid of its liveness session; null when poll-only. */
  backendPid: number | null;
  /** Whether its liveness lock is held now; null when poll-only (judged by heartbeat age). */
  alive: boolean | null;
}

/**
 * Every worker in the registry, oldest first. A worker that died stays listed (alive: false)
 * until a running worker's rescuer removes it, within a couple of seconds.
 */
export async function listWorkers(db: AnyDbClient, options: { schema?: string } = {}): Promise<WorkerInfo[]> {
  const schema = validateSchemaName(options.schema ?? DEFAULT_SCHEMA);
  const rows = await toDbClient(db).query<Record<string, unknown>>(listWorkersSql(schema));
  return rows.map((r) => ({
    id: String(r.id),
    host: String(r.host),
    pid: Number(r.pid),
    queues: r.queues as string[],
    concurrency: Number(r.concurrency),
    version: String(r.version),
    startedAt: new Date(r.started_at as string | Date),
    heartbeatAt: new Date(r.heartbeat_at as string | Date),
    heartbeatAgeMs: Math.max(0, Number(r.heartbeat_age_ms)),
    backendPid: r.backend_pid === null ? null : Number(r.backend_pid),
    alive: r.lock_held === null ? null : r.lock_held === true,
  }));
}

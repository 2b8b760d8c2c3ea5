/** The six states of a job (DESIGN §3). */
export const JOB_STATUSES = ["scheduled", "running", "retrying", "completed", "failed", "cancelled"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** States in which a job still holds its unique key. */
export const LIVE_STATUSES: readonly JobStatus[] = ["scheduled", "running", "retrying"];

/** One failed attempt, as kept in `job.errors`. */
export interface JobError {
  attempt: number;
  message: string;
  stack?: string;
  at: Date;
}

export interface Job<Payload = unknown, Queue extends string = string> {
  /** A string whatever client inserted it (the column is a bigint). */
  id: string;
  queue: Queue;
  payload: Payload;
  status: JobStatus;
  /** Lower runs first. */
  priority: number;
  /** Attempts started so far (1 during the first run). */
  attempt: number;
  maxAttempts: number;
  runAt: Date;
  insertedAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
  failedAt: Date | null;
  cancelledAt: Date | null;
  finalizedAt: Date | null;
  lockedBy: string | null;
  lockedUntil: Date | null;
  errors: JobError[];
  uniqueKey: string | null;
}

/** What an insert returns: the job, and whether it already existed (a `uniqueKey` match). */
export type InsertedJob<Payload = unknown, Queue extends string = string> = Job<Payload, Queue> & {
  duplicate: boolean;
};

/**
 * Every statement that returns jobs returns each as one JSON text column (`job`), built by
 * `jobJson()` below. That reads the same through pg and Prisma (which disagree on bigint,
 * jsonb and timestamp types) and keeps ids exact.
 */
export function jobJson(alias: string): string {
  return `(to_jsonb(${alias}) || jsonb_build_object('id', ${alias}.id::text))::text`;
}

interface JobRecord {
  id: string;
  queue: string;
  payload: unknown;
  status: JobStatus;
  priority: number;
  attempt: number;
  max_attempts: number;
  run_at: string;
  inserted_at: string;
  started_at: string | null;
  completed_at: string | null;
  failed_at: string | null;
  cancelled_at: string | null;
  finalized_at: string | null;
  locked_by: string | null;
  locked_until: string | null;
  errors: { attempt: number; message: string; stack?: string; at: string }[];
  unique_key: string | null;
}

const date = (value: string | null): Date | null => (value === null ? null : new Date(value));

export function parseJob<Payload = unknown>(json: string): Job<Payload> {
  const r = JSON.parse(json) as JobRecord;
  return {
    id: r.id,
    queue: r.queue,
    payload: r.payload as Payload,
    status: r.status,
    priority: r.priority,
    attempt: r.attempt,
    maxAttempts: r.max_attempts,
    runAt: new Date(r.run_at),
    insertedAt: new Date(r.inserted_at),
    startedAt: date(r.started_at),
    completedAt: date(r.completed_at),
    failedAt: date(r.failed_at),
    cancelledAt: date(r.cancelled_at),
    finalizedAt: date(r.finalized_at),
    lockedBy: r.locked_by,
    lockedUntil: date(r.locked_until),
    errors: r.errors.map((e) => ({ ...e, at: new Date(e.at) })),
    uniqueKey: r.unique_key,
  };
}

/**
 * What a claim returns: the columns a running job needs, cheap to produce and to read (about
 * three times cheaper than `jobJson` on the hot path). Times travel as epoch milliseconds.
 */
export const CLAIMED_COLUMNS = `j.id::text as id, j.queue, j.payload::text as payload, j.priority, j.attempt,
  j.max_attempts, j.unique_key, j.locked_by,
  (extract(epoch from j.run_at) * 1000)::float8 as run_at_ms,
  (extract(epoch from j.inserted_at) * 1000)::float8 as inserted_at_ms,
  (extract(epoch from j.started_at) * 1000)::float8 as started_at_ms,
  (extract(epoch from j.locked_until) * 1000)::float8 as locked_until_ms,
  case when j.attempt > 1 then j.errors::text end as errors`;

/** One null per column of CLAIMED_COLUMNS: the claim's extra row that carries no job. */
export const NO_CLAIMED_COLUMNS = `null, null, null, null, null, null, null, null, null, null, null, null, null`;

export interface ClaimedRow {
  id: string;
  queue: string;
  payload: string;
  priority: number;
  attempt: number;
  max_attempts: number;
  unique_key: string | null;
  locked_by: string;
  run_at_ms: number;
  inserted_at_ms: number;
  started_at_ms: number;
  locked_until_ms: number;
  errors: string | null;
}

/** A job as its handler sees it, from a claim's row. */
export function parseClaimedJob(r: ClaimedRow): Job {
  const errors = r.errors === null ? [] : (JSON.parse(r.errors) as JobRecord["errors"]).map((e) => ({ ...e, at: new Date(e.at) }));
  return {
    id: r.id,
    queue: r.queue,
    payload: JSON.parse(r.payload),
    status: "running",
    priority: r.priority,
    attempt: r.attempt,
    maxAttempts: r.max_attempts,
    runAt: new Date(r.run_at_ms),
    insertedAt: new Date(r.inserted_at_ms),
    startedAt: new Date(r.started_at_ms),
    completedAt: null,
    failedAt: null,
    cancelledAt: null,
    finalizedAt: null,
    lockedBy: r.locked_by,
    lockedUntil: new Date(r.locked_until_ms),
    errors,
    uniqueKey: r.unique_key,
  };
}

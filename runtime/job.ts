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

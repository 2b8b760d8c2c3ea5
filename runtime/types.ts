// The types a user of Sidetrack touches: jobs, handlers, the logger and events. Nothing here
// runs; what reads and writes jobs lives in the subsystem folders.

/** The six states of a job; see docs/architecture.md for the transitions between them. */
export const JOB_STATUSES = ["scheduled", "running", "retrying", "completed", "failed", "cancelled"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** States in which a job still holds its unique key (the partial unique index lists the same). */
export const LIVE_STATUSES = ["scheduled", "running", "retrying"] as const satisfies readonly JobStatus[];

/** States a worker may claim from once run_at is reached. */
export const READY_STATUSES = ["scheduled", "retrying"] as const satisfies readonly JobStatus[];

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
  /**
   * Metadata that is not the payload; keys starting with "sidetrack." are reserved
   * ("sidetrack.trace": the W3C trace context of the insert). Set on jobs a worker claims.
   */
  meta?: Record<string, unknown> | null;
}

/** What an insert returns: the job, and whether it already existed (a `uniqueKey` match). */
export type InsertedJob<Payload = unknown, Queue extends string = string> = Job<Payload, Queue> & {
  duplicate: boolean;
};

/** What a handler gets besides the job. */
export interface JobContext {
  /**
   * Aborted when the job times out, is cancelled, or the worker shuts down past its grace
   * period; `signal.reason` is then a JobTimeoutError or a JobAbortedError.
   */
  signal: AbortSignal;
}

/** A queue's handler. Resolving completes the job; throwing fails the attempt (and retries it). */
export type Handler<Payload = unknown, Queue extends string = string> = (
  job: Job<Payload, Queue>,
  context: JobContext,
) => unknown | Promise<unknown>;

/** Where Sidetrack writes what it has to say. Quiet by default apart from errors. */
export interface Logger {
  debug(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

/** Events a Sidetrack instance emits (`sidetrack.on(name, listener)`). */
export interface SidetrackEvents {
  "job:started": [job: Job];
  "job:completed": [job: Job];
  "job:retrying": [job: Job, error: unknown];
  "job:failed": [job: Job, error: unknown];
  "job:cancelled": [job: Job];
  "job:rescued": [jobId: string, outcome: "retrying" | "failed"];
  error: [error: unknown];
}

/** A schedule as stored. */
export interface CronSchedule<Payload = unknown, Queue extends string = string> {
  id: string;
  queue: Queue;
  /** Normalised: trimmed, fields separated by one space. With `queue`, the schedule's identity. */
  expression: string;
  timezone: string;
  payload: Payload;
  /** After downtime, run the most recent missed tick (default: skip every missed tick). */
  runMissed: boolean;
  /** `declared` by a queue's `cron` option (kept in sync by start()), or `programmatic` (scheduleCron). */
  source: "declared" | "programmatic";
  active: boolean;
  nextRunAt: Date;
  /** The latest tick that inserted a job. */
  lastRunAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface ScheduleCronOptions {
  /** IANA timezone the expression is read in. Default UTC. */
  timezone?: string;
  /** After downtime, insert one job for the most recent missed tick. Default false: skip them all. */
  runMissed?: boolean;
}

/** The Standard Schema v1 interface, as every implementing library exposes it on `schema["~standard"]`. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly "~standard": StandardSchemaV1.Props<Input, Output>;
}

export declare namespace StandardSchemaV1 {
  interface Props<Input = unknown, Output = Input> {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => Result<Output> | Promise<Result<Output>>;
    readonly types?: Types<Input, Output> | undefined;
  }
  type Result<Output> = SuccessResult<Output> | FailureResult;
  interface SuccessResult<Output> {
    readonly value: Output;
    readonly issues?: undefined;
  }
  interface FailureResult {
    readonly issues: ReadonlyArray<Issue>;
  }
  interface Issue {
    readonly message: string;
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined;
  }
  interface PathSegment {
    readonly key: PropertyKey;
  }
  interface Types<Input = unknown, Output = Input> {
    readonly input: Input;
    readonly output: Output;
  }
  /** What inserts take. */
  type InferInput<Schema extends StandardSchemaV1> = NonNullable<Schema["~standard"]["types"]>["input"];
  /** What is stored and what handlers receive. */
  type InferOutput<Schema extends StandardSchemaV1> = NonNullable<Schema["~standard"]["types"]>["output"];
}

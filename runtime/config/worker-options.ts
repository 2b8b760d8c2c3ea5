import type { Duration } from "./duration.js";
import type { Job } from "../types.js";

/** What a handler gets besides the job. */
export interface JobContext {
  /** Aborted when the job times out, is cancelled, or the worker shuts down past its grace period. */
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

export interface RetentionOptions {
  /** How long completed jobs stay readable. Default 24h. */
  completed?: Duration;
  /** How long cancelled jobs stay readable. Default 24h. */
  cancelled?: Duration;
  /** How long failed jobs stay readable. Default 7 days. */
  failed?: Duration;
}

/** Settings of the worker side (`start()`); every field has a default in defaults.ts. */
export interface WorkerOptions {
  /** Jobs this process runs at once over all queues. Default 10. */
  concurrency?: number;
  /** Poll for ready jobs this often when no NOTIFY arrives. Default 1s. */
  pollInterval?: Duration;
  /** A claimed job's lease; renewed while the handler runs. Default 30s. */
  leaseDuration?: Duration;
  /** Look for jobs whose lease expired this often. Default 1s. */
  rescueInterval?: Duration;
  /** On stop()/SIGTERM, how long running jobs may still finish. Default 10s. */
  shutdownGrace?: Duration;
  /** Pruning of finished jobs. `false` turns the pruner off. */
  retention?: RetentionOptions | false;
  /** Only run these queues (default: every queue with a handler). */
  onlyQueues?: readonly string[];
  /** Stop gracefully on SIGTERM/SIGINT. Default true. */
  handleSignals?: boolean;
  /** Identifies this worker in `locked_by`. Default: hostname:pid:random. */
  workerId?: string;
  logger?: Logger;
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

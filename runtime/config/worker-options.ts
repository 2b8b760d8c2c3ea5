import type { Duration } from "./duration.js";
import type { Logger } from "../types.js";

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
  /**
   * Lock-ahead: jobs claimed beyond the free slots and held locally, so a freed slot starts its
   * next job without waiting for a claim. "auto" (default) sizes the buffer from the observed
   * completion rate and claim round trip (nothing for slow handlers, so they spread over all
   * workers); a number fixes it; 0 turns it off.
   */
  prefetch?: "auto" | number;
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
  /** Every log line about a job carries jobId, queue, attempt, workerId and traceId as fields. */
  logger?: Logger;
  /**
   * OpenTelemetry spans (when @opentelemetry/api is installed). `parent`: "link" (default) links
   * each attempt's CONSUMER span to the insert's PRODUCER span, starting a trace of its own;
   * "producer" makes the PRODUCER span its parent, so the attempt joins the inserting trace.
   */
  tracing?: { parent?: "link" | "producer" };
  /**
   * Open the worker's long-lived connection (LISTEN, and the liveness lock that lets others
   * rescue its jobs at once if it dies) here rather than through the pool: a direct connection
   * to PostgreSQL when the pool goes through a transaction-mode pooler (PgBouncer, RDS Proxy,
   * Supavisor), where LISTEN and session locks do not work.
   */
  listenConnectionString?: string;
  /**
   * `false`: no long-lived connection at all (poll-only). New jobs are found by polling, a
   * cancel reaches a running handler through the lease heartbeat, and if this worker dies its
   * jobs are rescued once its heartbeat is 10 s old instead of ~1.5 s. Default true.
   */
  listen?: boolean;
}

// Every default Sidetrack applies, named and explained in one place.

/** Attempts a job gets before it ends `failed`, unless the queue or the insert says otherwise. */
export const MAX_ATTEMPTS_DEFAULT = 25;

/** Priority of a job when neither queue nor insert sets one. Lower runs first. */
export const PRIORITY_DEFAULT = 0;

/** Largest accepted payload, as UTF-8 JSON. Jobs are rows: keep big blobs elsewhere and pass a reference. */
export const MAX_PAYLOAD_BYTES_DEFAULT = 1024 * 1024;

/** Jobs one worker process runs at once, over all queues. */
export const CONCURRENCY_DEFAULT = 10;

/** Running jobs per concurrency key across all workers when `concurrencyBy` is set without `concurrencyPerKey`: one at a time per key, the common case (serialise per tenant or user). */
export const CONCURRENCY_PER_KEY_DEFAULT = 1;

/** How long a claimed job stays leased to its worker without a heartbeat. */
export const LEASE_DURATION_DEFAULT_MS = 30_000;

/** How often the fetcher polls when no NOTIFY arrives (future jobs, retries, lost notifications). */
export const POLL_INTERVAL_DEFAULT_MS = 1_000;

/**
 * How often a worker looks for jobs whose lease expired: an index scan of running jobs, cheap
 * enough to run every second, so a crashed worker's job runs again within lease + ~1 s.
 */
export const RESCUE_INTERVAL_DEFAULT_MS = 1_000;

/** Retry backoff: delay = min(cap, base * 2^(attempt-1)) * jitter, jitter uniform in [0.5, 1.0]. */
export const BACKOFF_BASE_DEFAULT_MS = 1_000;
export const BACKOFF_MAX_DEFAULT_MS = 60 * 60_000;

/** How long running jobs get to finish after stop() or SIGTERM before they are aborted and returned. */
export const SHUTDOWN_GRACE_DEFAULT_MS = 10_000;

/** Retention: how long finished jobs stay readable before the pruner deletes them. */
export const RETENTION_COMPLETED_DEFAULT_MS = 24 * 3_600_000;
export const RETENTION_CANCELLED_DEFAULT_MS = 24 * 3_600_000;
export const RETENTION_FAILED_DEFAULT_MS = 7 * 24 * 3_600_000;

/** How often the pruner runs. */
export const PRUNE_INTERVAL_DEFAULT_MS = 60_000;

/**
 * Cron: how often each worker's cron service reads the schedules table. It also wakes at the
 * next due tick when that comes sooner, so a per-second schedule fires on time.
 */
export const CRON_TICK_INTERVAL_DEFAULT_MS = 1_000;

/**
 * Cron: a tick still unclaimed this long after its time counts as missed (no worker was
 * running). Later than that it is skipped (or, with `runMissed`, only the most recent missed
 * tick runs); within it every tick still fires once, so a short pause loses no tick.
 */
export const CRON_MISSED_AFTER_DEFAULT_MS = 60_000;

/** Cron: the timezone a schedule is read in when none is given. */
export const CRON_TIMEZONE_DEFAULT = "UTC";

/** Connections in the pool Sidetrack creates from a connection string (`databaseOptions.max`). */
export const POOL_SIZE_DEFAULT = 10;

/** Jobs `listJobs()` returns when no `limit` is given; page on with `afterId`. */
export const LIST_LIMIT_DEFAULT = 1_000;

/** Jobs `retryJobs()` moves per statement, so a bulk retry never holds many row locks at once. */
export const RETRY_BATCH_DEFAULT = 1_000;

/** Jobs one rescuer round returns to the queue (the rest wait for the next round, a second later). */
export const RESCUE_BATCH = 1_000;

/** Jobs one pruner statement deletes, so pruning a backlog never holds a long transaction. */
export const PRUNE_BATCH = 10_000;

/**
 * On stop, how long outcomes already produced may take to be written before the worker lets go
 * anyway (a dead database must not hold shutdown forever; those jobs come back through their
 * lease).
 */
export const DRAIN_DEADLINE_MS = 10_000;

/**
 * Leases are renewed every lease / HEARTBEAT_FRACTION, so two heartbeats can fail before a lease
 * lapses; never more often than HEARTBEAT_FLOOR_MS, whatever the lease.
 */
export const HEARTBEAT_FRACTION = 3;
export const HEARTBEAT_FLOOR_MS = 50;

/** Reconnect backoff for every database operation: the first retry after 100 ms, doubling to 5 s. */
export const RECONNECT_DELAY_FIRST_MS = 100;
export const RECONNECT_DELAY_MAX_MS = 5_000;

/**
 * Smallest accepted settings, in milliseconds. A lease shorter than 100 ms cannot be renewed in
 * time over a real network; poll and rescue intervals under 10 ms would spin the database.
 */
export const LEASE_DURATION_MIN_MS = 100;
export const POLL_INTERVAL_MIN_MS = 10;
export const RESCUE_INTERVAL_MIN_MS = 10;

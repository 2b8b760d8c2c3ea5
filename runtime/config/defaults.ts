// Every default Sidetrack applies, named and explained in one place.

/** Attempts a job gets before it ends `failed`, unless the queue or the insert says otherwise. */
export const MAX_ATTEMPTS_DEFAULT = 25;

/** Priority of a job when neither queue nor insert sets one. Lower runs first. */
export const PRIORITY_DEFAULT = 0;

/** Largest accepted payload, as UTF-8 JSON. Jobs are rows: keep big blobs elsewhere and pass a reference. */
export const MAX_PAYLOAD_BYTES_DEFAULT = 1024 * 1024;

/**
 * Times a handler may snooze one job (`return snooze(delay)`) before the next snooze fails it
 * instead: a handler that snoozes forever would otherwise never end and never be noticed.
 */
export const MAX_SNOOZES_DEFAULT = 100;

/** Largest handler output stored on a job, as UTF-8 JSON. Output is read back with the row: keep it small. */
export const MAX_OUTPUT_BYTES_DEFAULT = 256 * 1024;

/** Largest `ctx.progress()` value, as UTF-8 JSON: progress is rewritten up to once a second. */
export const MAX_PROGRESS_BYTES = 8 * 1024;

/** Shortest time between two progress writes of one job, in ms; the last value still lands before the outcome. */
export const PROGRESS_WRITE_INTERVAL_MS = 1_000;

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

/**
 * Lock-ahead (`prefetch`, default "auto"): the buffer of claimed jobs beyond the free slots
 * holds completions per second × claim round trip × PREFETCH_CLAIMS_AHEAD jobs, so a few claims
 * can be in flight before a slot waits; at most PREFETCH_AUTO_MAX. The cap is only a backstop:
 * the observed rate keeps the buffer at a few claims' worth, and at nothing for slow handlers.
 */
export const PREFETCH_CLAIMS_AHEAD = 3;
export const PREFETCH_AUTO_MAX = 1_000;
/**
 * The completion rate behind the lock-ahead target is sampled at most this often (a worker
 * ramping up on a full queue grows its buffer with each sample, so a short period is what lets it
 * reach full claims within a tenth of a second), measured over the newest samples spanning the
 * window, and falls by this fraction of the gap per 100 ms.
 */
export const PREFETCH_RATE_SAMPLE_MS = 20;
export const PREFETCH_RATE_WINDOW_MS = 100;
export const PREFETCH_RATE_FALL = 0.3;

/**
 * While every slot is busy, a worker claims once the room in its lock-ahead buffer reaches this
 * fraction of the buffer, not as soon as one job finishes. Handlers that take a while free slots
 * one at a time, and claiming at each left every claim with the few jobs that finished during one
 * round trip (5 ms handlers, 50 slots: about 25), each a statement of its own on both sides. The
 * rest of the buffer covers the claim's round trip. Completions waiting for that claim are
 * written on their own once the oldest has waited CLAIM_HOLD_COMPLETIONS_MS, so a claim held
 * back never holds an outcome back for long.
 */
export const PREFETCH_CLAIM_AT = 0.5;
export const CLAIM_HOLD_COMPLETIONS_MS = 20;

/**
 * A claim takes at most this many jobs of one queue. Larger claims are no cheaper per job, and
 * the claim statement states the bound as a constant: its per-queue limit is otherwise a
 * parameter the planner cannot see, so it estimates a tenth of the queue's ready jobs, and past
 * about 200,000 of them the estimate crosses jit_above_cost and PostgreSQL JIT-compiles every
 * claim (1,000,000 ready jobs: 21 ms for a claim of 500 instead of 3.3 ms).
 */
export const CLAIM_MAX_PER_QUEUE = 1_000;

/** A worker sends a second claim while one is in flight only when its pool has at least this many connections. */
export const CLAIM_LANES_MIN_POOL = 4;

/**
 * A buffered job is started only while more than this fraction of its lease remains, measured
 * on the local clock from before the claim (or the last renewal) was sent: a job whose lease may
 * have lapsed could already be running elsewhere.
 */
export const LEASE_START_MARGIN_FRACTION = 0.1;

/**
 * Batches of at least this many plain jobs (no unique key) are inserted through COPY when the
 * client can COPY (node-postgres); smaller ones, keyed rows and Prisma clients take the
 * single-statement insert. COPY takes two statements more (four round trips in its own
 * transaction against one): measured on a pool, level with the single statement at 100 to 200
 * jobs, 6.0 against 9.4 ms at 500, 13 against 21 ms at 1,000.
 */
export const COPY_THRESHOLD_ROWS = 500;

/** Lines per chunk written to a COPY stream. */
export const COPY_BATCH_ROWS = 1_000;

/**
 * Dashboard counts: finished jobs are counted exactly while the planner estimates the jobs table
 * below 200,000 rows (a scan that stays in the tens of milliseconds); past that they are
 * estimated from a 1 % block sample, and the page says so. Live jobs are always exact (they walk
 * the partial indexes, and a healthy installation has few).
 */
export const DASHBOARD_EXACT_COUNT_MAX_ROWS = 200_000;
export const DASHBOARD_SAMPLE_PERCENT = 1;
/**
 * "Jobs matching this filter" are counted up to 1,000; past that the page says "more than". A
 * rare state (2 % of a million rows) reaches 1,000 after reading about 50,000 rows.
 */
export const DASHBOARD_MATCH_COUNT_CAP = 1_000;
/** Jobs a bulk action changes per request: one request stays short, progress moves visibly. */
export const DASHBOARD_BULK_BATCH = 200;
/** Jobs per page of the jobs list. */
export const DASHBOARD_PAGE_SIZE = 50;

/**
 * How often the telemetry gauges (jobs per queue and state, oldest ready job's age) are read,
 * in ms: one grouped query over the unfinished jobs, 15 s being Prometheus's usual scrape
 * interval. The poll starts only once a reader or scrape asks for the gauges.
 */
export const GAUGE_POLL_INTERVAL_MS = 15_000;

/**
 * A job's CONSUMER span links to its PRODUCER span rather than being its child: a job may run
 * hours after the request that inserted it, and a parented trace would then span hours and
 * mix retries into one tree. Links keep each attempt its own trace, reachable from the insert.
 */
export const TRACE_PARENT_DEFAULT: "link" | "producer" = "link";

/**
 * Worker registry: each worker refreshes its row this often over its liveness session (one
 * small update; the row also tells `sidetrack workers` who is running).
 */
export const WORKER_HEARTBEAT_INTERVAL_MS = 500;

/**
 * A worker whose liveness lock is gone is rescued once its last heartbeat is this old: the time
 * a worker whose connection merely dropped has to reconnect and take a new lock (it reconnects
 * after 100 ms). A SIGKILLed worker's jobs therefore run again ~1-2 s after the kill.
 */
export const WORKER_LOCK_GRACE_MS = 1_500;

/**
 * A worker without a liveness session (poll-only, `listen: false`) is rescued once its
 * heartbeat is this old: twenty missed heartbeats, so a busy pool cannot make it look dead.
 */
export const WORKER_HEARTBEAT_STALE_MS = 10_000;

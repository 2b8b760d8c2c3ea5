import type pg from "pg";
import type { ResolvedWorkerOptions, RunnableQueue } from "../config/resolve.js";
import { Completer } from "./completer.js";
import { CronService, type CronServiceConfig } from "../cron/service.js";
import { Fetcher, type FreeSlots, type InFlight } from "./fetcher.js";
import { cancelChannel, jobsChannel, pauseChannel } from "../config/identifiers.js";
import { Notifier } from "./notifier.js";
import { Periodic } from "./periodic.js";
import { pruneJobs } from "./maintenance/pruner.js";
import { rescueJobs } from "./maintenance/rescuer.js";
import { JobRun, type Outcome } from "./job-run.js";
import { LockAhead } from "./lock-ahead.js";
import { StatementNames } from "../db/statement-names.js";
import { SidetrackError, type AbortReason } from "../errors.js";
import {
  CLAIM_MAX_PER_QUEUE,
  DRAIN_DEADLINE_MS,
  HEARTBEAT_FLOOR_MS,
  HEARTBEAT_FRACTION,
  WORKER_HEARTBEAT_INTERVAL_MS,
  WORKER_HEARTBEAT_STALE_MS,
  WORKER_LOCK_GRACE_MS,
  CLAIM_LANES_MIN_POOL,
  POOL_SIZE_DEFAULT,
  PREFETCH_CLAIM_AT,
} from "../config/defaults.js";
import { WorkerRegistry } from "./registry.js";
import { renewLeasesSql } from "../db/sql/renewLeases.js";
import { writeProgressSql } from "../db/sql/progressJobs.js";
import { outcomeWrite } from "./outcomes.js";
import { ProgressReporter } from "./progress.js";
import { returnJobsSql } from "../db/sql/returnJobs.js";
import type { Job, SidetrackEvents } from "../types.js";
import { describeThrown } from "../config/logger.js";
import { gauges, countJobs } from "../telemetry/metrics.js";
import { loadOtel } from "../telemetry/otel.js";
import { failureOutcome, RunTelemetry } from "../telemetry/run.js";
import { jobLogFields } from "../telemetry/log-fields.js";

/** A worker: the resolved options, where it works, and whom it tells. */
export interface WorkerConfig extends ResolvedWorkerOptions {
  pool: pg.Pool;
  schema: string;
  emit: <E extends keyof SidetrackEvents>(event: E, ...args: SidetrackEvents[E]) => void;
  /** Fire the cron schedules of these queues; no cron service when unset. */
  cron?: Omit<CronServiceConfig, "pool" | "schema" | "onError">;
}

/**
 * One worker process's engine: the fetcher claims jobs into free slots and the lock-ahead
 * buffer (lock-ahead.ts), each runs its handler,
 * the completer collects outcomes and writes them in batches (completions mostly inside the
 * fetcher's next claim), the heartbeat renews leases, the rescuer returns
 * jobs of dead workers, the pruner applies retention, and one LISTEN connection wakes the
 * fetcher on inserts and aborts jobs cancelled elsewhere.
 */
export class Worker {
  readonly #config: WorkerConfig;
  readonly #running = new Map<string, JobRun>();
  readonly #runningPerQueue = new Map<string, number>();
  /** Jobs started out of the lock-ahead buffer after waiting there, and for how long (ms). */
  readonly #bufferedMs = new Map<string, number>();
  readonly #lockAhead: LockAhead;
  /** Jobs whose handler called ctx.progress(); made on the first call, so other jobs pay nothing. */
  readonly #progress = new Map<string, ProgressReporter>();
  readonly #onProgress = (job: Job, value: unknown) => this.#reportProgress(job, value);
  /** Outcomes waiting for their job's last progress write; stop() hands them in before draining. */
  readonly #progressFlushes = new Set<Promise<void>>();
  readonly #fetcher: Fetcher;
  readonly #completer: Completer;
  readonly #notifier: Notifier | undefined;
  readonly #registry: WorkerRegistry;
  readonly #registryHeartbeat: Periodic;
  readonly #heartbeat: Periodic;
  readonly #rescuer: Periodic;
  readonly #pruner: Periodic | undefined;
  readonly #cron: CronService | undefined;
  #state: "idle" | "running" | "stopping" | "stopped" = "idle";
  #cutGrace: (() => void) | undefined;

  constructor(config: WorkerConfig) {
    this.#config = config;
    const { pool, schema, workerId } = config;
    this.#lockAhead = new LockAhead(config.prefetch, config.leaseMs);
    const onError = (what: string) => (error: unknown) => this.#reportError(what, error);
    const names = new StatementNames(schema, config.preparedStatements);
    this.#completer = new Completer({
      pool,
      schema,
      workerId,
      names,
      onCompleted: (job) => config.emit("job:completed", job),
      onFailed: (job, status, thrown) => config.emit(status === "failed" ? "job:failed" : "job:retrying", job, thrown),
      onSnoozed: (job, status, delayMs, error) => {
        if (status === "scheduled") config.emit("job:snoozed", job, delayMs);
        else config.emit("job:failed", job, new SidetrackError(error));
      },
      onError: onError("writing job outcomes"),
    });
    this.#fetcher = new Fetcher({
      pool,
      schema,
      workerId,
      names,
      leaseMs: config.leaseMs,
      pollIntervalMs: config.pollIntervalMs,
      limitedQueues: new Set([...config.queues.values()].filter((q) => q.limited).map((q) => q.name)),
      lanes: claimLanes(pool),
      freeSlots: (inFlight) => this.#freeSlots(inFlight),
      completions: this.#completer,
      onJobs: (jobs, sentAt) => this.#claimed(jobs, sentAt),
      onError: onError("fetching jobs"),
    });
    const jobs = jobsChannel(schema);
    const cancels = cancelChannel(schema);
    const pauses = pauseChannel(schema);
    this.#registry = new WorkerRegistry(pool, schema, {
      id: workerId,
      queues: [...config.queues.keys()],
      concurrency: config.concurrency,
    }, () =>
      config.logger.warn(
        `worker ${workerId} registered again: it was judged gone while its session was down, so its jobs were rescued; ` +
          `their handlers here are aborted at the next lease renewal`,
      ),
    );
    this.#registryHeartbeat = new Periodic(WORKER_HEARTBEAT_INTERVAL_MS, () => this.#registry.heartbeat(), onError("refreshing the worker heartbeat"));
    this.#notifier = !config.listen ? undefined : new Notifier({
      pool,
      connectionString: config.listenConnectionString,
      channels: [jobs, cancels, pauses],
      onSession: (session) => this.#registry.bindSession(session),
      onSessionLost: (session) => this.#registry.unbindSession(session),
      onNotification: (channel, payload) => {
        if (channel === jobs && config.queues.has(payload)) this.#fetcher.wake();
        if (channel === cancels) {
          // A buffered job that is cancelled simply never starts.
          this.#lockAhead.drain((job) => job.id === payload);
          this.#abort(payload, "cancelled");
        }
        if (channel === pauses) this.#givePausedBack(payload);
      },
      onConnected: () => this.#fetcher.wake(),
      onError: onError("listening for notifications"),
    });
    this.#heartbeat = new Periodic(this.#heartbeatMs, () => this.#renewLeases(), onError("renewing leases"));
    this.#rescuer = new Periodic(
      config.rescueIntervalMs,
      async () => {
        const rescued = await rescueJobs(pool, schema, {
          lockGraceMs: WORKER_LOCK_GRACE_MS,
          heartbeatStaleMs: WORKER_HEARTBEAT_STALE_MS,
          restartGraceMs: config.leaseMs,
          workerId,
        });
        for (const r of rescued) {
          const why = r.reason === "worker-gone" ? "whose worker is gone" : "whose worker lost its lease";
          countJobs("rescued", r.queue);
          config.logger.warn(`rescued job ${r.id} (${r.queue}) ${why}: now ${r.status}`, { jobId: r.id, queue: r.queue, workerId });
          config.emit("job:rescued", r.id, r.status);
        }
      },
      onError("rescuing expired leases"),
    );
    const retention = config.retention;
    this.#pruner = retention
      ? new Periodic(config.pruneIntervalMs, async () => void (await pruneJobs(pool, schema, retention)), onError("pruning old jobs"))
      : undefined;
    this.#cron = config.cron ? new CronService({ pool, schema, ...config.cron, onError: onError("firing cron schedules") }) : undefined;
  }

  get #heartbeatMs(): number {
    return Math.max(HEARTBEAT_FLOOR_MS, Math.floor(this.#config.leaseMs / HEARTBEAT_FRACTION));
  }

  readonly #onRegistryError = (error: unknown) => this.#reportError("updating the worker registry", error);

  get workerId(): string {
    return this.#config.workerId;
  }

  /** Jobs running now in this process. */
  get runningCount(): number {
    return this.#running.size;
  }

  async start(): Promise<void> {
    if (this.#state !== "idle") throw new Error(`worker already ${this.#state}`);
    this.#state = "running";
    // Before the first claim, so the first job's span and metrics already see the API.
    await loadOtel();
    gauges.add(this.#config.schema, this.#config.pool);
    // Registered (and holding its liveness lock) before it claims anything, so no other worker
    // can mistake the jobs it claims for those of a worker that is gone.
    if (this.#notifier) {
      await this.#notifier.start();
    } else {
      await this.#registry.heartbeat().catch(this.#onRegistryError);
      const c = this.#config;
      c.logger.info(
        `worker ${c.workerId}: poll-only (listen: false): new jobs are found by polling every ${c.pollIntervalMs} ms, ` +
          `cancels reach running handlers within ${this.#heartbeatMs} ms, and if this process dies its jobs are rescued ` +
          `once its heartbeat is ${WORKER_HEARTBEAT_STALE_MS / 1000} s old (not ~${WORKER_LOCK_GRACE_MS / 1000} s)`,
      );
    }
    this.#registryHeartbeat.start();
    this.#fetcher.start();
    this.#heartbeat.start();
    this.#rescuer.start(true);
    this.#pruner?.start(true);
    this.#cron?.start();
  }

  /**
   * Stops fetching, gives running jobs `graceMs` to finish, then aborts the rest and returns
   * them to `scheduled` without spending their attempt. Calling it again while stopping with
   * a smaller grace (a second SIGTERM) cuts the wait short.
   */
  async stop(graceMs: number): Promise<void> {
    if (this.#state === "stopping") {
      if (graceMs === 0) this.#cutGrace?.();
      return this.#stopped;
    }
    if (this.#state !== "running") return;
    this.#state = "stopping";
    this.#stopped = this.#stop(graceMs);
    return this.#stopped;
  }

  #stopped: Promise<void> = Promise.resolve();

  async #stop(graceMs: number): Promise<void> {
    await this.#cron?.stop();
    await this.#fetcher.stop();
    // Buffered jobs never started: back to the queue at once, their attempt unspent.
    const buffered = this.#lockAhead.drain().map((job) => job.id);
    if (buffered.length > 0) await this.#returnJobs(buffered, "returning buffered jobs at shutdown");
    if (this.#running.size > 0) {
      const cut = new Promise<void>((resolve) => (this.#cutGrace = resolve));
      const grace = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
      await Promise.race([Promise.allSettled([...this.#running.values()].map((r) => r.done)), grace, cut]);
    }
    const abandoned = [...this.#running.keys()];
    for (const id of abandoned) this.#abort(id, "shutdown");
    await Promise.allSettled([...this.#running.values()].map((r) => r.done));
    if (abandoned.length > 0) await this.#returnJobs(abandoned, "returning jobs at shutdown");
    await Promise.allSettled([...this.#progressFlushes]);
    // Outcomes already produced are written before the leases are let go; bounded so a dead
    // database cannot hold shutdown forever (those jobs then come back through lease expiry).
    await this.#completer.drain(Date.now() + DRAIN_DEADLINE_MS);
    await Promise.all([this.#heartbeat.stop(), this.#rescuer.stop(), this.#pruner?.stop(), this.#registryHeartbeat.stop()]);
    await this.#registry.deregister().catch(this.#onRegistryError);
    await this.#notifier?.stop();
    gauges.remove(this.#config.schema, this.#config.pool);
    this.#state = "stopped";
  }

  /**
   * What to claim now: the free slots plus the room left in the lock-ahead buffer, less what the
   * claims in flight may bring back.
   */
  #freeSlots(inFlight: InFlight): FreeSlots | undefined {
    if (this.#state !== "running") return undefined;
    const ahead = this.#lockAhead.target();
    const window = this.#config.concurrency + ahead;
    const total = window - this.#running.size - this.#lockAhead.size - inFlight.total;
    if (total <= 0) return undefined;
    const queues: string[] = [];
    const limits: number[] = [];
    for (const q of this.#config.queues.values()) {
      const held = (this.#runningPerQueue.get(q.name) ?? 0) + this.#lockAhead.bufferedOf(q.name) + inFlight.of(q.name);
      // Limited queues are not claimed ahead: a buffered job would hold one of their
      // cluster-wide slots (or rate-limit starts) without running. Nor asked for beyond their
      // global concurrency, so a limited claim in flight holds no more of the room than it can use.
      // And never more of one queue than a claim takes (CLAIM_MAX_PER_QUEUE), so a claim that
      // brings that many back counts as full.
      const most = q.limited ? Math.min(q.concurrency, q.globalConcurrency ?? q.concurrency) : q.concurrency + ahead;
      const free = Math.min(total, most - held, CLAIM_MAX_PER_QUEUE);
      if (free > 0) {
        queues.push(q.name);
        limits.push(free);
      }
    }
    const busy = this.#running.size >= this.#config.concurrency;
    const starving = this.#lockAhead.size === 0 && !busy;
    // Only while no slot is free: a job of another queue waiting for a free slot is claimed at once.
    const least = busy ? Math.floor(ahead * PREFETCH_CLAIM_AT) : 0;
    return queues.length > 0 ? { queues, limits, total, window, starving, least } : undefined;
  }

  /** A claim sent at `sentAt` came back: its jobs join the buffer, and start while slots are free. */
  #claimed(jobs: Job[], sentAt: number): void {
    this.#lockAhead.claimed(sentAt);
    this.#lockAhead.add(jobs, sentAt);
    this.#startBuffered(true);
  }

  /**
   * A queue was paused: its buffered jobs go back at once, attempt unspent (running ones finish).
   * Claims already refuse it; this only empties what was claimed ahead before the pause.
   */
  #givePausedBack(queue: string): void {
    const buffered = this.#lockAhead.drain((job) => job.queue === queue).map((job) => job.id);
    if (buffered.length > 0) void this.#returnJobs(buffered, `returning buffered jobs of paused queue ${queue}`);
  }

  /**
   * Starts buffered jobs into free slots, in claim order, honouring each queue's concurrency.
   * `onArrival`: the claim that brought them just came back. A job started then waited for no
   * slot, so its started_at stays the claim's time (what a rate limit recorded); the moments
   * this process takes to get to it are its own lag, as without lock-ahead. Only a job that
   * waited for a slot has its start moved on by that wait.
   */
  #startBuffered(onArrival = false): void {
    if (this.#state !== "running") return;
    const lapsed: string[] = [];
    const { concurrency, queues } = this.#config;
    while (this.#running.size < concurrency) {
      const next = this.#lockAhead.take(
        (queue) => (this.#runningPerQueue.get(queue) ?? 0) < queues.get(queue)!.concurrency,
        (job) => lapsed.push(job.id),
      );
      if (!next) break;
      this.#start(next.job, onArrival ? 0 : next.bufferedMs);
    }
    if (lapsed.length > 0) {
      this.#config.logger.warn(`${lapsed.length} buffered job(s) not started: their lease may have lapsed (was this process paused?)`);
      // Ours still, if nobody rescued them: back to the queue, attempt unspent. Guarded, so a
      // job another worker took meanwhile is left alone.
      void this.#returnJobs(lapsed, "returning buffered jobs whose lease may have lapsed");
    }
  }

  #start(job: Job, bufferedMs: number): void {
    const queue = this.#config.queues.get(job.queue);
    if (!queue) return; // cannot happen: the fetch only names our queues
    if (bufferedMs > 0) {
      // The handler starts now, not when the job was claimed (written with its outcome).
      this.#bufferedMs.set(job.id, bufferedMs);
      if (job.startedAt) job.startedAt = new Date(job.startedAt.getTime() + bufferedMs);
    }
    const telemetry = new RunTelemetry(job, this.#config.tracing.parent, this.#config.workerId);
    const run = new JobRun(job, telemetry.handler(queue.handler), queue.timeoutMs, this.#onProgress);
    this.#running.set(job.id, run);
    this.#runningPerQueue.set(job.queue, (this.#runningPerQueue.get(job.queue) ?? 0) + 1);
    this.#config.emit("job:started", job);
    void run.start().then((outcome) => this.#finish(job, queue, outcome, telemetry));
  }

  #finish(job: Job, queue: RunnableQueue, outcome: Outcome, telemetry: RunTelemetry): void {
    this.#running.delete(job.id);
    this.#runningPerQueue.set(job.queue, (this.#runningPerQueue.get(job.queue) ?? 1) - 1);
    this.#lockAhead.completed();
    const progress = this.#progress.get(job.id);
    if (progress) {
      this.#progress.delete(job.id);
      // A completion carries the last progress; other outcomes are written after it lands.
      if (outcome.kind !== "completed" && progress.pending) {
        const flushed = progress.flush().then(() => this.#hand(job, queue, outcome, undefined, telemetry));
        this.#progressFlushes.add(flushed);
        void flushed.finally(() => this.#progressFlushes.delete(flushed));
      } else {
        this.#hand(job, queue, outcome, progress.take(), telemetry);
      }
    } else {
      this.#hand(job, queue, outcome, undefined, telemetry);
    }
    this.#startBuffered();
    this.#fetcher.slotFreed(job.queue);
  }

  /** Gives an outcome to the completer (or reports an abort), and ends the attempt's telemetry. */
  #hand(job: Job, queue: RunnableQueue, outcome: Outcome, progress: string | undefined, telemetry: RunTelemetry): void {
    const bufferedMs = this.#bufferedMs.get(job.id) ?? 0;
    if (bufferedMs > 0) this.#bufferedMs.delete(job.id);
    const write = outcomeWrite(job, queue, outcome, progress, this.#config.logger, bufferedMs);
    if (write.kind === "completed" || write.kind === "completedWithData") {
      telemetry.finish("completed");
      if (write.kind === "completed") this.#completer.complete(job, bufferedMs);
      else this.#completer.completeWithData(write.completion);
    } else if (write.kind === "snoozed") {
      telemetry.finish("snoozed");
      this.#completer.snooze(write.snoozed);
    } else if (write.kind === "failed") {
      const next = write.attempt.final ? "failed" : failureOutcome(job);
      telemetry.finish(next, write.thrown);
      this.#config.logger.warn(`job ${job.id} (${job.queue}) attempt ${job.attempt} of ${job.maxAttempts} failed: ${describeThrown(write.thrown).message}; ${next}`, {
        ...jobLogFields(job, this.#config.workerId, telemetry.traceId),
        outcome: next,
      });
      this.#completer.fail(write.attempt, write.thrown);
    } else if (outcome.kind === "aborted" && outcome.reason === "cancelled") {
      telemetry.finish("cancelled");
      this.#config.emit("job:cancelled", job);
    } else {
      telemetry.finish("aborted");
      if (outcome.kind === "aborted" && outcome.reason === "lease-lost") {
        this.#config.logger.warn(
          `job ${job.id} (${job.queue}) lost its lease while running; its handler was aborted`,
          jobLogFields(job, this.#config.workerId, telemetry.traceId),
        );
      }
    }
  }

  #reportProgress(job: Job, value: unknown): void {
    let reporter = this.#progress.get(job.id);
    if (!reporter) {
      const { pool, schema, workerId } = this.#config;
      reporter = new ProgressReporter(
        job,
        async (json) => void (await pool.query(writeProgressSql(schema), [job.id, workerId, json])),
        (error) => this.#reportError(`writing progress of job ${job.id}`, error),
      );
      this.#progress.set(job.id, reporter);
    }
    reporter.report(value);
  }

  #abort(id: string, reason: AbortReason): void {
    this.#running.get(id)?.abort(reason);
  }

  async #renewLeases(): Promise<void> {
    const running = [...this.#running.keys()];
    const ids = [...running, ...this.#lockAhead.ids(), ...this.#completer.pendingIds()];
    if (ids.length === 0) return;
    const sentAt = performance.now();
    const { rows } = await this.#config.pool.query<{ id: string }>(renewLeasesSql(this.#config.schema), [
      ids,
      this.#config.workerId,
      this.#config.leaseMs,
    ]);
    const held = new Set(rows.map((r) => r.id));
    // Cancelled, or rescued by another worker after we lost touch: stop working on it.
    for (const id of running) if (!held.has(id)) this.#abort(id, "lease-lost");
    this.#lockAhead.renewed(held, sentAt);
  }

  /** Gives jobs back (guarded: only those still ours), in one statement, retried twice. */
  async #returnJobs(ids: string[], what: string): Promise<void> {
    const { schema, workerId, pool } = this.#config;
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        await pool.query(returnJobsSql(schema), [ids, workerId, jobsChannel(schema)]);
        return;
      } catch (error) {
        this.#reportError(what, error);
      }
    }
  }

  #reportError(what: string, error: unknown): void {
    this.#config.logger.error(`${what} failed: ${(error as Error)?.message ?? String(error)}`);
    this.#config.emit("error", error);
  }
}

/**
 * Lanes of claims for unlimited queues (see Fetcher): two, so PostgreSQL works on a process's
 * claims on two backends, when the pool has room for them beside the other statements (lease
 * renewals, outcomes, the limited queues' claims, the notifier's connection when it comes from
 * the pool); with a smaller pool, one lane that claims every queue.
 */
function claimLanes(pool: pg.Pool): number {
  return (pool.options.max ?? POOL_SIZE_DEFAULT) >= CLAIM_LANES_MIN_POOL ? 2 : 1;
}

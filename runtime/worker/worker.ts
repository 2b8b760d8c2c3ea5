import type pg from "pg";
import type { ResolvedWorkerOptions, RunnableQueue } from "../config/resolve.js";
import { Completer, failedAttempt } from "./completer.js";
import { CronService, type CronServiceConfig } from "../cron/service.js";
import { Fetcher, type FreeSlots } from "./fetcher.js";
import { cancelChannel, jobsChannel } from "../config/identifiers.js";
import { Notifier } from "./notifier.js";
import { Periodic } from "./periodic.js";
import { pruneJobs } from "./maintenance/pruner.js";
import { rescueExpiredLeases } from "./maintenance/rescuer.js";
import { JobRun, type Outcome } from "./job-run.js";
import type { AbortReason } from "../errors.js";
import { DRAIN_DEADLINE_MS, HEARTBEAT_FLOOR_MS, HEARTBEAT_FRACTION } from "../config/defaults.js";
import { renewLeasesSql } from "../db/sql/renewLeases.js";
import { returnJobsSql } from "../db/sql/returnJobs.js";
import type { Job, SidetrackEvents } from "../types.js";

/** A worker: the resolved options, where it works, and whom it tells. */
export interface WorkerConfig extends ResolvedWorkerOptions {
  pool: pg.Pool;
  schema: string;
  emit: <E extends keyof SidetrackEvents>(event: E, ...args: SidetrackEvents[E]) => void;
  /** Fire the cron schedules of these queues; no cron service when unset. */
  cron?: Omit<CronServiceConfig, "pool" | "schema" | "onError">;
}

/**
 * One worker process's engine: the fetcher claims jobs into free slots, each runs its handler,
 * the completer collects outcomes and writes them in batches (completions mostly inside the
 * fetcher's next claim), the heartbeat renews leases, the rescuer returns
 * jobs of dead workers, the pruner applies retention, and one LISTEN connection wakes the
 * fetcher on inserts and aborts jobs cancelled elsewhere.
 */
export class Worker {
  readonly #config: WorkerConfig;
  readonly #running = new Map<string, JobRun>();
  readonly #runningPerQueue = new Map<string, number>();
  readonly #fetcher: Fetcher;
  readonly #completer: Completer;
  readonly #notifier: Notifier;
  readonly #heartbeat: Periodic;
  readonly #rescuer: Periodic;
  readonly #pruner: Periodic | undefined;
  readonly #cron: CronService | undefined;
  #state: "idle" | "running" | "stopping" | "stopped" = "idle";
  #cutGrace: (() => void) | undefined;

  constructor(config: WorkerConfig) {
    this.#config = config;
    const { pool, schema, workerId } = config;
    const onError = (what: string) => (error: unknown) => this.#reportError(what, error);
    this.#completer = new Completer({
      pool,
      schema,
      workerId,
      preparedStatements: config.preparedStatements,
      onCompleted: (job) => config.emit("job:completed", job),
      onFailed: (job, status, thrown) => config.emit(status === "failed" ? "job:failed" : "job:retrying", job, thrown),
      onError: onError("writing job outcomes"),
    });
    this.#fetcher = new Fetcher({
      pool,
      schema,
      workerId,
      preparedStatements: config.preparedStatements,
      leaseMs: config.leaseMs,
      pollIntervalMs: config.pollIntervalMs,
      limitedQueues: new Set([...config.queues.values()].filter((q) => q.limited).map((q) => q.name)),
      freeSlots: () => this.#freeSlots(),
      completions: this.#completer,
      onJobs: (jobs) => jobs.forEach((job) => this.#start(job)),
      onError: onError("fetching jobs"),
    });
    const jobs = jobsChannel(schema);
    const cancels = cancelChannel(schema);
    this.#notifier = new Notifier({
      pool,
      channels: [jobs, cancels],
      onNotification: (channel, payload) => {
        if (channel === jobs && config.queues.has(payload)) this.#fetcher.wake();
        if (channel === cancels) this.#abort(payload, "cancelled");
      },
      onConnected: () => this.#fetcher.wake(),
      onError: onError("listening for notifications"),
    });
    this.#heartbeat = new Periodic(Math.max(HEARTBEAT_FLOOR_MS, Math.floor(config.leaseMs / HEARTBEAT_FRACTION)), () => this.#renewLeases(), onError("renewing leases"));
    this.#rescuer = new Periodic(
      config.rescueIntervalMs,
      async () => {
        for (const r of await rescueExpiredLeases(pool, schema)) {
          config.logger.warn(`rescued job ${r.id} (${r.queue}) whose worker lost its lease: now ${r.status}`);
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
    await this.#notifier.start();
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
    if (this.#running.size > 0) {
      const cut = new Promise<void>((resolve) => (this.#cutGrace = resolve));
      const grace = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
      await Promise.race([Promise.allSettled([...this.#running.values()].map((r) => r.done)), grace, cut]);
    }
    const abandoned = [...this.#running.keys()];
    for (const id of abandoned) this.#abort(id, "shutdown");
    await Promise.allSettled([...this.#running.values()].map((r) => r.done));
    if (abandoned.length > 0) await this.#returnJobs(abandoned);
    // Outcomes already produced are written before the leases are let go; bounded so a dead
    // database cannot hold shutdown forever (those jobs then come back through lease expiry).
    await this.#completer.drain(Date.now() + DRAIN_DEADLINE_MS);
    await Promise.all([this.#heartbeat.stop(), this.#rescuer.stop(), this.#pruner?.stop(), this.#notifier.stop()]);
    this.#state = "stopped";
  }

  #freeSlots(): FreeSlots | undefined {
    if (this.#state !== "running") return undefined;
    const total = this.#config.concurrency - this.#running.size;
    if (total <= 0) return undefined;
    const queues: string[] = [];
    const limits: number[] = [];
    for (const q of this.#config.queues.values()) {
      const free = Math.min(total, q.concurrency - (this.#runningPerQueue.get(q.name) ?? 0));
      if (free > 0) {
        queues.push(q.name);
        limits.push(free);
      }
    }
    return queues.length > 0 ? { queues, limits, total } : undefined;
  }

  #start(job: Job): void {
    const queue = this.#config.queues.get(job.queue);
    if (!queue) return; // cannot happen: the fetch only names our queues
    const run = new JobRun(job, queue.handler, queue.timeoutMs);
    this.#running.set(job.id, run);
    this.#runningPerQueue.set(job.queue, (this.#runningPerQueue.get(job.queue) ?? 0) + 1);
    this.#config.emit("job:started", job);
    void run.start().then((outcome) => this.#finish(job, queue, outcome));
  }

  #finish(job: Job, queue: RunnableQueue, outcome: Outcome): void {
    this.#running.delete(job.id);
    this.#runningPerQueue.set(job.queue, (this.#runningPerQueue.get(job.queue) ?? 1) - 1);
    if (outcome.kind === "completed") {
      this.#completer.complete(job);
    } else if (outcome.kind === "failed") {
      this.#completer.fail(failedAttempt(job, outcome.thrown, queue.backoff), outcome.thrown);
    } else if (outcome.reason === "cancelled") {
      this.#config.emit("job:cancelled", job);
    } else if (outcome.reason === "lease-lost") {
      this.#config.logger.warn(`job ${job.id} (${job.queue}) lost its lease while running; its handler was aborted`);
    }
    this.#fetcher.slotFreed(job.queue);
  }

  #abort(id: string, reason: AbortReason): void {
    this.#running.get(id)?.abort(reason);
  }

  async #renewLeases(): Promise<void> {
    const running = [...this.#running.keys()];
    const ids = [...running, ...this.#completer.pendingIds()];
    if (ids.length === 0) return;
    const { rows } = await this.#config.pool.query<{ id: string }>(renewLeasesSql(this.#config.schema), [
      ids,
      this.#config.workerId,
      this.#config.leaseMs,
    ]);
    const held = new Set(rows.map((r) => r.id));
    // Cancelled, or rescued by another worker after we lost touch: stop working on it.
    for (const id of running) if (!held.has(id)) this.#abort(id, "lease-lost");
  }

  async #returnJobs(ids: string[]): Promise<void> {
    const { schema, workerId, pool } = this.#config;
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        await pool.query(returnJobsSql(schema), [ids, workerId, jobsChannel(schema)]);
        return;
      } catch (error) {
        this.#reportError("returning jobs at shutdown", error);
      }
    }
  }

  #reportError(what: string, error: unknown): void {
    this.#config.logger.error(`${what} failed: ${(error as Error)?.message ?? String(error)}`);
    this.#config.emit("error", error);
  }
}

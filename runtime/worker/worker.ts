import type pg from "pg";
import type { ResolvedWorkerOptions, RunnableQueue } from "../config/resolve.js";
import { Completer, failedAttempt } from "./completer.js";
import { CronService, type CronServiceConfig } from "../cron/service.js";
import { Fetcher, type FreeSlots } from "./fetcher.js";
import { cancelChannel, jobsChannel } from "../config/identifiers.js";
import { Notifier } from "./notifier.js";
import { Periodic } from "./periodic.js";
import { pruneJobs } from "./maintenance/pruner.js";
import { rescueJobs } from "./maintenance/rescuer.js";
import { JobRun, type Outcome } from "./job-run.js";
import type { AbortReason } from "../errors.js";
import {
  DRAIN_DEADLINE_MS,
  HEARTBEAT_FLOOR_MS,
  HEARTBEAT_FRACTION,
  WORKER_HEARTBEAT_INTERVAL_MS,
  WORKER_HEARTBEAT_STALE_MS,
  WORKER_LOCK_GRACE_MS,
} from "../config/defaults.js";
import { WorkerRegistry } from "./registry.js";
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
      freeSlots: () => this.#freeSlots(),
      completions: this.#completer,
      onJobs: (jobs) => jobs.forEach((job) => this.#start(job)),
      onError: onError("fetching jobs"),
    });
    const jobs = jobsChannel(schema);
    const cancels = cancelChannel(schema);
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
      channels: [jobs, cancels],
      onSession: (session) => this.#registry.bindSession(session),
      onSessionLost: (session) => this.#registry.unbindSession(session),
      onNotification: (channel, payload) => {
        if (channel === jobs && config.queues.has(payload)) this.#fetcher.wake();
        if (channel === cancels) this.#abort(payload, "cancelled");
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
          config.logger.warn(`rescued job ${r.id} (${r.queue}) ${why}: now ${r.status}`);
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
    await Promise.all([this.#heartbeat.stop(), this.#rescuer.stop(), this.#pruner?.stop(), this.#registryHeartbeat.stop()]);
    await this.#registry.deregister().catch(this.#onRegistryError);
    await this.#notifier?.stop();
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
    this.#fetcher.slotFreed();
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

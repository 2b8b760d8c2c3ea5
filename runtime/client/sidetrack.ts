import { EventEmitter } from "node:events";
import pg from "pg";
import { inTransaction, toDbClient, usePg, type AnyDbClient, type DbClient } from "../db/clients.js";
import { SidetrackValidationError } from "../errors.js";
import { cancelChannel, DEFAULT_SCHEMA, validateQueueName, validateSchemaName } from "../config/identifiers.js";
import { insertRows, prepareInsert, type InsertOptions } from "../insert/insert.js";
import { JOB_STATUSES, parseJob, type ClaimedRow, type InsertedJob, type Job, type JobStatus } from "../types.js";
import { runMigrations, type MigrationResult } from "../db/migrate.js";
import type { QueueOptions } from "../config/queue-options.js";
import { runClaimed } from "./run-inline.js";
import { claimJobByIdSql, claimJobsForTestSql } from "../db/sql/fetchJobs.js";
import { Worker } from "../worker/worker.js";
import { resolveWorkerOptions, type ResolvedWorkerOptions } from "../config/resolve.js";
import type { Handler, SidetrackEvents, WorkerOptions } from "../config/worker-options.js";
import { cancelJobSql } from "../db/sql/cancelJob.js";
import { getJobSql, listJobsSql } from "../db/sql/readJobs.js";
// cron
import { nextCronTick, normalizeCronExpression, parseCronSchedule, validateCron, type CronSchedule, type ScheduleCronOptions } from "../cron/service.js";
import { cronDeactivateSql } from "../db/sql/cronDeactivate.js";
import { cronDeleteSql } from "../db/sql/cronDelete.js";
import { cronListSql } from "../db/sql/cronList.js";
import { cronRegisterLockSql } from "../db/sql/cronLock.js";
import { cronPruneDeclaredSql } from "../db/sql/cronPruneDeclared.js";
import { cronRegisterDeclaredSql } from "../db/sql/cronRegisterDeclared.js";
import { cronScheduleSql } from "../db/sql/cronSchedule.js";

export interface DatabaseOptions {
  /** A PostgreSQL connection string. */
  connectionString?: string;
  /** Or a pool you own; Sidetrack leaves it open on stop(). */
  pool?: pg.Pool;
  /** Size of the pool Sidetrack creates from connectionString. Default 10. */
  max?: number;
}

export interface SidetrackConfig<Queues extends Record<string, unknown>> extends WorkerOptions {
  /** How to reach PostgreSQL (the original API's shape). */
  databaseOptions?: DatabaseOptions;
  /** Shorthand for `databaseOptions.connectionString`. */
  databaseUrl?: string;
  /** Schema holding Sidetrack's tables. Default `sidetrack`. */
  schema?: string;
  /** Every queue this instance inserts into, with its options, and the handler that runs its jobs. */
  queues: { [K in keyof Queues]: QueueOptions<Queues[K]> & { handler?: Handler<Queues[K], K & string> } };
  /** Largest payload accepted, in bytes of JSON. Default 1 MiB. */
  maxPayloadBytes?: number;
  /**
   * Named prepared statements on Sidetrack's own connections (inserts without a dbClient, and the
   * worker). Default true; set false behind PgBouncer in transaction mode.
   */
  preparedStatements?: boolean;
}

export interface InsertJobOptions extends InsertOptions {
  /** Run the insert on this client (your transaction). Default: the instance's pool. */
  dbClient?: DbClient | AnyDbClient;
}

export interface InsertManyItem<Payload> {
  payload: Payload;
  options?: InsertOptions;
}

export interface ListJobsOptions<Queue extends string> {
  queue?: Queue;
  status?: JobStatus;
  /** Default 1000. */
  limit?: number;
  /** Only jobs with a larger id: pass the last id of a page to read the next. */
  afterId?: string;
}

/**
 * The programmatic API: insert, read and cancel jobs. `Queues` maps each queue name to its
 * payload type.
 */
export class Sidetrack<Queues extends Record<string, unknown>> {
  readonly schema: string;
  protected readonly config: SidetrackConfig<Queues>;
  #pool: pg.Pool | undefined;
  readonly #ownsPool: boolean;
  readonly #events = new EventEmitter();
  #worker: Worker | undefined;
  #workerOptions: ResolvedWorkerOptions | undefined;
  #signalHandler: ((signal: NodeJS.Signals) => void) | undefined;

  constructor(config: SidetrackConfig<Queues>) {
    if (!config || typeof config !== "object") throw new SidetrackValidationError("new Sidetrack(config): config is required");
    this.config = config;
    this.schema = validateSchemaName(config.schema ?? DEFAULT_SCHEMA);
    if (!config.queues || typeof config.queues !== "object") {
      throw new SidetrackValidationError("new Sidetrack(config): config.queues is required (an object of queue options)");
    }
    for (const name of Object.keys(config.queues)) validateQueueName(name);
    const given = config.databaseOptions?.pool;
    this.#pool = given;
    this.#ownsPool = !given;
    this.#declaredCron(); // cron: bad schedules fail here, before anything runs
  }

  /** The pool Sidetrack uses when no dbClient is given; created on first use. */
  get pool(): pg.Pool {
    if (!this.#pool) {
      const connectionString = this.config.databaseOptions?.connectionString ?? this.config.databaseUrl;
      if (!connectionString) {
        throw new SidetrackValidationError(
          "new Sidetrack(config): set databaseOptions.connectionString (or databaseUrl), or pass databaseOptions.pool",
        );
      }
      this.#pool = new pg.Pool({ connectionString, max: this.config.databaseOptions?.max ?? 10 });
      // An idle client losing its connection must not crash the process; the next query reconnects.
      this.#pool.on("error", () => undefined);
    }
    return this.#pool;
  }

  /** Applies pending schema migrations. */
  async runMigrations(): Promise<MigrationResult> {
    return runMigrations({ pool: this.pool, schema: this.schema });
  }

  /** Inserts one job. Inside your transaction when `dbClient` is that transaction's client. */
  async insertJob<K extends keyof Queues & string>(
    queue: K,
    payload: Queues[K],
    options: InsertJobOptions = {},
  ): Promise<InsertedJob<Queues[K], K>> {
    const { dbClient, ...insertOptions } = options ?? {};
    const row = prepareInsert(queue, payload, insertOptions, this.queueOptions(queue), this.limits());
    const [job] = await insertRows<Queues[K]>(this.db(dbClient), this.schema, [row]);
    return job as InsertedJob<Queues[K], K>;
  }

  /**
   * Inserts many jobs of one queue in one statement. `items` are payloads, sharing the
   * options given here; with `withOptions: true` they are `{ payload, options }` instead.
   */
  async insertJobs<K extends keyof Queues & string>(
    queue: K,
    items: readonly Queues[K][] | readonly InsertManyItem<Queues[K]>[],
    options: InsertJobOptions & { withOptions?: boolean } = {},
  ): Promise<InsertedJob<Queues[K], K>[]> {
    if (!Array.isArray(items)) throw new SidetrackValidationError(`queue "${queue}": insertJobs needs an array of items`, queue);
    const { dbClient, withOptions, ...shared } = options;
    const queueOptions = this.queueOptions(queue);
    const rows = items.map((item: unknown) => {
      const { payload, options: own } = withOptions ? (item as InsertManyItem<Queues[K]>) : { payload: item, options: undefined };
      return prepareInsert(queue, payload, { ...shared, ...own }, queueOptions, this.limits());
    });
    return (await insertRows<Queues[K]>(this.db(dbClient), this.schema, rows)) as InsertedJob<Queues[K], K>[];
  }

  /** The job with this id, or `undefined`. */
  async getJob(id: string, options: { dbClient?: DbClient | AnyDbClient } = {}): Promise<Job<Queues[keyof Queues]> | undefined> {
    const [row] = await this.db(options.dbClient).query<{ job: string }>(getJobSql(this.schema), [String(id)]);
    return row ? (parseJob(row.job) as Job<Queues[keyof Queues]>) : undefined;
  }

  /** Jobs by queue and/or status, oldest first. */
  async listJobs<K extends keyof Queues & string>(
    filter: ListJobsOptions<K> = {},
  ): Promise<Job<Queues[K], K>[]> {
    if (filter.queue !== undefined) this.queueOptions(filter.queue);
    if (filter.status !== undefined && !JOB_STATUSES.includes(filter.status)) {
      throw new SidetrackValidationError(`listJobs: unknown status ${JSON.stringify(filter.status)}; one of ${JOB_STATUSES.join(", ")}`);
    }
    if (filter.afterId !== undefined && !/^\d{1,18}$/.test(String(filter.afterId))) {
      throw new SidetrackValidationError(`listJobs: afterId must be a job id (digits), got ${JSON.stringify(filter.afterId)}`);
    }
    const limit = filter.limit ?? 1000;
    if (!Number.isInteger(limit) || limit < 1) throw new SidetrackValidationError(`listJobs: limit must be a positive integer, got ${limit}`);
    const rows = await this.db().query<{ job: string }>(listJobsSql(this.schema), [
      filter.queue ?? null,
      filter.status ?? null,
      limit,
      filter.afterId ?? null,
    ]);
    return rows.map((r) => parseJob(r.job) as Job<Queues[K], K>);
  }

  /**
   * Cancels a job that has not finished: a scheduled or retrying one at once; a running one
   * also has its handler's signal aborted in whichever process runs it. Returns true when the
   * job was cancelled by this call, false when there is no such job or it had already finished.
   */
  async cancelJob(id: string, options: { dbClient?: DbClient | AnyDbClient } = {}): Promise<boolean> {
    const rows = await this.db(options.dbClient).query(cancelJobSql(this.schema), [String(id), cancelChannel(this.schema)]);
    return rows.length > 0;
  }

  /** Listens to worker events: job:started, job:completed, job:retrying, job:failed, job:cancelled, job:rescued, error. */
  on<E extends keyof SidetrackEvents>(event: E, listener: (...args: SidetrackEvents[E]) => void): this {
    this.#events.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  off<E extends keyof SidetrackEvents>(event: E, listener: (...args: SidetrackEvents[E]) => void): this {
    this.#events.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /**
   * Applies pending migrations, then works: fetches and runs jobs of every queue that has a
   * handler until stop() (or SIGTERM/SIGINT, unless `handleSignals: false`).
   */
  async start(): Promise<void> {
    if (this.#worker) throw new SidetrackValidationError("start(): this Sidetrack instance is already started");
    const options = this.#resolvedWorkerOptions();
    if (options.queues.size === 0) {
      throw new SidetrackValidationError("start(): no queue has a handler; give at least one queue a `handler`");
    }
    await this.runMigrations();
    await this.#registerDeclaredCron(); // cron
    const worker = new Worker({
      pool: this.pool,
      schema: this.schema,
      workerId: options.workerId,
      concurrency: options.concurrency,
      pollIntervalMs: options.pollIntervalMs,
      leaseMs: options.leaseMs,
      rescueIntervalMs: options.rescueIntervalMs,
      pruneIntervalMs: options.pruneIntervalMs,
      preparedStatements: this.config.preparedStatements ?? true,
      retention: options.retention,
      queues: options.queues,
      logger: options.logger,
      emit: (event, ...args) => this.#emit(event, ...args),
      cron: { queues: Object.keys(this.config.queues), queueOptions: (q) => this.#knownQueueOptions(q), limits: this.limits(), logger: options.logger }, // cron
    });
    this.#worker = worker;
    await worker.start();
    options.logger.info(`worker ${options.workerId} started`, { queues: [...options.queues.keys()] });
    if (options.handleSignals) this.#handleSignals(options.shutdownGraceMs);
  }

  /**
   * Stops gracefully: no new jobs are fetched, running ones get `shutdownGrace` to finish, the
   * rest are aborted and returned to `scheduled` without spending an attempt. Resolves when
   * everything is released, the pool included (when Sidetrack created it).
   */
  async stop(options: { grace?: number } = {}): Promise<void> {
    const worker = this.#worker;
    if (worker) {
      const grace = options.grace ?? this.#resolvedWorkerOptions().shutdownGraceMs;
      await worker.stop(grace);
      this.#removeSignalHandlers();
    }
    this.#worker = undefined;
    await this.close();
  }

  /** The worker's id as written in `locked_by`. */
  get workerId(): string {
    return this.#resolvedWorkerOptions().workerId;
  }

  /**
   * Test helper: runs one job now in this process, whatever its run_at, if it is scheduled or
   * retrying. Returns the job as it is afterwards, or undefined when it was not runnable.
   */
  async runJob(id: string): Promise<Job<Queues[keyof Queues]> | undefined> {
    const ctx = this.#inlineContext();
    const ran = await runClaimed(ctx, async () =>
      (await this.pool.query<ClaimedRow>(claimJobByIdSql(this.schema), [String(id), ctx.workerId, ctx.leaseMs])).rows,
    );
    return ran.length > 0 ? this.getJob(String(id)) : undefined;
  }

  /**
   * Test helper: runs ready jobs (of one queue, or all) in this process until none is left, and
   * returns how many ran. `includeFutureJobs` also runs jobs whose run_at is still ahead,
   * retries included, so a failing job runs until its attempts are spent.
   */
  async runJobs(filter: { queue?: keyof Queues & string; includeFutureJobs?: boolean } = {}): Promise<number> {
    if (filter.queue !== undefined) this.queueOptions(filter.queue);
    const ctx = this.#inlineContext();
    let count = 0;
    for (;;) {
      const ran = await runClaimed(ctx, async () =>
        (
          await this.pool.query<ClaimedRow>(claimJobsForTestSql(this.schema), [
            filter.queue === undefined ? null : [filter.queue],
            filter.includeFutureJobs ?? false,
            1,
            ctx.workerId,
            ctx.leaseMs,
          ])
        ).rows,
      );
      if (ran.length === 0) return count;
      count += ran.length;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // cron: recurring schedules (docs/cron.md). A schedule is identified by (queue, expression).
  // Declared schedules (a queue's `cron` option) are registered by start(); programmatic ones
  // by scheduleCron(). start() never reactivates a deactivated schedule and never touches a
  // programmatic one.
  // ---------------------------------------------------------------------------------------------

  /**
   * Creates the schedule (queue, expression), or updates it: timezone, payload and runMissed
   * are replaced, it becomes programmatic (start() leaves it alone from then on) and active
   * again if it was deactivated. Every running worker picks it up within a second.
   */
  async scheduleCron<K extends keyof Queues & string>(
    queue: K,
    expression: string,
    payload: Queues[K],
    options: ScheduleCronOptions & { dbClient?: DbClient | AnyDbClient } = {},
  ): Promise<CronSchedule<Queues[K], K>> {
    const queueOptions = this.queueOptions(queue);
    const cron = validateCron(queue, expression, options?.timezone);
    const runMissed = options?.runMissed ?? false;
    if (typeof runMissed !== "boolean") {
      throw new SidetrackValidationError(`queue "${queue}": scheduleCron options.runMissed must be a boolean, got ${JSON.stringify(runMissed)}`, queue, "options.runMissed");
    }
    const body = payload === undefined ? {} : payload;
    // The payload is checked now (JSON, size, uniqueBy fields), not at the first tick.
    prepareInsert(queue, body, {}, queueOptions, this.limits());
    const next = nextCronTick(cron.expression, cron.timezone, new Date());
    const [row] = await this.db(options?.dbClient).query<{ schedule: string }>(cronScheduleSql(this.schema), [
      queue,
      cron.expression,
      cron.timezone,
      JSON.stringify(body),
      runMissed,
      next.toISOString(),
    ]);
    return parseCronSchedule(row!.schedule) as CronSchedule<Queues[K], K>;
  }

  /**
   * Deactivates the schedule (queue, expression): once this resolves no worker inserts another
   * job for it, and it stays inactive across restarts (start() does not reactivate it; call
   * scheduleCron to). Returns false when there is no such schedule.
   */
  async deactivateCronSchedule(queue: keyof Queues & string, expression: string): Promise<boolean> {
    const rows = await this.db().query(cronDeactivateSql(this.schema), [validateQueueName(queue), this.#cronExpression(queue, expression)]);
    return rows.length > 0;
  }

  /**
   * Deletes the schedule (queue, expression); jobs it already inserted stay. A schedule still
   * declared in the queue options comes back at the next start(): deactivate it to keep it
   * off, or remove it from the declaration. Returns false when there is no such schedule.
   */
  async deleteCronSchedule(queue: keyof Queues & string, expression: string): Promise<boolean> {
    const rows = await this.db().query(cronDeleteSql(this.schema), [validateQueueName(queue), this.#cronExpression(queue, expression)]);
    return rows.length > 0;
  }

  /** Every schedule (of one queue, or all), active or not. */
  async listCronSchedules(filter: { queue?: keyof Queues & string } = {}): Promise<CronSchedule[]> {
    const rows = await this.db().query<{ schedule: string }>(cronListSql(this.schema), [filter.queue ?? null]);
    return rows.map((r) => parseCronSchedule(r.schedule));
  }

  #cronExpression(queue: string, expression: unknown): string {
    if (typeof expression !== "string" || expression.trim() === "") {
      throw new SidetrackValidationError(`queue "${queue}": cron expression must be a non-empty string, got ${JSON.stringify(expression)}`, queue);
    }
    return normalizeCronExpression(expression);
  }

  /** The queues' `cron` options, validated (expression, timezone, payload). */
  #declaredCron(): { queue: string; expression: string; timezone: string; payload: unknown }[] {
    const declared = [];
    for (const [queue, options] of Object.entries(this.config.queues as Record<string, QueueOptions<any>>)) {
      const cron = options?.cron;
      if (cron === undefined) continue;
      if (cron === null || typeof cron !== "object") {
        throw new SidetrackValidationError(`queue "${queue}": cron must be { schedule, timezone?, payload? }`, queue, "cron");
      }
      const valid = validateCron(queue, cron.schedule, cron.timezone);
      const payload = cron.payload === undefined ? {} : cron.payload;
      prepareInsert(queue, payload, {}, options, this.limits());
      declared.push({ queue, ...valid, payload });
    }
    return declared;
  }

  /** start(): makes the table match the declared schedules of this instance's queues, in one transaction. */
  async #registerDeclaredCron(): Promise<void> {
    const declared = this.#declaredCron();
    await inTransaction(this.pool, async (client) => {
      await client.query(cronRegisterLockSql, [this.schema]);
      await client.query(cronPruneDeclaredSql(this.schema), [
        Object.keys(this.config.queues),
        declared.map((d) => d.queue),
        declared.map((d) => d.expression),
      ]);
      for (const d of declared) {
        const next = nextCronTick(d.expression, d.timezone, new Date());
        await client.query(cronRegisterDeclaredSql(this.schema), [d.queue, d.expression, d.timezone, JSON.stringify(d.payload), next.toISOString()]);
      }
    });
  }

  #knownQueueOptions(queue: string): QueueOptions<any> | undefined {
    return Object.hasOwn(this.config.queues, queue) ? (this.config.queues[queue as keyof Queues] as QueueOptions<any>) : undefined;
  }
  // --------------------------------------------------------------------------------- end cron

  #inlineContext() {
    const options = this.#resolvedWorkerOptions();
    return { pool: this.pool, schema: this.schema, workerId: options.workerId, leaseMs: options.leaseMs, queues: options.queues };
  }

  #resolvedWorkerOptions(): ResolvedWorkerOptions {
    this.#workerOptions ??= resolveWorkerOptions(this.config, this.config.queues as Record<string, QueueOptions<any>>);
    return this.#workerOptions;
  }

  #emit<E extends keyof SidetrackEvents>(event: E, ...args: SidetrackEvents[E]): void {
    // An "error" event with no listener would throw from EventEmitter; errors are logged anyway.
    if (event === "error" && this.#events.listenerCount("error") === 0) return;
    try {
      this.#events.emit(event, ...args);
    } catch (error) {
      this.#workerOptions?.logger.error(`a "${event}" listener threw: ${(error as Error)?.message}`);
    }
  }

  #handleSignals(graceMs: number): void {
    let received = 0;
    this.#signalHandler = (signal) => {
      received++;
      const worker = this.#worker;
      if (!worker) return;
      if (received > 1) {
        // A second signal: abort running jobs now (they are still returned to the queue).
        void worker.stop(0);
        return;
      }
      this.#workerOptions?.logger.info(`${signal}: stopping gracefully (send again to stop at once)`);
      void this.stop({ grace: graceMs }).then(
        () => {
          // Our listener kept Node from exiting on the signal; now that we are done, behave as
          // if we had never listened, unless the application listens too.
          if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
        },
        (error) => this.#emit("error", error),
      );
    };
    process.on("SIGTERM", this.#signalHandler);
    process.on("SIGINT", this.#signalHandler);
  }

  #removeSignalHandlers(): void {
    if (!this.#signalHandler) return;
    process.off("SIGTERM", this.#signalHandler);
    process.off("SIGINT", this.#signalHandler);
    this.#signalHandler = undefined;
  }

  /** Closes the pool Sidetrack created (a pool you passed in stays open). */
  async close(): Promise<void> {
    if (this.#ownsPool && this.#pool) {
      const pool = this.#pool;
      this.#pool = undefined;
      await pool.end();
    }
  }

  protected queueOptions(queue: string): QueueOptions<any> {
    const options = Object.hasOwn(this.config.queues, queue) ? this.config.queues[queue as keyof Queues] : undefined;
    if (!options) {
      const known = Object.keys(this.config.queues).join(", ") || "none";
      throw new SidetrackValidationError(`unknown queue ${JSON.stringify(queue)}; known queues: ${known}`, String(queue));
    }
    return options as QueueOptions<any>;
  }

  protected db(client?: DbClient | AnyDbClient): DbClient {
    return client ? toDbClient(client) : usePg(this.pool, { preparedStatements: this.config.preparedStatements });
  }

  private limits() {
    return { maxPayloadBytes: this.config.maxPayloadBytes };
  }
}

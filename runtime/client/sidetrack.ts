// The programmatic API: one object to insert, read and cancel jobs, manage cron schedules and run
// a worker. It holds no logic of its own: configuration is resolved up front (config/resolve.ts),
// inserts go through insert/, reads through client/jobs.ts, schedules through cron/schedules.ts,
// and start() hands the resolved options to the worker (worker/worker.ts).
import { EventEmitter } from "node:events";
import pg from "pg";
import { POOL_SIZE_DEFAULT } from "../config/defaults.js";
import { DEFAULT_SCHEMA, validateQueueName, validateSchemaName } from "../config/identifiers.js";
import type { QueueOptions } from "../config/queue-options.js";
import { queuePolicies, resolveWorkerOptions, type ResolvedWorkerOptions } from "../config/resolve.js";
import type { WorkerOptions } from "../config/worker-options.js";
import { validateCron } from "../cron/expression.js";
import {
  deactivateSchedule,
  deleteSchedule,
  listSchedules,
  registerDeclaredSchedules,
  upsertSchedule,
  type DeclaredSchedule,
} from "../cron/schedules.js";
import { toDbClient, usePg, type AnyDbClient, type DbClient } from "../db/clients.js";
import { requireMigrations, runMigrations, type MigrationResult } from "../db/migrate.js";
import { SidetrackValidationError } from "../errors.js";
import { insertRows, prepareInsert, type InsertOptions } from "../insert/insert.js";
import type { CronSchedule, Handler, InsertedJob, Job, ScheduleCronOptions, SidetrackEvents } from "../types.js";
import { Worker } from "../worker/worker.js";
import { loadOtel } from "../telemetry/otel.js";
import { cancelJob, getJob, listJobs, type ListJobsFilter } from "./jobs.js";
import { listWorkers, type WorkerInfo } from "./admin.js";
import { runJobInline, runJobsInline, type InlineContext } from "./run-inline.js";
import { handleStopSignals } from "./signals.js";
import { listQueues, setQueuePaused, writeQueuePolicies, type QueueInfo } from "./queues.js";

export interface DatabaseOptions {
  /** A PostgreSQL connection string. */
  connectionString?: string;
  /** Or a pool you own; Sidetrack leaves it open on stop(). */
  pool?: pg.Pool;
  /** Size of the pool Sidetrack creates from connectionString. Default 10 (POOL_SIZE_DEFAULT). */
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
  queues: { [K in keyof Queues]: QueueOptions<Queues[K]> & { handler?: Handler<Queues[K], K & string, any> } };
  /** Largest payload accepted, in bytes of JSON. Default 1 MiB. */
  maxPayloadBytes?: number;
  /**
   * Named prepared statements on Sidetrack's own connections (inserts without a dbClient, and the
   * worker). Default true; set false behind PgBouncer in transaction mode.
   */
  preparedStatements?: boolean;
  /**
   * Whether `queues` is the whole declaration, so start() may delete declared cron schedules it
   * no longer lists. Default true. Set false for an instance that knows only some queues' options
   * (e.g. built from a handlers module alone): it then only registers the schedules it knows and
   * leaves every other declared schedule alone. Likewise only an instance that knows the whole
   * declaration writes the queues' flow-control policies at start(); any other enforces those it finds.
   */
  pruneDeclaredSchedules?: boolean;
  /**
   * Whether start() applies pending migrations (default true). false for teams whose migrations
   * run elsewhere: start() then checks and names any missing migration. `start({ migrate })` wins.
   */
  migrate?: boolean;
}

export interface StartOptions {
  /** Apply pending migrations (default true); false only checks that none is pending. */
  migrate?: boolean;
}

export interface InsertJobOptions extends InsertOptions {
  /** Run the insert on this client (your transaction). Default: the instance's pool. */
  dbClient?: DbClient | AnyDbClient;
}

export interface InsertManyItem<Payload> {
  payload: Payload;
  options?: InsertOptions;
}

export interface ListJobsOptions<Queue extends string> extends ListJobsFilter {
  queue?: Queue;
}

/**
 * The programmatic API: insert, read and cancel jobs, manage cron schedules, run a worker.
 * `Queues` maps each queue name to its payload type. Every option is checked in the constructor:
 * a bad one throws a SidetrackValidationError naming the field before anything connects.
 */
export class Sidetrack<Queues extends Record<string, unknown>> {
  readonly schema: string;
  protected readonly config: SidetrackConfig<Queues>;
  #pool: pg.Pool | undefined;
  readonly #ownsPool: boolean;
  readonly #events = new EventEmitter();
  readonly #options: ResolvedWorkerOptions;
  readonly #declaredSchedules: DeclaredSchedule[];
  #worker: Worker | undefined;
  #removeSignalHandlers: (() => void) | undefined;

  constructor(config: SidetrackConfig<Queues>) {
    if (!config || typeof config !== "object") throw new SidetrackValidationError("new Sidetrack(config): config is required");
    this.config = config;
    this.schema = validateSchemaName(config.schema ?? DEFAULT_SCHEMA);
    if (!config.queues || typeof config.queues !== "object") {
      throw new SidetrackValidationError("new Sidetrack(config): config.queues is required (an object of queue options)");
    }
    for (const name of Object.keys(config.queues)) validateQueueName(name);
    if (config.pruneDeclaredSchedules !== undefined && typeof config.pruneDeclaredSchedules !== "boolean") {
      throw new SidetrackValidationError(
        `new Sidetrack(config): pruneDeclaredSchedules must be a boolean, got ${JSON.stringify(config.pruneDeclaredSchedules)}`,
      );
    }
    this.#options = resolveWorkerOptions(config, this.#queueConfigs());
    this.#declaredSchedules = this.#declaredCron();
    const given = config.databaseOptions?.pool;
    this.#pool = given;
    this.#ownsPool = !given;
    // Starts importing @opentelemetry/api if installed, so the first insert need not wait for it.
    void loadOtel();
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
      this.#pool = new pg.Pool({ connectionString, max: this.config.databaseOptions?.max ?? POOL_SIZE_DEFAULT });
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
    const limits = this.limits();
    // Without per-item options every row reads the same options object (prepareInsert only reads it).
    const rows = withOptions
      ? items.map((item) => {
          const { payload, options: own } = item as InsertManyItem<Queues[K]>;
          return prepareInsert(queue, payload, { ...shared, ...own }, queueOptions, limits);
        })
      : items.map((payload) => prepareInsert(queue, payload, shared, queueOptions, limits));
    return (await insertRows<Queues[K]>(this.db(dbClient), this.schema, rows)) as InsertedJob<Queues[K], K>[];
  }

  /** The job with this id, or `undefined`. */
  async getJob(id: string, options: { dbClient?: DbClient | AnyDbClient } = {}): Promise<Job<Queues[keyof Queues]> | undefined> {
    return (await getJob(this.db(options.dbClient), id, { schema: this.schema })) as Job<Queues[keyof Queues]> | undefined;
  }

  /** The worker processes registered in this schema, with whether each is alive (admin.ts). */
  listWorkers(): Promise<WorkerInfo[]> {
    return listWorkers(this.db(), { schema: this.schema });
  }

  /** Jobs by queue and/or status, oldest first. */
  async listJobs<K extends keyof Queues & string>(filter: ListJobsOptions<K> = {}): Promise<Job<Queues[K], K>[]> {
    if (filter.queue !== undefined) this.queueOptions(filter.queue);
    return (await listJobs(this.db(), filter, { schema: this.schema })) as Job<Queues[K], K>[];
  }

  /**
   * Cancels a job that has not finished: a scheduled or retrying one at once; a running one
   * also has its handler's signal aborted in whichever process runs it. Returns true when the
   * job was cancelled by this call, false when there is no such job or it had already finished.
   */
  async cancelJob(id: string, options: { dbClient?: DbClient | AnyDbClient } = {}): Promise<boolean> {
    return (await cancelJob(this.db(options.dbClient), id, { schema: this.schema })) !== undefined;
  }

  /**
   * Pauses a queue on every worker: once this returns no worker starts a job of it (running
   * ones finish; inserts are still accepted). The pause stays until resumeQueue, across deploys.
   */
  async pauseQueue(queue: keyof Queues & string): Promise<void> {
    await setQueuePaused(this.pool, queue, true, { schema: this.schema });
  }

  /** Resumes a paused queue and wakes the workers. */
  async resumeQueue(queue: keyof Queues & string): Promise<void> {
    await setQueuePaused(this.pool, queue, false, { schema: this.schema });
  }

  /** Every queue with a policy or a job: its policy (as the workers enforce it) and job counts by state. */
  async listQueues(): Promise<QueueInfo[]> {
    return listQueues(this.pool, { schema: this.schema });
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
   * handler until stop() (or SIGTERM/SIGINT, unless `handleSignals: false`). With
   * `migrate: false` (migrations run elsewhere, e.g. the SQL files in your own tool) it only
   * checks, and throws SidetrackMigrationError naming each missing migration.
   */
  async start(startOptions: StartOptions = {}): Promise<void> {
    if (this.#worker) throw new SidetrackValidationError("start(): this Sidetrack instance is already started");
    const options = this.#options;
    if (options.queues.size === 0) {
      throw new SidetrackValidationError("start(): no queue has a handler; give at least one queue a `handler`");
    }
    const migrate = startOptions?.migrate ?? this.config.migrate ?? true;
    if (typeof migrate !== "boolean") {
      throw new SidetrackValidationError(`start(): migrate must be a boolean, got ${JSON.stringify(migrate)}`);
    }
    if (migrate) await this.runMigrations();
    else await requireMigrations({ pool: this.pool, schema: this.schema });
    // Only an instance that knows the whole declaration writes the policies; one that knows some
    // queues' handlers alone (pruneDeclaredSchedules: false) must not clear limits declared
    // elsewhere, and routes its queues by the policies it finds.
    let queues = options.queues;
    if (this.config.pruneDeclaredSchedules !== false) {
      await writeQueuePolicies(this.pool, this.schema, queuePolicies(this.config.queues));
    } else {
      const stored = await listQueues(this.pool, { schema: this.schema });
      const limited = new Set(stored.filter((q) => q.globalConcurrency !== null || q.concurrencyPerKey !== null || q.rateLimit !== null).map((q) => q.name));
      queues = new Map([...queues].map(([name, q]) => [name, { ...q, limited: q.limited || limited.has(name) }]));
    }
    await registerDeclaredSchedules(this.pool, this.schema, Object.keys(this.config.queues), this.#declaredSchedules, {
      prune: this.config.pruneDeclaredSchedules !== false,
    });
    const worker = new Worker({
      ...options,
      queues,
      pool: this.pool,
      schema: this.schema,
      emit: (event, ...args) => this.#emit(event, ...args),
      cron: { queues: Object.keys(this.config.queues), queueOptions: (q) => this.#knownQueueOptions(q), limits: this.limits(), logger: options.logger },
    });
    this.#worker = worker;
    await worker.start();
    options.logger.info(`worker ${options.workerId} started`, { queues: [...options.queues.keys()] });
    if (options.handleSignals) {
      this.#removeSignalHandlers = handleStopSignals({
        stop: () => this.stop(),
        stopNow: () => void worker.stop(0),
        onStopping: (signal) => options.logger.info(`${signal}: stopping gracefully (send again to stop at once)`),
        onError: (error) => this.#emit("error", error),
      });
    }
  }

  /**
   * Stops gracefully: no new jobs are fetched, running ones get `shutdownGrace` to finish, the
   * rest are aborted and returned to `scheduled` without spending an attempt. Resolves when
   * everything is released, the pool included (when Sidetrack created it).
   */
  async stop(options: { grace?: number } = {}): Promise<void> {
    const worker = this.#worker;
    if (worker) {
      await worker.stop(options.grace ?? this.#options.shutdownGraceMs);
      this.#removeSignalHandlers?.();
      this.#removeSignalHandlers = undefined;
    }
    this.#worker = undefined;
    await this.close();
  }

  /** The worker's id as written in `locked_by`. */
  get workerId(): string {
    return this.#options.workerId;
  }

  /**
   * Test helper: runs one job now in this process, whatever its run_at, if it is scheduled or
   * retrying. Returns the job as it is afterwards, or undefined when it was not runnable. A job
   * of a queue without a handler here is refused (SidetrackValidationError) and left untouched.
   */
  async runJob(id: string): Promise<Job<Queues[keyof Queues]> | undefined> {
    const ran = await runJobInline(this.#inlineContext(), String(id));
    return ran ? this.getJob(String(id)) : undefined;
  }

  /**
   * Test helper: runs ready jobs (of one queue, or of every queue with a handler) in this
   * process until none is left, and returns how many ran. `includeFutureJobs` also runs jobs
   * whose run_at is still ahead, retries included, so a failing job runs until its attempts are
   * spent.
   */
  async runJobs(filter: { queue?: keyof Queues & string; includeFutureJobs?: boolean } = {}): Promise<number> {
    if (filter.queue !== undefined) this.queueOptions(filter.queue);
    return runJobsInline(this.#inlineContext(), filter.queue, filter.includeFutureJobs ?? false);
  }

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
    const schedule = await upsertSchedule(this.db(options?.dbClient), this.schema, { queue, ...cron, payload: body, runMissed });
    return schedule as CronSchedule<Queues[K], K>;
  }

  /**
   * Deactivates the schedule (queue, expression): once this resolves no worker inserts another
   * job for it, and it stays inactive across restarts (start() does not reactivate it; call
   * scheduleCron to). Returns false when there is no such schedule.
   */
  async deactivateCronSchedule(queue: keyof Queues & string, expression: string): Promise<boolean> {
    return deactivateSchedule(this.db(), this.schema, validateQueueName(queue), expression);
  }

  /**
   * Deletes the schedule (queue, expression); jobs it already inserted stay. A schedule still
   * declared in the queue options comes back at the next start(): deactivate it to keep it
   * off, or remove it from the declaration. Returns false when there is no such schedule.
   */
  async deleteCronSchedule(queue: keyof Queues & string, expression: string): Promise<boolean> {
    return deleteSchedule(this.db(), this.schema, validateQueueName(queue), expression);
  }

  /** Every schedule (of one queue, or all), active or not. */
  async listCronSchedules(filter: { queue?: keyof Queues & string } = {}): Promise<CronSchedule[]> {
    return listSchedules(this.db(), this.schema, filter.queue);
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
    const options = this.#knownQueueOptions(queue);
    if (!options) {
      const known = Object.keys(this.config.queues).join(", ") || "none";
      throw new SidetrackValidationError(`unknown queue ${JSON.stringify(queue)}; known queues: ${known}`, String(queue));
    }
    return options;
  }

  protected db(client?: DbClient | AnyDbClient): DbClient {
    // A pg client passed as it is follows this instance's preparedStatements (behind PgBouncer in
    // transaction mode a named statement breaks); one wrapped in usePg() keeps its own choice.
    const pgOptions = { preparedStatements: this.config.preparedStatements };
    return client ? toDbClient(client, pgOptions) : usePg(this.pool, pgOptions);
  }

  #queueConfigs(): Record<string, QueueOptions<any> & { handler?: Handler<any> }> {
    return this.config.queues as Record<string, QueueOptions<any> & { handler?: Handler<any> }>;
  }

  #knownQueueOptions(queue: string): QueueOptions<any> | undefined {
    return Object.hasOwn(this.config.queues, queue) ? this.#queueConfigs()[queue] : undefined;
  }

  /** The queues' `cron` options, validated (expression, timezone, and the payload as an insert would check it). */
  #declaredCron(): DeclaredSchedule[] {
    const declared: DeclaredSchedule[] = [];
    for (const [queue, options] of Object.entries(this.#queueConfigs())) {
      const cron = options.cron;
      if (cron === undefined) continue;
      const valid = validateCron(queue, cron.schedule, cron.timezone);
      const payload = cron.payload === undefined ? {} : cron.payload;
      prepareInsert(queue, payload, {}, options, this.limits());
      declared.push({ queue, ...valid, payload });
    }
    return declared;
  }

  #inlineContext(): InlineContext {
    const { workerId, leaseMs, queues, logger } = this.#options;
    return { pool: this.pool, schema: this.schema, workerId, leaseMs, queues, logger, emit: (event, ...args) => this.#emit(event, ...args) };
  }

  #emit<E extends keyof SidetrackEvents>(event: E, ...args: SidetrackEvents[E]): void {
    // An "error" event with no listener would throw from EventEmitter; errors are logged anyway.
    if (event === "error" && this.#events.listenerCount("error") === 0) return;
    try {
      this.#events.emit(event, ...args);
    } catch (error) {
      this.#options.logger.error(`a "${event}" listener threw: ${(error as Error)?.message}`);
    }
  }

  private limits() {
    return { maxPayloadBytes: this.config.maxPayloadBytes };
  }
}

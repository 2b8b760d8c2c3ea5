import pg from "pg";
import { toDbClient, usePg, type AnyDbClient, type DbClient } from "./db.js";
import { SidetrackValidationError } from "./errors.js";
import { cancelChannel, DEFAULT_SCHEMA, validateQueueName, validateSchemaName } from "./identifiers.js";
import { insertRows, prepareInsert, type InsertOptions } from "./insert.js";
import { JOB_STATUSES, parseJob, type InsertedJob, type Job, type JobStatus } from "./job.js";
import { runMigrations, type MigrationResult } from "./migrate.js";
import type { QueueOptions } from "./queue-options.js";
import type { Handler, WorkerOptions } from "./worker-options.js";
import { cancelJobSql } from "./sql/cancelJob.js";
import { getJobSql, listJobsSql } from "./sql/readJobs.js";

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
    return client ? toDbClient(client) : usePg(this.pool);
  }

  private limits() {
    return { maxPayloadBytes: this.config.maxPayloadBytes };
  }
}

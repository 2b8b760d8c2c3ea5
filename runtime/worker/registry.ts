import { hostname } from "node:os";
import { randomInt } from "node:crypto";
import type pg from "pg";
import { SIDETRACK_VERSION } from "../version.js";
import { deleteWorkerSql, takeLivenessLockSql, upsertWorkerSql } from "../db/sql/workers.js";

/** What a worker says about itself in the registry. */
export interface WorkerIdentity {
  id: string;
  queues: readonly string[];
  concurrency: number;
}

/** Something that runs a query: the liveness session, or the pool. */
type Queryable = Pick<pg.ClientBase, "query"> | Pick<pg.Pool, "query">;

/**
 * This worker's row in the workers table. With a liveness session (the LISTEN connection),
 * `bindSession` takes a fresh advisory lock on it after every (re)connection and the heartbeat
 * runs over that same session, so the row proves the session alive. Without one (poll-only),
 * the heartbeat goes through the pool and the row carries no lock: only its age tells.
 */
export class WorkerRegistry {
  #session: pg.ClientBase | undefined;
  #lockKey: string | null = null;
  #registered = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string,
    private readonly identity: WorkerIdentity,
    /** The row had to be created again: a rescuer judged this worker gone meanwhile. */
    private readonly onRegisteredAgain: () => void,
  ) {}

  /** The liveness session (re)connected: lock it and register over it before any claim. */
  async bindSession(session: pg.ClientBase): Promise<void> {
    // Below 2^53 and positive, so it survives JavaScript numbers and the pg_locks split.
    const key = String(randomInt(1, 2 ** 47));
    const { rows } = await session.query<{ locked: boolean }>(takeLivenessLockSql, [key]);
    if (rows[0]?.locked !== true) throw new Error(`could not take the worker liveness lock ${key}`);
    this.#session = session;
    this.#lockKey = key;
    await this.heartbeat();
  }

  /** The liveness session ended: heartbeats stop until the next bindSession, so the row ages. */
  unbindSession(session: pg.ClientBase): void {
    if (this.#session === session) this.#session = undefined;
  }

  /**
   * Registers the worker again if a rescuer removed it, else refreshes heartbeat_at. With a
   * liveness lock but no session now, skip: a heartbeat through another connection would claim
   * a liveness this worker cannot prove.
   */
  async heartbeat(): Promise<void> {
    const via: Queryable | undefined = this.#lockKey === null ? this.pool : this.#session;
    if (!via) return;
    const { id, queues, concurrency } = this.identity;
    const { rows } = await via.query<{ inserted: boolean }>(upsertWorkerSql(this.schema), [
      id,
      hostname(),
      process.pid,
      queues,
      concurrency,
      SIDETRACK_VERSION,
      this.#lockKey,
    ]);
    if (rows[0]?.inserted === true && this.#registered) this.onRegisteredAgain();
    this.#registered = true;
  }

  /** stop(): leave the registry (the lock goes with the session). */
  async deregister(): Promise<void> {
    this.#session = undefined;
    this.#registered = false;
    await this.pool.query(deleteWorkerSql(this.schema), [this.identity.id]);
  }
}

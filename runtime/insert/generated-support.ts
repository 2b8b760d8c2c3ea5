// What the client written by `sidetrack generate` calls at run time. Kept here, not inlined into every
// generated file, so a fix reaches users on upgrade without regenerating.
import type pg from "pg";
import { inTransaction, toDbClient, type AnyDbClient, type DbClient } from "../db/clients.js";
import { SidetrackValidationError } from "../errors.js";
import { insertRows, prepareInsert, type InsertOptions } from "./insert.js";
import type { InsertedJob } from "../types.js";
import type { QueueOptions } from "../config/queue-options.js";
import { validatePayload, type PayloadSchema } from "./validate.js";

export type PgPool = pg.Pool;
export type PgPoolClient = pg.PoolClient;

/** One queue as the generated client describes it. */
export interface GeneratedQueue<Payload = any> {
  name: string;
  /** The options of the declaration, baked in at generate time. */
  options: QueueOptions<Payload>;
  /** The payload type, as data. */
  payload: PayloadSchema;
  /**
   * True when the payload type has a `payload` property: then a bare payload and a
   * `{ payload, options }` item look alike, so insertMany takes only the latter.
   */
  itemsOnly: boolean;
}

/** An insertMany item with its own options. */
export interface InsertItem<Payload> {
  payload: Payload;
  options?: InsertOptions | undefined;
}

/**
 * Validates every item (payload against the generated schema, then options) before anything
 * is sent, then inserts them all in one statement on `db`.
 */
export async function insertGenerated<Payload, Queue extends string>(
  db: AnyDbClient,
  schema: string,
  queue: GeneratedQueue,
  items: readonly InsertItem<unknown>[],
): Promise<InsertedJob<Payload, Queue>[]> {
  const client: DbClient = toDbClient(db);
  const rows = items.map(({ payload, options }) => {
    validatePayload(queue.payload, payload, queue.name);
    return prepareInsert(queue.name, payload, options ?? {}, queue.options);
  });
  return (await insertRows<Payload>(client, schema, rows)) as InsertedJob<Payload, Queue>[];
}

/** Normalises insertMany's argument (payloads, or `{ payload, options }` items) to items. */
export function toInsertItems(queue: GeneratedQueue, items: readonly unknown[]): InsertItem<unknown>[] {
  if (!Array.isArray(items)) {
    throw new SidetrackValidationError(`queue "${queue.name}": insertMany needs an array of payloads or { payload, options } items`, queue.name);
  }
  return items.map((item: unknown, i) => {
    if (isItem(item)) return item;
    if (queue.itemsOnly) {
      throw new SidetrackValidationError(
        `queue "${queue.name}": items[${i}] must be { payload, options? } (this queue's payload has a "payload" property, so bare payloads are ambiguous)`,
        queue.name,
        `items[${i}]`,
      );
    }
    return { payload: item };
  });
}

function isItem(value: unknown): value is InsertItem<unknown> {
  if (typeof value !== "object" || value === null || !Object.hasOwn(value, "payload")) return false;
  return Object.keys(value).every((key) => key === "payload" || key === "options");
}

/**
 * BEGIN on a client of `pool`, run `fn`, COMMIT; ROLLBACK when `fn` throws (and rethrow).
 * A client whose ROLLBACK failed is destroyed rather than returned to the pool.
 */
export async function runTransaction<Jobs, T>(
  pool: PgPool,
  bind: (client: DbClient) => Jobs,
  fn: (client: PgPoolClient, jobs: Jobs) => Promise<T>,
): Promise<T> {
  return inTransaction(pool, (client) => fn(client, bind(toDbClient(client))));
}

/** createWorker's guard for plain-JavaScript callers: every queue needs its handler. */
export function requireHandlers(queues: readonly string[], handlers: Record<string, unknown> | undefined): void {
  const missing = queues.filter((q) => typeof handlers?.[q] !== "function");
  if (missing.length > 0) {
    throw new SidetrackValidationError(`createWorker: missing handler for queue${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`);
  }
  const unknown = Object.keys(handlers ?? {}).filter((q) => !queues.includes(q));
  if (unknown.length > 0) {
    throw new SidetrackValidationError(`createWorker: handlers for unknown queue${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}; known queues: ${queues.join(", ")}`);
  }
}

import type pg from "pg";
import { SidetrackError } from "../errors.js";
import { beginSql, commitSql, rollbackSql } from "./sql/transactions.js";

/**
 * The one thing Sidetrack needs from a database client: run a parameterised query
 * ($1, $2, …) and get its rows back. Any client inside a transaction can be adapted.
 */
export interface DbClient {
  readonly sidetrackDbClient: true;
  /**
   * `name` marks a statement whose text never changes for that name: clients that can prepare
   * statements (node-postgres) parse and plan it once per connection; others ignore it.
   */
  query<Row = Record<string, unknown>>(text: string, values?: readonly unknown[], name?: string): Promise<Row[]>;
  /**
   * Runs `fn` on the node-postgres connection behind this client (the caller's own, inside its
   * transaction; or one checked out of a pool), for what only a real connection can do (COPY).
   * Absent for clients that have none (Prisma).
   */
  withConnection?<T>(fn: (client: pg.ClientBase) => Promise<T>): Promise<T>;
}

/** What node-postgres' Client, PoolClient and Pool have in common. */
export interface PgQueryable {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}

interface PgNamedQueryable {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}

/** What a Prisma client or interactive-transaction client offers for raw SQL. */
export interface PrismaQueryable {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T> | PromiseLike<T>;
}

/** Anything a generated `insertX(db, …)` accepts. */
export type AnyDbClient = DbClient | PgQueryable | PrismaQueryable;

export interface UsePgOptions {
  /**
   * Use named prepared statements (parsed and planned once per connection). Default true; set
   * false behind a pooler that does not keep sessions, such as PgBouncer in transaction mode.
   */
  preparedStatements?: boolean;
}

/** Adapts a node-postgres Client, PoolClient or Pool. Pass the client your transaction runs on. */
export function usePg(client: PgQueryable | pg.Pool | pg.PoolClient | pg.Client, options: UsePgOptions = {}): DbClient {
  const queryable = client as PgQueryable;
  const prepared = options.preparedStatements ?? true;
  return {
    sidetrackDbClient: true,
    async query<Row>(text: string, values: readonly unknown[] = [], name?: string) {
      const result = name && prepared
        ? await (client as PgNamedQueryable).query({ name, text, values: values as unknown[] })
        : await queryable.query(text, values as unknown[]);
      return result.rows as Row[];
    },
    withConnection: connectionOf(client),
  };
}

/**
 * How to reach the connection behind a node-postgres object: a Client or PoolClient is one
 * (it reports its transaction status); a Pool lends one. Anything else that merely has `query`
 * has none to offer.
 */
function connectionOf(client: unknown): DbClient["withConnection"] {
  const c = client as Partial<pg.Client> & Partial<pg.Pool>;
  if (typeof c.getTransactionStatus === "function") return (fn) => fn(client as pg.ClientBase);
  if (typeof c.connect === "function" && typeof c.totalCount === "number") return (fn) => withPoolClient(client as pg.Pool, fn);
  return undefined;
}

/** Adapts a Prisma client or the `tx` of `prisma.$transaction(async (tx) => …)`. */
export function usePrismaClient(prisma: PrismaQueryable): DbClient {
  return {
    sidetrackDbClient: true,
    async query<Row>(text: string, values: readonly unknown[] = []) {
      return (await prisma.$queryRawUnsafe<Row[]>(text, ...values)) as Row[];
    },
  };
}

export function isDbClient(value: unknown): value is DbClient {
  return typeof value === "object" && value !== null && (value as DbClient).sidetrackDbClient === true;
}

/** Recognises the kind of client passed in and adapts it. */
export function toDbClient(db: AnyDbClient, pgOptions: UsePgOptions = {}): DbClient {
  if (isDbClient(db)) return db;
  if (typeof (db as PrismaQueryable)?.$queryRawUnsafe === "function") return usePrismaClient(db as PrismaQueryable);
  if (typeof (db as PgQueryable)?.query === "function") return usePg(db as PgQueryable, pgOptions);
  throw new SidetrackError(
    "unsupported database client: pass a Prisma client or transaction client, a pg Client/PoolClient/Pool, or usePg(…)/usePrisma(…)",
  );
}

/**
 * Checks a client out of `pool`. While checked out, a client whose connection drops emits
 * "error" on itself, not on the pool: without a listener that kills the process. So we listen,
 * and hand a broken client back as broken so the pool discards it.
 */
async function checkOut(pool: pg.Pool) {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (error: Error) => void (broken ??= error);
  client.on("error", onError);
  return {
    client,
    markBroken: onError,
    release: () => {
      client.off("error", onError);
      client.release(broken);
    },
  };
}

/** Runs `fn` with a client checked out of `pool` (see checkOut), and gives it back. */
export async function withPoolClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const { client, release } = await checkOut(pool);
  try {
    return await fn(client);
  } finally {
    release();
  }
}

/**
 * BEGIN on a client of `pool`, run `fn`, COMMIT; ROLLBACK when `fn` throws (and rethrow). A
 * client whose connection dropped or whose ROLLBACK failed is discarded, not reused.
 */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const { client, markBroken, release } = await checkOut(pool);
  try {
    await client.query(beginSql);
    try {
      const result = await fn(client);
      await client.query(commitSql);
      return result;
    } catch (error) {
      await client.query(rollbackSql).catch(markBroken);
      throw error;
    }
  } finally {
    release();
  }
}

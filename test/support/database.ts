// One fresh database per test file: isolation for tables and for LISTEN/NOTIFY, which are
// per database, so test files can run in parallel against one server.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, inject } from "vitest";

/**
 * Connections one test file may hold at once on the shared server, its own pool, the Sidetrack
 * instances and child processes it starts included. vitest.config.ts caps the files running at
 * once, so that the budget times that cap leaves room under PostgreSQL's default max_connections
 * (100) for other clients of the same server.
 */
export const CONNECTION_BUDGET = 20;
/** The test database's own pool (`TestDatabase.pool`): small, since it is part of the budget. */
export const TEST_POOL_MAX = 4;

/**
 * Gives a connection an error listener. Dropping a test database (`with (force)`) or restarting a
 * server terminates the connections still open on it; a pg client with no "error" listener then
 * throws an uncaught exception, which fails the whole run.
 */
export function quiet<T extends { on(event: "error", listener: (error: Error) => void): unknown }>(client: T): T {
  client.on("error", () => undefined);
  return client;
}

export interface TestDatabase {
  url: string;
  name: string;
  /** A pool on the test database, closed after the file. */
  pool: pg.Pool;
}

export function adminUrl(): string {
  return inject("adminDatabaseUrl");
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

// Databases this test file created. The hook is registered when the file imports this module,
// at the top level of the file: vitest ignores an afterAll registered later, inside beforeAll.
const created: TestDatabase[] = [];
afterAll(async () => {
  for (const db of created.splice(0)) {
    // The pool first, so the forced drop below only ends what a test left open.
    await db.pool.end().catch(() => undefined);
    const client = quiet(new pg.Client({ connectionString: adminUrl() }));
    await client.connect();
    await client.query(`drop database if exists "${db.name}" with (force)`);
    await client.end();
  }
});

/** Creates a database for the calling test file; it is dropped after the file's tests. */
export async function createTestDatabase(label = "t"): Promise<TestDatabase> {
  const name = `st_${label.replace(/[^a-z0-9_]/gi, "_").toLowerCase().slice(0, 30)}_${randomBytes(4).toString("hex")}`;
  const admin = quiet(new pg.Client({ connectionString: adminUrl() }));
  await admin.connect();
  await admin.query(`create database "${name}"`);
  await admin.end();
  const url = withDatabase(adminUrl(), name);
  const pool = quiet(new pg.Pool({ connectionString: url, max: TEST_POOL_MAX }));
  // Also on each client for its whole life: pg-pool listens for errors only while a client is idle.
  pool.on("connect", (client) => void quiet(client));
  const db = { url, name, pool };
  created.push(db);
  return db;
}

// One fresh database per test file: isolation for tables and for LISTEN/NOTIFY, which are
// per database, so test files can run in parallel against one server.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, inject } from "vitest";

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
    await db.pool.end();
    const client = new pg.Client({ connectionString: adminUrl() });
    await client.connect();
    await client.query(`drop database if exists "${db.name}" with (force)`);
    await client.end();
  }
});

/** Creates a database for the calling test file; it is dropped after the file's tests. */
export async function createTestDatabase(label = "t"): Promise<TestDatabase> {
  const name = `st_${label.replace(/[^a-z0-9_]/gi, "_").toLowerCase().slice(0, 30)}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  await admin.end();
  const url = withDatabase(adminUrl(), name);
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  pool.on("error", () => undefined);
  const db = { url, name, pool };
  created.push(db);
  return db;
}

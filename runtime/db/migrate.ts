import pg from "pg";
import { withPoolClient } from "./clients.js";
import { endpointOf, toSidetrackError } from "./driver-errors.js";
import { SidetrackMigrationError } from "../errors.js";
import { DEFAULT_SCHEMA, quoteIdent, validateSchemaName } from "../config/identifiers.js";
import { MIGRATIONS, migrationChecksum, renderMigration, type Migration } from "./migrations/index.js";
import {
  appliedMigrationsSql,
  createMigrationsTableSql,
  migrationLockSql,
  migrationUnlockSql,
  recordMigrationSql,
  tableExistsSql,
} from "./sql/migrations.js";
import { beginSql, commitSql, rollbackSql } from "./sql/transactions.js";

export interface MigrationTarget {
  /** A PostgreSQL connection string; or pass `pool`. */
  connectionString?: string;
  /** An existing pool; it is left open. */
  pool?: pg.Pool;
  /** Schema holding Sidetrack's tables. Default `sidetrack`. */
  schema?: string;
}

export interface MigrationState {
  version: number;
  name: string;
  status: "applied" | "pending";
  appliedAt?: Date;
}

export interface MigrationResult {
  /** Versions this call applied (empty when the schema was already current). */
  applied: number[];
}

/**
 * Applies pending migrations. Safe to call from many processes at once: they queue on
 * an advisory lock, and each migration runs in its own transaction with its record.
 * Refuses when a migration that was already applied has different text, or when the
 * database has migrations this version does not know (a newer Sidetrack migrated it).
 */
export async function runMigrations(target: MigrationTarget): Promise<MigrationResult> {
  const schema = validateSchemaName(target.schema ?? DEFAULT_SCHEMA);
  return withClient(target, async (client) => {
    // Every worker start comes through here, and nearly always there is nothing to do: one read
    // says so without the lock and the DDL below. Anything else takes the locked path.
    if (await upToDate(client, schema)) return { applied: [] };
    await client.query(migrationLockSql, [schema]);
    try {
      await ensureMigrationsTable(client, schema);
      const applied = await readApplied(client, schema);
      verifyApplied(applied, schema);
      const done: number[] = [];
      for (const migration of MIGRATIONS) {
        if (applied.has(migration.version)) continue;
        await applyOne(client, schema, migration);
        done.push(migration.version);
      }
      return { applied: done };
    } finally {
      await client.query(migrationUnlockSql, [schema]).catch(() => undefined);
    }
  });
}

/** Lists every known migration as applied or pending, without changing anything. */
export async function migrationStatus(target: MigrationTarget): Promise<MigrationState[]> {
  const schema = validateSchemaName(target.schema ?? DEFAULT_SCHEMA);
  return withClient(target, async (client) => {
    const exists = await client.query<{ found: boolean }>(tableExistsSql, [`${quoteIdent(schema)}.migrations`]);
    const applied = exists.rows[0]?.found ? await readApplied(client, schema) : new Map();
    verifyApplied(applied, schema);
    return MIGRATIONS.map((m) => {
      const row = applied.get(m.version);
      return row
        ? { version: m.version, name: m.name, status: "applied" as const, appliedAt: row.appliedAt }
        : { version: m.version, name: m.name, status: "pending" as const };
    });
  });
}

/**
 * For start({ migrate: false }): throws SidetrackMigrationError naming every migration the
 * schema lacks (by file name, e.g. `0002_cron`), so the team whose own tool applies the SQL
 * files knows which one it missed. Changes nothing.
 */
export async function requireMigrations(target: MigrationTarget): Promise<void> {
  const schema = validateSchemaName(target.schema ?? DEFAULT_SCHEMA);
  const pending = (await migrationStatus(target)).filter((s) => s.status === "pending");
  if (pending.length === 0) return;
  const names = pending.map((p) => `${String(p.version).padStart(4, "0")}_${p.name}`);
  throw new SidetrackMigrationError(
    `schema "${schema}" is missing migration${pending.length === 1 ? "" : "s"} ${names.join(", ")}: ` +
      `apply ${pending.length === 1 ? "it" : "them"} (sidetrack/migrations/${names[0]}.sql${pending.length === 1 ? "" : ", …"}), ` +
      `run \`npx sidetrack migrate\`, or call start() without migrate: false`,
  );
}

/** Whether every known migration is applied (and verified); false when the table is missing. */
async function upToDate(client: pg.ClientBase, schema: string): Promise<boolean> {
  let applied: Map<number, AppliedRow>;
  try {
    applied = await readApplied(client, schema);
  } catch (error) {
    // No schema or no migrations table yet (undefined_table, invalid_schema_name).
    if (["42P01", "3F000"].includes((error as { code?: string }).code ?? "")) return false;
    throw error;
  }
  verifyApplied(applied, schema);
  return MIGRATIONS.every((m) => applied.has(m.version));
}

interface AppliedRow {
  checksum: string;
  appliedAt: Date;
}

async function withClient<T>(target: MigrationTarget, fn: (client: pg.ClientBase) => Promise<T>): Promise<T> {
  const schema = target.schema ?? DEFAULT_SCHEMA;
  const endpoint = endpointOf(target.pool ? (target.pool as unknown as { options: { connectionString?: string } }).options : target);
  try {
    return await connectAndRun(target, fn);
  } catch (error) {
    throw toSidetrackError(error, endpoint, schema);
  }
}

async function connectAndRun<T>(target: MigrationTarget, fn: (client: pg.ClientBase) => Promise<T>): Promise<T> {
  if (target.pool) return withPoolClient(target.pool, fn);
  if (!target.connectionString) {
    throw new SidetrackMigrationError("runMigrations needs a connectionString or a pool");
  }
  const client = new pg.Client({ connectionString: target.connectionString });
  // A connection dropped between two queries must fail the migration, not crash the process.
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function ensureMigrationsTable(client: pg.ClientBase, schema: string): Promise<void> {
  await client.query(createMigrationsTableSql(schema));
}

async function readApplied(client: pg.ClientBase, schema: string): Promise<Map<number, AppliedRow>> {
  const { rows } = await client.query<{ version: number; checksum: string; applied_at: Date }>(appliedMigrationsSql(schema));
  return new Map(rows.map((r) => [r.version, { checksum: r.checksum, appliedAt: r.applied_at }]));
}

function verifyApplied(applied: Map<number, AppliedRow>, schema: string): void {
  for (const [version, row] of applied) {
    const known = MIGRATIONS.find((m) => m.version === version);
    if (!known) {
      throw new SidetrackMigrationError(
        `schema "${schema}" has migration ${version}, which this version of Sidetrack does not know: upgrade sidetrack`,
      );
    }
    if (migrationChecksum(known) !== row.checksum) {
      throw new SidetrackMigrationError(
        `migration ${version} (${known.name}) was applied to schema "${schema}" with different text ` +
          `(checksum ${row.checksum.slice(0, 12)}…, expected ${migrationChecksum(known).slice(0, 12)}…): ` +
          `applied migrations must never change; restore the original or reset the schema`,
      );
    }
  }
}

async function applyOne(client: pg.ClientBase, schema: string, migration: Migration): Promise<void> {
  await client.query(beginSql);
  try {
    await client.query(renderMigration(migration, schema));
    await client.query(recordMigrationSql(schema), [
      migration.version,
      migration.name,
      migrationChecksum(migration),
    ]);
    await client.query(commitSql);
  } catch (error) {
    await client.query(rollbackSql).catch(() => undefined);
    throw new SidetrackMigrationError(
      `migration ${migration.version} (${migration.name}) failed in schema "${schema}": ${(error as Error).message}`,
    );
  }
}

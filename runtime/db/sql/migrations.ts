import { quoteIdent } from "../../config/identifiers.js";

/**
 * Serialises migrators of one schema (session-level, so it spans each migration's own
 * transaction). $1 the schema.
 */
export const migrationLockSql = "select pg_advisory_lock(hashtext('sidetrack.migrate.' || $1::text))";
export const migrationUnlockSql = "select pg_advisory_unlock(hashtext('sidetrack.migrate.' || $1::text))";

/** Whether a table exists, without failing when it does not. $1 the quoted, schema-qualified name. */
export const tableExistsSql = "select to_regclass($1) is not null as found";

/** The schema and the table recording applied migrations (version, name, checksum, time). */
export function createMigrationsTableSql(schema: string): string {
  return `create schema if not exists ${quoteIdent(schema)};
create table if not exists ${quoteIdent(schema)}.migrations (
  version integer primary key,
  name text not null,
  checksum text not null,
  applied_at timestamptz not null default now()
)`;
}

/** Every applied migration, in order. */
export function appliedMigrationsSql(schema: string): string {
  return `select version, checksum, applied_at from ${quoteIdent(schema)}.migrations order by version`;
}

/** Records one applied migration, in the transaction that applied it. $1 version, $2 name, $3 checksum. */
export function recordMigrationSql(schema: string): string {
  return `insert into ${quoteIdent(schema)}.migrations (version, name, checksum) values ($1, $2, $3)`;
}

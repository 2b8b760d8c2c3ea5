// The migration files `sidetrack generate` writes: plain SQL, or a Prisma Migrate folder.
import { quoteIdent } from "../runtime/config/identifiers.js";
import { MIGRATIONS, migrationChecksum, migrationFileName, renderMigration, type Migration } from "../runtime/db/migrations/index.js";
import { header } from "./header.js";

export interface TemplateFile {
  /** Relative to the output folder, with forward slashes. */
  path: string;
  content: string;
}

/**
 * `migrations/0001_jobs.sql`, …: each file is self-contained, so any migration tool (psql, Flyway,
 * node-pg-migrate, Knex, Drizzle) can apply it as it is: it creates the schema and Sidetrack's
 * migrations table if needed, runs the migration, and records it there with the checksum
 * `sidetrack migrate` verifies, so `migrate`, `status` and `start()` then see it as applied.
 * The checksum covers the migration's body only, never this wrapper.
 */
export function sqlMigrationFiles(schema: string, source: string): TemplateFile[] {
  return MIGRATIONS.map((m) => ({ path: `migrations/${migrationFileName(m)}`, content: selfRecording(m, schema, source) }));
}

/**
 * `prisma-migrations/0001_sidetrack_jobs/migration.sql`, …: one Prisma Migrate folder per migration,
 * named without a timestamp so regenerating is deterministic, with the same self-recording text as the
 * plain files (Prisma checksums applied files too, so this text must not change either).
 */
export function prismaMigrationFiles(schema: string, source: string): TemplateFile[] {
  return MIGRATIONS.map((m) => {
    const folder = `${String(m.version).padStart(4, "0")}_sidetrack_${m.name}`;
    return { path: `prisma-migrations/${folder}/migration.sql`, content: selfRecording(m, schema, source) };
  });
}

/** The migration wrapped so that it creates what it needs first and records itself last (idempotently). */
function selfRecording(m: Migration, schema: string, source: string): string {
  const s = quoteIdent(schema);
  return [
    header(source, "--"),
    `-- Sidetrack migration ${m.version} (${m.name}) for schema ${schema}, recorded in ${schema}.migrations.`,
    "",
    `create schema if not exists ${s};`,
    `create table if not exists ${s}.migrations (`,
    "    version integer primary key,",
    "    name text not null,",
    "    checksum text not null,",
    "    applied_at timestamptz not null default now()",
    "  );",
    "",
    renderMigration(m, schema).trimEnd(),
    "",
    `insert into ${s}.migrations (version, name, checksum)`,
    `values (${m.version}, '${m.name}', '${migrationChecksum(m)}')`,
    "on conflict (version) do nothing;",
    "",
  ].join("\n");
}

// The migration files `sidetrack generate` writes: plain SQL, or a Prisma Migrate folder.
import { quoteIdent } from "../runtime/config/identifiers.js";
import { MIGRATIONS, migrationChecksum, migrationFileName, renderMigration } from "../runtime/db/migrations/index.js";
import { header } from "./header.js";

export interface TemplateFile {
  /** Relative to the output folder, with forward slashes. */
  path: string;
  content: string;
}

/**
 * `migrations/0001_jobs.sql`, …: byte for byte what `sidetrack migrate` runs (no header, so the
 * file can be compared with, or checksummed like, the applied text).
 */
export function sqlMigrationFiles(schema: string): TemplateFile[] {
  return MIGRATIONS.map((m) => ({ path: `migrations/${migrationFileName(m)}`, content: renderMigration(m, schema) }));
}

/**
 * `prisma-migrations/0001_sidetrack_jobs/migration.sql`, …: one Prisma Migrate folder per migration,
 * named without a timestamp so regenerating is deterministic. Each also records itself in Sidetrack's
 * own migrations table, so `sidetrack migrate` and `start()` see it as applied and do not run it again.
 */
export function prismaMigrationFiles(schema: string, source: string): TemplateFile[] {
  const s = quoteIdent(schema);
  return MIGRATIONS.map((m) => {
    const folder = `${String(m.version).padStart(4, "0")}_sidetrack_${m.name}`;
    const content = [
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
    return { path: `prisma-migrations/${folder}/migration.sql`, content };
  });
}

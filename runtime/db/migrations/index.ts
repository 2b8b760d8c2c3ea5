import { createHash } from "node:crypto";
import { quoteIdent } from "../../config/identifiers.js";
import { sql as jobs } from "./0001_jobs.js";
import { sql as cron } from "./0002_cron.js";
import { sql as workers } from "./0003_workers.js";
import { sql as queues } from "./0004_queues.js";
import { sql as jobLifecycle } from "./0005_job_lifecycle.js";
import { sql as hotPathIndexes } from "./0006_hot_path_indexes.js";

export interface Migration {
  /** Applied in ascending order; never reused. */
  readonly version: number;
  readonly name: string;
  /** The SQL with `{{schema}}` where the quoted schema name goes. */
  readonly template: string;
}

/** Every migration this version of Sidetrack ships, oldest first. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: "jobs", template: jobs },
  { version: 2, name: "cron", template: cron },
  { version: 3, name: "workers", template: workers },
  { version: 4, name: "queues", template: queues },
  { version: 5, name: "job_lifecycle", template: jobLifecycle },
  { version: 6, name: "hot_path_indexes", template: hotPathIndexes },
];

/** The SQL of a migration for one schema: what `sidetrack migrate` runs and `generate` writes out. */
export function renderMigration(migration: Migration, schema: string): string {
  return migration.template.replaceAll("{{schema}}", quoteIdent(schema));
}

/** Checksum of the template, so the same migration has the same checksum in every schema. */
export function migrationChecksum(migration: Migration): string {
  return createHash("sha256").update(migration.template).digest("hex");
}

/** File name a migration is written under, e.g. `0001_jobs.sql`. */
export function migrationFileName(migration: Migration): string {
  return `${String(migration.version).padStart(4, "0")}_${migration.name}.sql`;
}

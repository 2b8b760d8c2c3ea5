// `sidetrack`: what applications import at run time. Never imports generator/ or a compiler.
export { Sidetrack } from "./sidetrack.js";
export type { SidetrackConfig, DatabaseOptions, InsertJobOptions, InsertManyItem, ListJobsOptions } from "./sidetrack.js";
export { usePg, toDbClient } from "./db.js";
export type { DbClient, AnyDbClient, PgQueryable, PrismaQueryable } from "./db.js";
export { runMigrations, migrationStatus } from "./migrate.js";
export type { MigrationTarget, MigrationState, MigrationResult } from "./migrate.js";
export { MIGRATIONS, renderMigration, migrationFileName, migrationChecksum } from "./migrations/index.js";
export { defineQueues, queue } from "./queue-options.js";
export type { QueueOptions, QueueDefinition, CronOptions, PayloadsOf } from "./queue-options.js";
export { prepareInsert, insertRows, uniqueKeyFromPayload } from "./insert.js";
export type { InsertOptions, InsertRow } from "./insert.js";
export { JOB_STATUSES } from "./job.js";
export type { Job, JobStatus, JobError, InsertedJob } from "./job.js";
export { parseDuration } from "./duration.js";
export type { Duration } from "./duration.js";
export { SidetrackError, SidetrackValidationError, SidetrackMigrationError } from "./errors.js";
export { DEFAULT_SCHEMA } from "./identifiers.js";
export type { Handler, JobContext, Logger, WorkerOptions, RetentionOptions, SidetrackEvents } from "./worker-options.js";

// `sidetrack`: the API applications use. What the generated client needs beyond it lives behind
// `sidetrack/generated`; everything else is internal. Never imports generator/ or a compiler.
export { Sidetrack } from "./client/sidetrack.js";
export type { SidetrackConfig, DatabaseOptions, StartOptions, InsertJobOptions, InsertManyItem, ListJobsOptions } from "./client/sidetrack.js";
export { listWorkers, queueStatus, retryJob, retryJobs, RETRYABLE_STATUSES } from "./client/admin.js";
export type { QueueStatus, WorkerInfo, QueueStatusOptions, RetryableStatus, RetrySkip, RetryJobsOptions, RetryJobsResult, RetryJobResult } from "./client/admin.js";
export { listQueues, setQueuePaused } from "./client/queues.js";
export type { QueueInfo } from "./client/queues.js";
export { defineQueues, queue } from "./config/queue-options.js";
export type { QueueOptions, QueueDefinition, CronOptions, PayloadsOf } from "./config/queue-options.js";
export type { WorkerOptions, RetentionOptions } from "./config/worker-options.js";
export type { Duration } from "./config/duration.js";
export { DEFAULT_SCHEMA } from "./config/identifiers.js";
export { consoleLogger } from "./config/logger.js";
export { metricsHandler, prometheusText, PROMETHEUS_CONTENT_TYPE } from "./telemetry/prometheus.js";
export { pinoLogger } from "./telemetry/pino.js";
export type { PinoLike } from "./telemetry/pino.js";
export { TRACE_META_KEY } from "./telemetry/names.js";
export type { RunOutcome, TraceParent, StoredTrace } from "./telemetry/names.js";
export { usePg } from "./db/clients.js";
export type { DbClient, AnyDbClient, PgQueryable, PrismaQueryable, UsePgOptions } from "./db/clients.js";
export { runMigrations, migrationStatus } from "./db/migrate.js";
export type { MigrationTarget, MigrationState, MigrationResult } from "./db/migrate.js";
export type { InsertOptions } from "./insert/insert.js";
export { cronTicks } from "./cron/expression.js";
export { JOB_STATUSES } from "./types.js";
export type { Job, JobStatus, JobError, InsertedJob, Handler, JobContext, Snooze, Logger, SidetrackEvents, CronSchedule, ScheduleCronOptions, StandardSchemaV1 } from "./types.js";
export {
  SidetrackError,
  SidetrackValidationError,
  SidetrackMigrationError,
  SidetrackConnectionError,
  SidetrackUniqueConflictError,
  JobTimeoutError,
  JobAbortedError,
  UnrecoverableError,
  JobOutputError,
} from "./errors.js";
export { snooze } from "./worker/snooze.js";
export type { AbortReason } from "./errors.js";

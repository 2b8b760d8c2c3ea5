// Reading and cancelling jobs: the functions behind Sidetrack's getJob / listJobs / cancelJob,
// shared with the CLI (`sidetrack jobs …`) so both read and change jobs the same way.
import { LIST_LIMIT_DEFAULT } from "../config/defaults.js";
import { cancelChannel, DEFAULT_SCHEMA, isJobId, validateSchemaName } from "../config/identifiers.js";
import { toDbClient, type AnyDbClient } from "../db/clients.js";
import { parseJob } from "../db/rows.js";
import { cancelJobSql } from "../db/sql/cancelJob.js";
import { getJobSql, listJobsSql } from "../db/sql/readJobs.js";
import { SidetrackValidationError } from "../errors.js";
import { JOB_STATUSES, type Job, type JobStatus } from "../types.js";

export interface ListJobsFilter {
  queue?: string;
  status?: JobStatus;
  /** Only jobs inserted with this tag. */
  tag?: string;
  /** Default 1000 (LIST_LIMIT_DEFAULT). */
  limit?: number;
  /** Only jobs with a larger id: pass the last id of a page to read the next. */
  afterId?: string;
}

/** The job with this id, or undefined (a malformed id finds nothing). */
export async function getJob(db: AnyDbClient, id: string, options: { schema?: string } = {}): Promise<Job | undefined> {
  const schema = validateSchemaName(options.schema ?? DEFAULT_SCHEMA);
  const [row] = await toDbClient(db).query<{ job: string }>(getJobSql(schema), [String(id)]);
  return row ? parseJob(row.job) : undefined;
}

/** Jobs by queue and/or status, oldest first, one page at a time. */
export async function listJobs(db: AnyDbClient, filter: ListJobsFilter = {}, options: { schema?: string } = {}): Promise<Job[]> {
  const schema = validateSchemaName(options.schema ?? DEFAULT_SCHEMA);
  if (filter.status !== undefined && !JOB_STATUSES.includes(filter.status)) {
    throw new SidetrackValidationError(`listJobs: unknown status ${JSON.stringify(filter.status)}; one of ${JOB_STATUSES.join(", ")}`);
  }
  if (filter.afterId !== undefined && !isJobId(filter.afterId)) {
    throw new SidetrackValidationError(`listJobs: afterId must be a job id (digits), got ${JSON.stringify(filter.afterId)}`);
  }
  if (filter.tag !== undefined && (typeof filter.tag !== "string" || filter.tag === "")) {
    throw new SidetrackValidationError(`listJobs: tag must be a non-empty string, got ${JSON.stringify(filter.tag)}`);
  }
  const limit = filter.limit ?? LIST_LIMIT_DEFAULT;
  if (!Number.isInteger(limit) || limit < 1) throw new SidetrackValidationError(`listJobs: limit must be a positive integer, got ${limit}`);
  const rows = await toDbClient(db).query<{ job: string }>(listJobsSql(schema), [
    filter.queue ?? null,
    filter.status ?? null,
    limit,
    filter.afterId ?? null,
    filter.tag ?? null,
  ]);
  return rows.map((r) => parseJob(r.job));
}

/**
 * Cancels a job that has not finished: a scheduled or retrying one at once; a running one also
 * has its handler's signal aborted in whichever process runs it. Returns the status it had, or
 * undefined when there is no such job or it had already finished.
 */
export async function cancelJob(db: AnyDbClient, id: string, options: { schema?: string } = {}): Promise<JobStatus | undefined> {
  const schema = validateSchemaName(options.schema ?? DEFAULT_SCHEMA);
  const [row] = await toDbClient(db).query<{ previous_status: JobStatus }>(cancelJobSql(schema), [String(id), cancelChannel(schema)]);
  return row?.previous_status;
}

// The structured fields of every log line about a job, under stable names a log pipeline can
// index: the same whichever logger (console, pino, …) receives them.
import type { Job } from "../types.js";

export interface JobLogFields {
  jobId: string;
  queue: string;
  attempt: number;
  workerId: string;
  /** The trace id of the attempt's span, when one is recorded. */
  traceId?: string;
  [key: string]: unknown;
}

export function jobLogFields(job: Pick<Job, "id" | "queue" | "attempt">, workerId: string, traceId?: string): JobLogFields {
  const fields: JobLogFields = { jobId: job.id, queue: job.queue, attempt: job.attempt, workerId };
  if (traceId) fields.traceId = traceId;
  return fields;
}

import { quoteIdent } from "../../config/identifiers.js";
import { LEASED_TO_PARAM_2 } from "./fragments.js";

/**
 * A job's started_at after it waited `d.buffered_ms` in the lock-ahead buffer: the claim wrote
 * the claim's time, the handler started that much later. Written with the job's outcome, so a
 * buffered start costs no statement of its own.
 */
export const BUFFERED_START = `started_at = j.started_at + d.buffered_ms * interval '1 millisecond'`;

/** What completing a job writes (here, and in the claim that carries completions: fetchJobsSql). */
export const COMPLETED_SET = `status = 'completed', completed_at = now(), finalized_at = now(), locked_by = null, locked_until = null`;

/**
 * Marks a batch of jobs completed. Guarded by `status = 'running' and locked_by = me`, so a
 * late completion of a job that was cancelled or rescued meanwhile changes nothing.
 * started_at moves on by the time each job waited in the worker's lock-ahead buffer, so it is
 * when its handler started (BUFFERED_START).
 * $1 ids, $2 worker id, $3 milliseconds each waited in the buffer. Returns the ids completed.
 */
export function completeJobsSql(schema: string): string {
  return `update ${quoteIdent(schema)}.jobs j
set ${COMPLETED_SET}, ${BUFFERED_START}
from unnest($1::bigint[], $3::int[]) as d(id, buffered_ms)
where j.id = d.id and ${LEASED_TO_PARAM_2}
returning j.id::text`;
}

/**
 * Completes jobs whose handlers resolved a value or reported progress not yet written: the same
 * guard and columns as completeJobsSql, plus `output` and the last `progress`. Jobs with neither
 * take completeJobsSql or the claim (fetchJobsSql), which never read these columns.
 * $1 JSON array of { id, output, progress, buffered_ms } (output and progress JSON, or null),
 * $2 worker id.
 */
export function completeJobsWithOutputSql(schema: string): string {
  return `update ${quoteIdent(schema)}.jobs j
set ${COMPLETED_SET}, output = d.output, progress = coalesce(d.progress, j.progress), ${BUFFERED_START}
from jsonb_to_recordset($1::jsonb) as d(id bigint, output jsonb, progress jsonb, buffered_ms int)
where j.id = d.id and ${LEASED_TO_PARAM_2}
returning j.id::text`;
}

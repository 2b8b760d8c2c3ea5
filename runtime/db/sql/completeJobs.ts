import { quoteIdent } from "../../config/identifiers.js";

/** What completing a job writes (here, and in the claim that carries completions: fetchJobsSql). */
export const COMPLETED_SET = `status = 'completed', completed_at = now(), finalized_at = now(), locked_by = null, locked_until = null`;

/**
 * Marks a batch of jobs completed. Guarded by `status = 'running' and locked_by = me`, so a
 * late completion of a job that was cancelled or rescued meanwhile changes nothing.
 * $1 ids, $2 worker id. Returns the ids that were completed.
 */
export function completeJobsSql(schema: string): string {
  return `update ${quoteIdent(schema)}.jobs
set ${COMPLETED_SET}
where id = any($1::bigint[]) and status = 'running' and locked_by = $2
returning id::text`;
}

/**
 * Completes jobs whose handlers resolved a value or reported progress not yet written: the same
 * guard and columns as completeJobsSql, plus `output` and the last `progress`. Jobs with neither
 * take completeJobsSql or the claim (fetchJobsSql), which never read these columns.
 * $1 JSON array of { id, output, progress } (output and progress JSON, or null), $2 worker id.
 */
export function completeJobsWithOutputSql(schema: string): string {
  return `update ${quoteIdent(schema)}.jobs j
set ${COMPLETED_SET}, output = f.output, progress = coalesce(f.progress, j.progress)
from jsonb_to_recordset($1::jsonb) as f(id bigint, output jsonb, progress jsonb)
where j.id = f.id and j.status = 'running' and j.locked_by = $2
returning j.id::text`;
}

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

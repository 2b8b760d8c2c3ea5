import { quoteIdent } from "../../config/identifiers.js";

/**
 * Records a running job's progress. Guarded like completion (`status = 'running' and locked_by =
 * me`), so a late write for a job cancelled or rescued meanwhile changes nothing.
 * $1 id, $2 worker id, $3 progress JSON.
 */
export function writeProgressSql(schema: string): string {
  return `update ${quoteIdent(schema)}.jobs
set progress = $3::jsonb
where id = $1::bigint and status = 'running' and locked_by = $2`;
}

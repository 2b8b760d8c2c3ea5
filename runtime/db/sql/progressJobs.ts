import { quoteIdent } from "../../config/identifiers.js";
import { LEASED_TO_PARAM_2 } from "./fragments.js";

/**
 * Records a running job's progress. Guarded like completion (`status = 'running' and locked_by =
 * me`), so a late write for a job cancelled or rescued meanwhile changes nothing.
 * $1 id, $2 worker id, $3 progress JSON.
 */
export function writeProgressSql(schema: string): string {
  return `update ${quoteIdent(schema)}.jobs j
set progress = $3::jsonb
where j.id = $1::bigint and ${LEASED_TO_PARAM_2}`;
}

import { quoteIdent } from "../../config/identifiers.js";
import { LEASED_TO_PARAM_2 } from "./fragments.js";

/**
 * Snoozes a batch of jobs whose handlers returned `snooze(delay)`: back to `scheduled` at now +
 * delay with the attempt given back (attempt - 1, as a job returned at shutdown), and `snoozes`
 * counted. A job that already snoozed `max_snoozes` times ends `failed` instead, with `error`
 * appended to its errors. Same guard as completion, so a late snooze of a job cancelled or
 * rescued meanwhile changes nothing.
 * $1 JSON array of { id, delay_ms, max_snoozes, error }, $2 worker id.
 * Returns each changed job's id and new status ('scheduled' or 'failed').
 */
export function snoozeJobsSql(schema: string): string {
  return `update ${quoteIdent(schema)}.jobs j
set status = case when j.snoozes >= f.max_snoozes then 'failed' else 'scheduled' end,
    attempt = case when j.snoozes >= f.max_snoozes then j.attempt else greatest(j.attempt - 1, 0) end,
    snoozes = case when j.snoozes >= f.max_snoozes then j.snoozes else j.snoozes + 1 end,
    run_at = case when j.snoozes >= f.max_snoozes then j.run_at else now() + f.delay_ms * interval '1 millisecond' end,
    failed_at = case when j.snoozes >= f.max_snoozes then now() else j.failed_at end,
    finalized_at = case when j.snoozes >= f.max_snoozes then now() end,
    errors = case when j.snoozes >= f.max_snoozes
      then j.errors || jsonb_build_array(f.error || jsonb_build_object('at', now())) else j.errors end,
    locked_by = null, locked_until = null
from jsonb_to_recordset($1::jsonb) as f(id bigint, delay_ms bigint, max_snoozes integer, error jsonb)
where j.id = f.id and ${LEASED_TO_PARAM_2}
returning j.id::text, j.status`;
}

import { quoteIdent } from "../../config/identifiers.js";
import { LEASED_TO_PARAM_2 } from "./fragments.js";
import { BUFFERED_START } from "./completeJobs.js";

/**
 * Records a batch of failed attempts: the error is appended to `errors`; the job is retried
 * after its backoff delay, or ends `failed` when its attempts are spent or the handler threw an
 * UnrecoverableError (`final`). Same guard as completion; started_at as in completeJobsSql.
 * $1 JSON array of { id, delay_ms, buffered_ms, error, final }, $2 worker id.
 * Returns each changed job's id and new status.
 */
export function failJobsSql(schema: string): string {
  return `update ${quoteIdent(schema)}.jobs j
set status = case when d.final or j.attempt >= j.max_attempts then 'failed' else 'retrying' end,
    run_at = case when d.final or j.attempt >= j.max_attempts then j.run_at else now() + d.delay_ms * interval '1 millisecond' end,
    failed_at = now(),
    finalized_at = case when d.final or j.attempt >= j.max_attempts then now() end,
    errors = j.errors || jsonb_build_array(d.error || jsonb_build_object('at', now())),
    locked_by = null, locked_until = null, ${BUFFERED_START}
from jsonb_to_recordset($1::jsonb) as d(id bigint, delay_ms bigint, buffered_ms int, error jsonb, final boolean)
where j.id = d.id and ${LEASED_TO_PARAM_2}
returning j.id::text, j.status`;
}

import { quoteIdent } from "../../config/identifiers.js";

/**
 * Records a batch of failed attempts: the error is appended to `errors`; the job is retried
 * after its backoff delay, or ends `failed` when its attempts are spent or the handler threw an
 * UnrecoverableError (`final`). Same guard as completion.
 * $1 JSON array of { id, delay_ms, error, final }, $2 worker id.
 * Returns each changed job's id and new status.
 */
export function failJobsSql(schema: string): string {
  return `update ${quoteIdent(schema)}.jobs j
set status = case when f.final or j.attempt >= j.max_attempts then 'failed' else 'retrying' end,
    run_at = case when f.final or j.attempt >= j.max_attempts then j.run_at else now() + f.delay_ms * interval '1 millisecond' end,
    failed_at = now(),
    finalized_at = case when f.final or j.attempt >= j.max_attempts then now() end,
    errors = j.errors || jsonb_build_array(f.error || jsonb_build_object('at', now())),
    locked_by = null, locked_until = null
from jsonb_to_recordset($1::jsonb) as f(id bigint, delay_ms bigint, error jsonb, final boolean)
where j.id = f.id and j.status = 'running' and j.locked_by = $2
returning j.id::text, j.status`;
}

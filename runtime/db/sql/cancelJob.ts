import { quoteIdent } from "../../config/identifiers.js";
import { AFTER_NOTIFIED, JOB_ID_SQL_PATTERN, LIVE_STATUS_LIST } from "./fragments.js";

/**
 * Cancels a job that has not finished. A scheduled or retrying job is simply cancelled; a
 * running one also gets a NOTIFY on the cancel channel so the process running it aborts
 * the handler's signal. Its worker's completion is then a no-op, being guarded by
 * `status = 'running'`. $1: id, $2: cancel channel. Returns the previous status, or no row.
 */
export function cancelJobSql(schema: string): string {
  const jobs = `${quoteIdent(schema)}.jobs`;
  return `with target as (
  select id, status from ${jobs}
  where id = case when $1 ~ ${JOB_ID_SQL_PATTERN} then $1::bigint end
    and status in ${LIVE_STATUS_LIST}
  for update
), cancelled as (
  update ${jobs} j
  set status = 'cancelled', cancelled_at = now(), finalized_at = now(), locked_by = null, locked_until = null
  from target where j.id = target.id
  returning target.status as previous_status, j.id
), notified as (
  select pg_notify($2, id::text) from cancelled where previous_status = 'running'
)
select previous_status from cancelled where ${AFTER_NOTIFIED}`;
}

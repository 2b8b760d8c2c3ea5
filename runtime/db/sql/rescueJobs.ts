import { quoteIdent } from "../../config/identifiers.js";
import { AFTER_NOTIFIED } from "./fragments.js";

/**
 * Rescues running jobs whose lease expired (their worker crashed, hung or lost the database):
 * the lost attempt is recorded as an error, and the job is retried at once or, when its
 * attempts are spent, failed. Any worker runs this; SKIP LOCKED keeps them out of each
 * other's way, and a NOTIFY wakes fetchers for the queues that got work back.
 * $1 batch size, $2 jobs channel. Returns the ids, queues and new statuses.
 */
export function rescueJobsSql(schema: string): string {
  const jobs = `${quoteIdent(schema)}.jobs`;
  return `with expired as (
  select id from ${jobs}
  where status = 'running' and locked_until < now()
  order by locked_until
  limit $1
  for update skip locked
), rescued as (
  update ${jobs} j
  set status = case when j.attempt >= j.max_attempts then 'failed' else 'retrying' end,
      run_at = now(),
      failed_at = now(),
      finalized_at = case when j.attempt >= j.max_attempts then now() end,
      errors = j.errors || jsonb_build_array(jsonb_build_object(
        'attempt', j.attempt,
        'message', 'worker ' || coalesce(j.locked_by, '?') || ' lost its lease (crashed, hung or disconnected) during this attempt',
        'at', now())),
      locked_by = null, locked_until = null
  from expired
  where j.id = expired.id
  returning j.id::text as id, j.queue, j.status
), notified as (
  select pg_notify($2, queue) from (select distinct queue from rescued where status = 'retrying') q
)
select id, queue, status from rescued where ${AFTER_NOTIFIED}`;
}

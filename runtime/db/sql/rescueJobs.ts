import { quoteIdent } from "../../config/identifiers.js";
import { AFTER_NOTIFIED } from "./fragments.js";
import { LOCK_HELD } from "./workers.js";

/**
 * Rescues running jobs whose worker is gone or whose lease expired: the lost attempt is
 * recorded as an error, and the job is retried at once or, when its attempts are spent, failed.
 *
 * A worker is gone when its liveness lock is no longer held and its last heartbeat is older
 * than the grace a reconnecting worker gets to take a new one ($3), or, for a worker without a
 * liveness session (poll-only), when its heartbeat is older than $4. Gone workers leave the
 * registry here; every job they held (running, or finished with the outcome not yet written)
 * is rescued without waiting for its lease. Within $5 of a PostgreSQL restart no worker is
 * judged by the registry (every session ended at once and the workers are still reconnecting):
 * only expired leases count then. The calling worker ($6) never judges itself.
 *
 * Any worker runs this; SKIP LOCKED keeps them out of each other's way, and a NOTIFY wakes
 * fetchers for the queues that got work back.
 * $1 batch size, $2 jobs channel, $3 lock grace ms, $4 heartbeat-only staleness ms,
 * $5 restart grace ms, $6 the calling worker's id. Returns the ids, queues, new statuses and
 * why (`worker-gone` or `lease-expired`).
 */
export function rescueJobsSql(schema: string): string {
  const jobs = `${quoteIdent(schema)}.jobs`;
  const workers = `${quoteIdent(schema)}.workers`;
  return `with gone as (
  select w.id from ${workers} w
  where w.id <> $6
    and pg_postmaster_start_time() < now() - $5 * interval '1 millisecond'
    and case when w.lock_key is null then w.heartbeat_at < now() - $4 * interval '1 millisecond'
             else w.heartbeat_at < now() - $3 * interval '1 millisecond' and not ${LOCK_HELD} end
  for update skip locked
), left_registry as (
  delete from ${workers} w using gone where w.id = gone.id returning w.id
), expired as (
  select j.id, j.locked_by in (select id from left_registry) as worker_gone from ${jobs} j
  where j.status = 'running' and (j.locked_until < now() or j.locked_by in (select id from left_registry))
  order by j.locked_until
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
        'message', case when expired.worker_gone
          then 'worker ' || coalesce(j.locked_by, '?') || ' is gone (its database session ended or its heartbeat stopped) during this attempt'
          else 'worker ' || coalesce(j.locked_by, '?') || ' lost its lease (crashed, hung or disconnected) during this attempt' end,
        'at', now())),
      locked_by = null, locked_until = null
  from expired
  where j.id = expired.id
  returning j.id::text as id, j.queue, j.status, case when expired.worker_gone then 'worker-gone' else 'lease-expired' end as reason
), notified as (
  select pg_notify($2, queue) from (select distinct queue from rescued where status = 'retrying') q
)
select id, queue, status, reason from rescued where ${AFTER_NOTIFIED}`;
}

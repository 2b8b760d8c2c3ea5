import { quoteIdent } from "../../config/identifiers.js";
import { READY_STATUS_LIST } from "./fragments.js";

/**
 * Counts per queue for `sidetrack status`, read in one statement so every number is from the
 * same snapshot and the same `now()`. A full scan of the jobs table: fine for an operator
 * command, not meant to be polled by many processes.
 * $1: queue or null (all queues), $2: completed window in milliseconds.
 * Counts and ages come back as text (bigint) so nothing is rounded on the way.
 */
export function queueStatusSql(schema: string): string {
  return `select queue,
  count(*) filter (where status = 'scheduled' and run_at <= now())::text as scheduled_ready,
  count(*) filter (where status = 'scheduled' and run_at > now())::text as scheduled_future,
  count(*) filter (where status = 'running')::text as running,
  count(*) filter (where status = 'retrying')::text as retrying,
  count(*) filter (where status = 'failed')::text as failed,
  count(*) filter (where status = 'completed'
    and finalized_at > now() - $2::bigint * interval '1 millisecond')::text as completed,
  count(*) filter (where status = 'cancelled')::text as cancelled,
  -- "ready" is what a worker may claim now: scheduled or retrying with run_at reached
  floor(extract(epoch from now() - min(run_at) filter (
    where status in ${READY_STATUS_LIST} and run_at <= now())) * 1000)::bigint::text as oldest_ready_age_ms
from ${quoteIdent(schema)}.jobs
where $1::text is null or queue = $1
group by queue
order by queue`;
}

/** Whether any job, in any state, has this queue. $1: queue. */
export function queueExistsSql(schema: string): string {
  return `select exists (select 1 from ${quoteIdent(schema)}.jobs where queue = $1) as found`;
}

/** Every queue name that has jobs, for "unknown queue" messages. */
export function knownQueuesSql(schema: string): string {
  return `select distinct queue from ${quoteIdent(schema)}.jobs order by queue`;
}

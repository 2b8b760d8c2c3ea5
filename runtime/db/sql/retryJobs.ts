import { quoteIdent } from "../../config/identifiers.js";
import { AFTER_NOTIFIED, JOB_ID_SQL_PATTERN, LIVE_STATUS_LIST, rowJson } from "./fragments.js";

/**
 * Puts finished jobs back to work: status 'scheduled', run_at now(), at least one more
 * attempt (attempt and errors are kept as history), lease and finalized_at cleared.
 * Works on one batch: the first $5 jobs by id after $4 that match.
 *   $1 id (text) or null, $2 queue or null, $3 statuses allowed (text[]), $4 last id of the
 *   previous batch (0 at first), $5 batch size, $6 notify channel.
 *
 * Unique keys: a retried job becomes live again, so it would collide in jobs_unique_key_idx
 * with a live job holding the same (queue, unique_key), or with an earlier job of the same
 * batch. Such jobs are left as they are and returned with `held_by` (the id of the job holding
 * the key) instead of failing the whole batch. An insert committed concurrently can still
 * collide (23505); the caller turns that into a clear error.
 *
 * Returns every candidate of the batch, in id order: id, retried, held_by, and the job as it
 * is after the statement when it was retried.
 */
export function retryJobsSql(schema: string): string {
  const jobs = `${quoteIdent(schema)}.jobs`;
  return `with candidates as (
  select j.id, j.queue, j.unique_key from ${jobs} j
  where ($1::text is null or j.id = case when $1 ~ ${JOB_ID_SQL_PATTERN} then $1::bigint end)
    and ($2::text is null or j.queue = $2)
    and j.status = any($3::text[])
    and j.id > $4::bigint
  order by j.id
  limit $5
  for update
), blocked as (
  select c.id, coalesce(
    (select min(l.id) from ${jobs} l
      where l.queue = c.queue and l.unique_key = c.unique_key and l.status in ${LIVE_STATUS_LIST}),
    (select min(e.id) from candidates e where e.queue = c.queue and e.unique_key = c.unique_key and e.id < c.id)
  ) as held_by
  from candidates c
  where c.unique_key is not null
), retried as (
  update ${jobs} j
  set status = 'scheduled', run_at = now(), max_attempts = greatest(j.max_attempts, j.attempt + 1),
      finalized_at = null, cancelled_at = null, locked_by = null, locked_until = null
  from candidates c
  where j.id = c.id and not exists (select 1 from blocked b where b.id = c.id and b.held_by is not null)
  returning j.*
), notified as (
  select pg_notify($6, queue) from (select distinct queue from retried) q
)
select c.id::text as id, r.id is not null as retried, b.held_by::text as held_by,
  case when r.id is not null then ${rowJson("r")} end as job
from candidates c
left join retried r on r.id = c.id
left join blocked b on b.id = c.id
where ${AFTER_NOTIFIED}
order by c.id`;
}

/** How many jobs a bulk retry will look at, for its progress. $1 queue, $2 statuses (text[]). */
export function countRetryableSql(schema: string): string {
  return `select count(*)::text as n from ${quoteIdent(schema)}.jobs where queue = $1 and status = any($2::text[])`;
}

import { quoteIdent } from "../identifiers.js";
import { jobJson } from "../job.js";

/**
 * Inserts a batch of jobs in one statement and notifies listeners (delivered at commit).
 * $1: JSON array of { i, queue, payload, priority, run_at, delay_ms, max_attempts, unique_key }.
 * $2: the notify channel.
 *
 * Unique keys: duplicates inside the batch collapse onto the first; a conflict with a live
 * job in the table takes that job (DO UPDATE locks and returns it even when it was committed
 * after this statement's snapshot, which DO NOTHING + SELECT would miss). `inserted` tells
 * new rows (xmax = 0) from existing ones. Rows come back in no particular order: the caller
 * matches keyed rows by (queue, unique_key) and the rest by ascending id, which follows `i`.
 */
export function insertJobsSql(schema: string): string {
  const jobs = `${quoteIdent(schema)}.jobs`;
  return `with input as (
  select * from jsonb_to_recordset($1::jsonb) as x(
    i integer, queue text, payload jsonb, priority integer, run_at timestamptz,
    delay_ms bigint, max_attempts integer, unique_key text)
), first_of_key as (
  select distinct on (queue, unique_key, case when unique_key is null then i end) *
  from input
  order by queue, unique_key, case when unique_key is null then i end, i
), ins as (
  insert into ${jobs} (queue, payload, priority, run_at, max_attempts, unique_key)
  select queue, payload, priority,
         coalesce(run_at, now() + coalesce(delay_ms, 0) * interval '1 millisecond'),
         max_attempts, unique_key
  from first_of_key
  order by i
  on conflict (queue, unique_key)
    where unique_key is not null and status in ('scheduled', 'running', 'retrying')
    do update set unique_key = excluded.unique_key
  returning *, (xmax = 0) as inserted
), notified as (
  select pg_notify($2, queue) from (select distinct queue from ins where inserted) q
)
select ${jobJson("ins")} as job, ins.inserted
from ins
where (select count(*) from notified) >= 0`;
}

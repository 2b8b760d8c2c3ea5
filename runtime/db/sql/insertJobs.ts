import { quoteIdent } from "../../config/identifiers.js";
import { AFTER_NOTIFIED, DUPLICATE_SET, LIVE_STATUS_LIST, rowJson } from "./fragments.js";

/** One input row of the insert statements: an object of $1's JSON array. */
export const INPUT_ROW = `i integer, queue text, payload jsonb, priority integer, run_at timestamptz,
    delay_ms bigint, max_attempts integer, unique_key text, tags text[], meta jsonb,
    on_duplicate text, unique_for_ms bigint, concurrency_key text`;

/** A job without a unique key, from an input row: the columns and what goes in them. */
export const PLAIN_COLUMNS = `(queue, payload, priority, run_at, max_attempts, tags, meta, concurrency_key)`;
export const PLAIN_VALUES = `queue, coalesce(payload, 'null'::jsonb), priority,
         coalesce(run_at, now() + coalesce(delay_ms, 0) * interval '1 millisecond'), max_attempts, tags, meta, concurrency_key`;

/** A result row for a job without a unique key: only what the database decided (id and times). */
export const PLAIN_RESULT = `id::text as id, (extract(epoch from run_at) * 1000)::float8 as run_at_ms,
       (extract(epoch from inserted_at) * 1000)::float8 as inserted_at_ms, null::text as job, true as inserted`;

/**
 * Inserts a batch of jobs in one statement and notifies listeners (delivered at commit).
 * $1: JSON array of { i, queue, payload, priority, run_at, delay_ms, max_attempts, unique_key, tags,
 *     meta, on_duplicate, unique_for_ms, concurrency_key }.
 * $2: the notify channel.
 * $3: JSON array of the distinct queues of the rows without a unique key (all of them are
 *     inserted, so the caller knows whom to notify without the statement collecting the
 *     queues of every inserted row: 13% of a 200,000-row insert).
 *
 * jsonb_to_recordset reads a JSON null payload as SQL NULL; coalesce keeps it a JSON null.
 *
 * Rows without a unique key take the plain path: a bare INSERT that returns only what the
 * database decided (id and times); the caller already holds everything else. Their ids ascend
 * with `i`, which is how the caller matches them back.
 *
 * Rows with a unique key: duplicates inside the batch collapse onto the first; a conflict with
 * a live job takes that job (DO UPDATE locks and returns it even when it was committed after
 * this statement's snapshot, which DO NOTHING + SELECT would miss). `inserted` tells new rows
 * (xmax = 0) from existing ones, whose full JSON is returned since they may differ from input.
 * A conflict updates the live job as the row's `on_duplicate` says (DUPLICATE_SET); a key held by
 * a finished job inside its uniqueFor window (`held`) inserts nothing and returns that job.
 *
 * $4: the jobs table's qualified name. One last row carries only `jobs_table_bytes`, the
 * table's size, which names this statement (db/statement-names.ts): `held` reads the table, and
 * a plan made while it was small reads all of it.
 */
export function insertJobsSql(schema: string): string {
  const jobs = `${quoteIdent(schema)}.jobs`;
  return `with input as (
  select * from jsonb_to_recordset($1::jsonb) as x(${INPUT_ROW})
), plain as (
  insert into ${jobs} ${PLAIN_COLUMNS}
  select ${PLAIN_VALUES}
  from input where unique_key is null
  order by i
  returning id, run_at, inserted_at
), first_of_key as (
  select distinct on (queue, unique_key) * from input where unique_key is not null
  order by queue, unique_key, i
), held as (
  -- uniqueFor: a finished job whose window has not ended still holds its key (throttle), whatever
  -- this insert's own uniqueFor; only jobs inserted with one are in jobs_unique_until_idx.
  select distinct on (j.queue, j.unique_key) j.*
  from first_of_key x join ${jobs} j on j.queue = x.queue and j.unique_key = x.unique_key
  where j.unique_until > now() and j.status not in ${LIVE_STATUS_LIST}
  order by j.queue, j.unique_key, j.id desc
), keyed as (
  insert into ${jobs} as j (queue, payload, priority, run_at, max_attempts, unique_key, tags, meta, unique_until, concurrency_key)
  select queue, coalesce(payload, 'null'::jsonb), priority,
         coalesce(run_at, now() + coalesce(delay_ms, 0) * interval '1 millisecond'),
         max_attempts, unique_key, tags, meta, now() + unique_for_ms * interval '1 millisecond', concurrency_key
  from first_of_key x
  where not exists (select 1 from held h where h.queue = x.queue and h.unique_key = x.unique_key)
  -- Key order, not input order: concurrent batches sharing keys then take the index's locks in
  -- the same order and cannot deadlock. Keyed rows are matched back by key, so order is free.
  order by queue, unique_key
  on conflict (queue, unique_key)
    where unique_key is not null and status in ${LIVE_STATUS_LIST}
    -- A running job is never rewritten; a waiting one takes what its duplicate's onDuplicate says.
    do update set ${DUPLICATE_SET}
  returning *, (xmax = 0) as inserted
), notified as (
  select pg_notify($2, queue)
  from (select jsonb_array_elements_text($3::jsonb) as queue union select queue from keyed where inserted) q
)
select ${PLAIN_RESULT}, null::float8 as jobs_table_bytes
from plain where ${AFTER_NOTIFIED}
union all
select null, null, null, ${rowJson("keyed")}, keyed.inserted, null
from keyed where ${AFTER_NOTIFIED}
union all
select null, null, null, ${rowJson("held")}, false, null
from held where ${AFTER_NOTIFIED}
union all
select null, null, null, null, null, pg_relation_size($4::regclass)::float8`;
}

/**
 * insertJobsSql for batches without unique keys (the common case, and every insertJob of a plain
 * job): the same parameters and result rows, without the unique-key CTEs, which cost a one-row
 * insert about a fifth of its round trip (0.39 -> 0.31 ms) even when they have nothing to do.
 */
export function insertPlainJobsSql(schema: string): string {
  const jobs = `${quoteIdent(schema)}.jobs`;
  return `with plain as (
  insert into ${jobs} ${PLAIN_COLUMNS}
  select ${PLAIN_VALUES}
  from jsonb_to_recordset($1::jsonb) as x(${INPUT_ROW})
  order by i
  returning id, run_at, inserted_at
), notified as (
  select pg_notify($2, queue) from jsonb_array_elements_text($3::jsonb) as q(queue)
)
select ${PLAIN_RESULT}
from plain where ${AFTER_NOTIFIED}`;
}

/**
 * Moves the unique key off a running job, so a "replace" duplicate can schedule a new job after
 * it: the running job is otherwise left as it is and finishes (or retries) without the key.
 * $1 id, $2 the key it holds.
 */
export function releaseUniqueKeySql(schema: string): string {
  return `update ${quoteIdent(schema)}.jobs set unique_key = null
where id = $1::bigint and status = 'running' and unique_key = $2`;
}

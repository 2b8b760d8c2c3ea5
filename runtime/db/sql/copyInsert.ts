import { quoteIdent } from "../../config/identifiers.js";
import { AFTER_NOTIFIED } from "./fragments.js";

/**
 * The staging table a large batch of plain jobs is COPYed into: temporary, private to the
 * session, dropped at the end of the transaction that made it (or emptied first when the caller's
 * transaction inserts a second batch).
 */
export const createInsertStageSql = `create temp table if not exists sidetrack_insert_stage (
  i integer, queue text, payload text, priority integer, run_at timestamptz, delay_ms bigint, max_attempts integer,
  tags text[], meta text, concurrency_key text
) on commit drop`;
export const emptyInsertStageSql = "truncate pg_temp.sidetrack_insert_stage";

/** COPY in CSV: fields quoted where needed, an unquoted empty field is NULL. */
export const copyIntoInsertStageSql = `copy pg_temp.sidetrack_insert_stage (i, queue, payload, priority, run_at, delay_ms, max_attempts, tags, meta, concurrency_key)
from stdin with (format csv)`;

/**
 * Moves the staged jobs into the jobs table in input order (ids ascend with `i`, as for
 * insertJobsSql's plain rows) and notifies each queue once, at commit. $1 the jobs channel.
 * Returns what the database decided for each job: id and times.
 */
export function insertFromStageSql(schema: string): string {
  return `with inserted as (
  insert into ${quoteIdent(schema)}.jobs (queue, payload, priority, run_at, max_attempts, tags, meta, concurrency_key)
  select queue, payload::jsonb, priority, coalesce(run_at, now() + coalesce(delay_ms, 0) * interval '1 millisecond'), max_attempts,
         tags, meta::jsonb, concurrency_key
  from pg_temp.sidetrack_insert_stage
  order by i
  returning id, queue, run_at, inserted_at
), notified as (
  select pg_notify($1, queue) from (select distinct queue from inserted) q
)
select id::text as id, (extract(epoch from run_at) * 1000)::float8 as run_at_ms,
       (extract(epoch from inserted_at) * 1000)::float8 as inserted_at_ms
from inserted where ${AFTER_NOTIFIED}`;
}

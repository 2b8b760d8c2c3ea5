import { quoteIdent } from "../../config/identifiers.js";
import { AFTER_NOTIFIED } from "./fragments.js";

/**
 * The first statement of a COPY insert (insert/copy.ts): takes $2 ids from the jobs table's
 * identity sequence, one nextval per job in input order, and reports them as runs of consecutive
 * ids (one run unless another session took ids meanwhile) in input order; with the transaction's
 * now() in microseconds, which is what the jobs' inserted_at and default run_at will hold. Also
 * notifies each queue in $3 on channel $1, which PostgreSQL delivers at commit, so only if the
 * COPY that follows lands too. $4 is the jobs table's quoted name, whose sequence this is.
 *
 * Calling nextval needs USAGE (or UPDATE) on the sequence, which an INSERT through the identity
 * column does not: a role without it gets no rows back (nothing taken, nothing notified) and the
 * caller inserts another way. The check is a constant condition, so PostgreSQL evaluates it once
 * before running anything below it.
 *
 * Within a run, id - g is constant (g numbers the jobs, nextval ascends one by one), so grouping
 * by it finds the runs without a window function or sort of the ids.
 */
export const reserveJobIdsSql = `with seq as materialized (
  select pg_get_serial_sequence($4, 'id')::regclass as s
), notified as (
  select pg_notify($1, q) from unnest($3::text[]) q
)
select min(id)::text as first_id, count(*)::int as n,
       (extract(epoch from now()) * 1000000)::int8::text as now_us
from (select g, nextval((select s from seq)) as id from generate_series(1, $2::int) g) ids
where has_sequence_privilege((select s from seq), 'usage, update') and ${AFTER_NOTIFIED}
group by id - g
order by min(g)`;

/**
 * COPY in PostgreSQL's text format (tab-separated, `\N` for NULL, backslash escapes) straight
 * into the jobs table, with the ids the reservation gave: COPY writes explicit values into an
 * identity column, and inserts rows in batches (one WAL record per page of heap rows) where
 * INSERT … SELECT writes them one by one. Every other column takes its default, as for
 * insertJobsSql; run_at is always sent (the reservation's now() for jobs without runAt or delay).
 */
export function copyJobsSql(schema: string): string {
  return `copy ${quoteIdent(schema)}.jobs (id, queue, payload, priority, max_attempts, run_at, tags, meta, concurrency_key) from stdin`;
}

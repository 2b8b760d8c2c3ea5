import { quoteIdent } from "../../config/identifiers.js";
import { JOB_FILTER, JOB_LIST_COLUMNS, READY_STATUS_LIST } from "./fragments.js";

// The dashboard's reads and bulk changes. Every statement is bounded: counts of live jobs walk
// the partial indexes of migration 0001, finished jobs are counted exactly only while the table
// is small (the caller decides from the planner's row estimate) and sampled past that, and job
// pages are keyset pages, so none of them reads the whole table of a busy installation.

/** The planner's estimate of the jobs table's rows (free: read from pg_class). $1: the schema name. */
export function jobsRowEstimateSql(schema: string): string {
  return `select greatest(c.reltuples, 0)::bigint::text as n
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = $1 and c.relname = 'jobs'`;
}

/**
 * Exact counts of live jobs per queue, with the age of the oldest ready one. Two halves so each
 * matches one partial index's predicate (jobs_fetch_idx, jobs_running_idx) instead of scanning.
 */
export function liveCountsSql(schema: string): string {
  return `select queue, status, (run_at <= now()) as due, count(*)::text as n,
  floor(extract(epoch from now() - min(run_at) filter (where run_at <= now())) * 1000)::bigint::text as oldest_ready_age_ms
from ${quoteIdent(schema)}.jobs
where status in ${READY_STATUS_LIST}
group by queue, status, (run_at <= now())
union all
select queue, 'running', true, count(*)::text, null
from ${quoteIdent(schema)}.jobs
where status = 'running'
group by queue`;
}

/** Exact counts of finished jobs per queue and state (for small tables). */
export function finishedCountsSql(schema: string): string {
  return `select queue, status, count(*)::text as n
from ${quoteIdent(schema)}.jobs
where status in ('completed', 'failed', 'cancelled')
group by queue, status`;
}

/**
 * Finished jobs per queue and state counted on a block sample of the table; the caller scales
 * by 100 / $1. $1: the percentage of blocks sampled.
 */
export function sampledFinishedCountsSql(schema: string): string {
  return `select queue, status, count(*)::text as n
from ${quoteIdent(schema)}.jobs tablesample system ($1::float8)
where status in ('completed', 'failed', 'cancelled')
group by queue, status`;
}

/** Completed and failed jobs per minute over the last hour (the finalized_at index). */
export function throughputSql(schema: string): string {
  return `select (extract(epoch from date_trunc('minute', finalized_at)) * 1000)::float8 as minute_ms,
  count(*) filter (where status = 'completed')::text as completed,
  count(*) filter (where status = 'failed')::text as failed
from ${quoteIdent(schema)}.jobs
where status in ('completed', 'failed', 'cancelled') and finalized_at > now() - interval '1 hour'
group by 1 order by 1`;
}

/** A page of jobs, newest id first. $4: show ids below this (null: from the top), $5: limit. */
export function jobsPageByIdSql(schema: string): string {
  return `select ${JOB_LIST_COLUMNS} from ${quoteIdent(schema)}.jobs j
where ${JOB_FILTER} and ($4::bigint is null or j.id < $4::bigint)
order by j.id desc
limit $5`;
}

/** A page of jobs by run_at then id, earliest first. $4, $6: after this (id, run_at in epoch microseconds), $5: limit. */
export function jobsPageByRunAtSql(schema: string): string {
  return `select ${JOB_LIST_COLUMNS} from ${quoteIdent(schema)}.jobs j
where ${JOB_FILTER} and ($4::bigint is null
    or (j.run_at, j.id) > (timestamptz 'epoch' + $6::bigint * interval '1 microsecond', $4::bigint))
order by j.run_at, j.id
limit $5`;
}

/** How many jobs match the filter, counted up to $4 rows (past that the caller says "more than"). */
export function countMatchingSql(schema: string): string {
  return `select count(*)::text as n from (
  select 1 from ${quoteIdent(schema)}.jobs j where ${JOB_FILTER} limit $4
) capped`;
}

/** The ids of the next batch of jobs matching the filter, above id $4, ascending. $5: batch size. */
export function matchingIdsSql(schema: string): string {
  return `select j.id::text as id from ${quoteIdent(schema)}.jobs j
where ${JOB_FILTER} and j.id > $4::bigint
order by j.id
limit $5`;
}

/** Deletes the listed jobs unless running (a worker holds those). $1: ids as text[]. Returns the ids deleted. */
export function deleteJobsSql(schema: string): string {
  return `delete from ${quoteIdent(schema)}.jobs
where id = any($1::bigint[]) and status <> 'running'
returning id::text as id`;
}

/** The columns of a table (none when it does not exist). $1: the schema name, $2: the table name. */
export function tableColumnsSql(): string {
  return `select column_name::text as name from information_schema.columns
where table_schema = $1 and table_name = $2`;
}

/** Rows of the workers registry, most recent heartbeat first, as JSON text. */
export function workersSql(schema: string): string {
  return `select to_jsonb(w)::text as worker from ${quoteIdent(schema)}.workers w order by w.heartbeat_at desc nulls last limit 500`;
}

/** Every row of the queues table (flow control), as JSON text. */
export function queueRowsSql(schema: string): string {
  return `select to_jsonb(q)::text as queue from ${quoteIdent(schema)}.queues q limit 10000`;
}

// SQL fragments shared by several statements, each written once. Every one is a constant
// without interpolation, so nothing a caller passes can reach a statement through them.

/**
 * A row as one JSON text column. Statements that return jobs (`job`) or cron schedules
 * (`schedule`) use it: it reads the same through pg and Prisma (which disagree on bigint, jsonb
 * and timestamp types) and keeps ids exact. Parsed in db/rows.ts.
 */
export function rowJson(alias: string): string {
  return `(to_jsonb(${alias}) || jsonb_build_object('id', ${alias}.id::text))::text`;
}

/** The states that hold a unique key (LIVE_STATUSES in types.ts; the partial unique index of migration 0001). */
export const LIVE_STATUS_LIST = `('scheduled', 'running', 'retrying')`;

/** The states a worker claims from once run_at is reached (READY_STATUSES in types.ts). */
export const READY_STATUS_LIST = `('scheduled', 'retrying')`;

/**
 * The pattern of a job id as text: 1 to 18 digits, so `$1::bigint` cannot overflow. Statements
 * that take an id as text cast it only when it matches (`case when $1 ~ … then $1::bigint end`),
 * so a malformed id finds nothing instead of raising. JOB_ID_PATTERN in config/identifiers.ts is
 * the same rule for JavaScript.
 */
export const JOB_ID_SQL_PATTERN = `'^[0-9]{1,18}$'`;

/**
 * What claiming a job writes, for every claim statement (`j` is the jobs table): it starts an
 * attempt and leases the job. $1 is the worker id and $2 the lease in milliseconds in every
 * statement that uses it.
 */
export const CLAIM_SET = `status = 'running', attempt = j.attempt + 1, started_at = now(),
    locked_by = $1, locked_until = now() + $2 * interval '1 millisecond'`;

/**
 * The guard of every write a worker makes to a job it holds (its outcome, progress, lease renewal,
 * or giving it back): still running, and leased to this worker, whose id is parameter $2 (or $1
 * in LEASED_TO_PARAM_1, for the claim, whose $1 is the worker id). The table is aliased `j` and
 * the job is found by id, through the primary key.
 *
 * Written as a CASE so the planner cannot answer it from jobs_running_idx, whose predicate is
 * `status = 'running'`: a plan made while statistics said few jobs ran (an ANALYZE at a quiet
 * moment; a prepared statement keeps its generic plan) scanned every running job of every worker
 * through that index and hash-joined them with the ids, so each completion cost as much as the
 * whole cluster's running jobs (4,000 running: 944 buffers to complete 100 jobs, against 300
 * through the primary key). Inside a CASE the condition is only a filter on the rows the ids find.
 * A plan made while the table had a few pages still reads it whole (a seq scan is cheaper there
 * than the key lookups); the worker prepares these statements again as the table grows
 * (db/statement-names.ts).
 */
export const LEASED_TO_PARAM_2 = `case when j.status = 'running' and j.locked_by = $2 then true else false end`;

/** LEASED_TO_PARAM_2 with the worker id in $1. */
export const LEASED_TO_PARAM_1 = `case when j.status = 'running' and j.locked_by = $1 then true else false end`;

/**
 * A CTE that only calls pg_notify is a plain SELECT, and PostgreSQL runs an unreferenced plain
 * CTE not at all (data-modifying CTEs always run). Statements that notify from a `notified` CTE
 * therefore reference it in their final WHERE with this always-true condition: the
 * notifications are sent exactly once, and the rows returned are not changed.
 */
export const AFTER_NOTIFIED = `(select count(*) from notified) >= 0`;

/**
 * What a claim returns, in two steps: every claim statement updates in a CTE named `claimed`
 * that returns CLAIMED_COLUMNS_IN_CTE, and its final select reads CLAIMED_FROM_CTE from it.
 * The columns are what a running job needs, cheap to produce and to read (about three times
 * cheaper than `rowJson` on the hot path). Times travel as epoch milliseconds, through
 * date_part, which yields float8: `extract` yields numeric, whose arithmetic cost the claim
 * about a tenth of its server time. The JSON columns stay jsonb throughout, as stored
 * (compressed when large), and are sent as jsonb: text made inside the CTE (500 claimed jobs of
 * 10 KB) was a 5 MB tuplestore that spilled to a temporary file (over work_mem) on every claim,
 * and a cast to text in the final select copied each value twice more than the output function
 * alone. The two lists name the same columns in the same order (test/sql-fragments.test.ts).
 * Read with CLAIMED_ROW_TYPES and parsed by parseClaimedJob, in db/rows.ts.
 */
export const CLAIMED_COLUMNS_IN_CTE = `j.id::text as id, j.queue, j.payload, j.priority, j.attempt, j.max_attempts, j.unique_key, j.locked_by,
  date_part('epoch', j.run_at) * 1000 as run_at_ms,
  date_part('epoch', j.inserted_at) * 1000 as inserted_at_ms,
  date_part('epoch', j.started_at) * 1000 as started_at_ms,
  date_part('epoch', j.locked_until) * 1000 as locked_until_ms,
  case when j.attempt > 1 then j.errors end as errors, j.snoozes, j.tags, j.meta`;

/** The final select of a claim over its `claimed` CTE (see CLAIMED_COLUMNS_IN_CTE). */
export const CLAIMED_FROM_CTE = `claimed.id, claimed.queue, claimed.payload, claimed.priority, claimed.attempt,
  claimed.max_attempts, claimed.unique_key, claimed.locked_by, claimed.run_at_ms, claimed.inserted_at_ms,
  claimed.started_at_ms, claimed.locked_until_ms, claimed.errors, claimed.snoozes, claimed.tags, claimed.meta`;

/**
 * A claim's rows in claim order (priority, run_at, id), for the final select over its `claimed`
 * CTE. The update returns rows in the table's physical order, not the order they were picked in,
 * and the worker starts a claim's jobs in the order they arrive: without this, a job inserted
 * earlier at a lower priority ran before the higher-priority jobs claimed with it.
 */
export const CLAIM_ORDER_IN_CTE = `order by claimed.priority, claimed.run_at_ms, claimed.id::bigint`;

/** One null per column of CLAIMED_FROM_CTE: the claim's extra row that carries no job. */
export const NO_CLAIMED_COLUMNS = `null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null`;

/**
 * What a duplicate insert does to the live job it conflicts with (`j`, in the insert's ON CONFLICT
 * DO UPDATE; the row's mode is read from the statement's `first_of_key`, which has one row per key:
 * DO UPDATE takes no FROM clause, so the lookup is repeated per column, on conflicts only).
 * "keep": nothing (the no-op assignment only locks and returns the job). "replace" (debounce): a
 * scheduled or retrying job takes the new payload, run_at, priority, max_attempts, tags and meta.
 * "extend" (debounce): its run_at moves to the new one when that is later; the rest stays. A
 * running job is left alone whatever the mode.
 */
export const DUPLICATE_SET = `unique_key = excluded.unique_key,
      payload = case when j.status <> 'running' and (select f.on_duplicate from first_of_key f where f.queue = excluded.queue and f.unique_key = excluded.unique_key) = 'replace' then excluded.payload else j.payload end,
      priority = case when j.status <> 'running' and (select f.on_duplicate from first_of_key f where f.queue = excluded.queue and f.unique_key = excluded.unique_key) = 'replace' then excluded.priority else j.priority end,
      max_attempts = case when j.status <> 'running' and (select f.on_duplicate from first_of_key f where f.queue = excluded.queue and f.unique_key = excluded.unique_key) = 'replace' then excluded.max_attempts else j.max_attempts end,
      tags = case when j.status <> 'running' and (select f.on_duplicate from first_of_key f where f.queue = excluded.queue and f.unique_key = excluded.unique_key) = 'replace' then excluded.tags else j.tags end,
      meta = case when j.status <> 'running' and (select f.on_duplicate from first_of_key f where f.queue = excluded.queue and f.unique_key = excluded.unique_key) = 'replace' then excluded.meta else j.meta end,
      run_at = case when j.status <> 'running' and (select f.on_duplicate from first_of_key f where f.queue = excluded.queue and f.unique_key = excluded.unique_key) = 'replace' then excluded.run_at
                    when j.status <> 'running' and (select f.on_duplicate from first_of_key f where f.queue = excluded.queue and f.unique_key = excluded.unique_key) = 'extend' then greatest(j.run_at, excluded.run_at)
                    else j.run_at end`;

/**
 * The filter every job page and bulk action shares. $1 queue, $2 status, $3 a text[] of
 * [text in the payload or an id, tag] (either element null). The two ride in one array so the
 * statements that use this filter keep their own parameters from $4 on. A tag matches through
 * the GIN index on tags.
 */
export const JOB_FILTER = `($1::text is null or j.queue = $1) and ($2::text is null or j.status = $2)
  and (($3::text[])[1] is null or strpos(j.payload::text, ($3::text[])[1]) > 0
    or j.id = case when ($3::text[])[1] ~ '^[0-9]{1,18}$' then ($3::text[])[1]::bigint end)
  and (($3::text[])[2] is null or j.tags @> array[($3::text[])[2]])`;

/** The columns a job list shows; the payload is cut so a huge one costs nothing here. */
export const JOB_LIST_COLUMNS = `j.id::text as id, j.queue, j.status, j.attempt, j.max_attempts, j.priority,
  (extract(epoch from j.run_at) * 1000)::float8 as run_at_ms,
  -- exact to the microsecond, for the run_at keyset cursor (milliseconds would repeat rows)
  (extract(epoch from j.run_at) * 1000000)::bigint::text as run_at_us,
  (extract(epoch from j.inserted_at) * 1000)::float8 as inserted_at_ms,
  (extract(epoch from j.finalized_at) * 1000)::float8 as finalized_at_ms,
  left(j.payload::text, 160) as payload_preview`;


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
 * A CTE that only calls pg_notify is a plain SELECT, and PostgreSQL runs an unreferenced plain
 * CTE not at all (data-modifying CTEs always run). Statements that notify from a `notified` CTE
 * therefore reference it in their final WHERE with this always-true condition: the
 * notifications are sent exactly once, and the rows returned are not changed.
 */
export const AFTER_NOTIFIED = `(select count(*) from notified) >= 0`;

/**
 * What a claim returns: the columns a running job needs, cheap to produce and to read (about
 * three times cheaper than `rowJson` on the hot path). Times travel as epoch milliseconds,
 * through date_part, which yields float8: `extract` yields numeric, whose arithmetic cost the
 * claim about a tenth of its server time. JSON columns travel as text (`json: true`).
 * Parsed by parseClaimedJob in db/rows.ts.
 */
const CLAIMED: ReadonlyArray<{ name: string; sql: string; json?: true }> = [
  { name: "id", sql: "j.id::text" },
  { name: "queue", sql: "j.queue" },
  { name: "payload", sql: "j.payload", json: true },
  { name: "priority", sql: "j.priority" },
  { name: "attempt", sql: "j.attempt" },
  { name: "max_attempts", sql: "j.max_attempts" },
  { name: "unique_key", sql: "j.unique_key" },
  { name: "locked_by", sql: "j.locked_by" },
  { name: "run_at_ms", sql: "date_part('epoch', j.run_at) * 1000" },
  { name: "inserted_at_ms", sql: "date_part('epoch', j.inserted_at) * 1000" },
  { name: "started_at_ms", sql: "date_part('epoch', j.started_at) * 1000" },
  { name: "locked_until_ms", sql: "date_part('epoch', j.locked_until) * 1000" },
  { name: "errors", sql: "case when j.attempt > 1 then j.errors end", json: true },
  { name: "snoozes", sql: "j.snoozes" },
  { name: "tags", sql: "j.tags" },
  { name: "meta", sql: "j.meta", json: true },
];

/** The claim's columns, for a RETURNING that goes straight to the client (`j` is the jobs table). */
export const CLAIMED_COLUMNS = CLAIMED.map((c) => `${c.json ? `(${c.sql})::text` : c.sql} as ${c.name}`).join(",\n  ");

/**
 * The claim's columns for a RETURNING whose rows a CTE holds before the final select reads them
 * (claimedFrom): JSON columns stay jsonb there, as stored — compressed when large — and become
 * text only on the way out. Converted inside the CTE, 500 claimed jobs of 10 KB made a 5 MB
 * tuplestore that spilled to a temporary file (over work_mem) on every claim.
 */
export const CLAIMED_COLUMNS_IN_CTE = CLAIMED.map((c) => `${c.sql} as ${c.name}`).join(",\n  ");

/** The final select's columns over a CTE of CLAIMED_COLUMNS_IN_CTE named `alias`: the same names and types as CLAIMED_COLUMNS. */
export function claimedFrom(alias: string): string {
  return CLAIMED.map((c) => (c.json ? `${alias}.${c.name}::text as ${c.name}` : `${alias}.${c.name}`)).join(", ");
}

/** One null per column of CLAIMED_COLUMNS: the claim's extra row that carries no job. */
export const NO_CLAIMED_COLUMNS = CLAIMED.map(() => "null").join(", ");

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


import { quoteIdent } from "../../config/identifiers.js";
import { AFTER_NOTIFIED, CLAIM_ORDER_IN_CTE, CLAIMED_COLUMNS_IN_CTE, CLAIMED_FROM_CTE, READY_STATUS_LIST } from "./fragments.js";

/** A policy row (`p`) limits claims, so only the limited claim path may take its jobs, when any of these is set. */
export const LIMITED_POLICY = `(p.global_concurrency is not null or p.concurrency_per_key is not null or p.rate_limit is not null)`;

/**
 * Writes the declared policies: one row per declared queue, so every worker (and the plain
 * claim's row lock) finds one. `paused` is left as it is: it is operational, not declared.
 * $1: JSON array of { name, global_concurrency, concurrency_by, concurrency_per_key, rate_limit, rate_per_ms }.
 * Names in order, so concurrent starts lock rows in the same order and cannot deadlock.
 */
export function upsertQueuePoliciesSql(schema: string): string {
  const queues = `${quoteIdent(schema)}.queues`;
  return `insert into ${queues} as p (name, global_concurrency, concurrency_by, concurrency_per_key, rate_limit, rate_per_ms)
select name, global_concurrency, concurrency_by, concurrency_per_key, rate_limit, rate_per_ms
from jsonb_to_recordset($1::jsonb) as x(name text, global_concurrency integer, concurrency_by text[],
  concurrency_per_key integer, rate_limit integer, rate_per_ms bigint)
order by name
on conflict (name) do update set
  global_concurrency = excluded.global_concurrency, concurrency_by = excluded.concurrency_by,
  concurrency_per_key = excluded.concurrency_per_key, rate_limit = excluded.rate_limit,
  rate_per_ms = excluded.rate_per_ms,
  updated_at = case when (p.global_concurrency, p.concurrency_by, p.concurrency_per_key, p.rate_limit, p.rate_per_ms)
      is not distinct from (excluded.global_concurrency, excluded.concurrency_by, excluded.concurrency_per_key,
      excluded.rate_limit, excluded.rate_per_ms) then p.updated_at else now() end`;
}

/** Gives a queue a policy row when it has none (a pause of a queue no start() declared). $1 queue. */
export function ensureQueueRowSql(schema: string): string {
  return `insert into ${quoteIdent(schema)}.queues (name) values ($1) on conflict (name) do nothing`;
}

/**
 * Pauses or resumes a queue (its row exists: ensureQueueRowSql, in a statement before, whose
 * insert this one could not see) and, on resume, wakes the workers through the jobs channel.
 * The row is first locked FOR UPDATE: that waits for every claim holding it (the plain claim's
 * FOR KEY SHARE, the limited claim's FOR NO KEY UPDATE) and makes the claims after it read the
 * new state, so once this commits no claim can start a job of a paused queue. A bare UPDATE
 * would not do: it takes FOR NO KEY UPDATE, which does not wait for FOR KEY SHARE.
 * A pause is announced on the pause channel, so workers give back the jobs of the queue they
 * claimed ahead (lock-ahead) and have not started.
 * $1 queue, $2 paused, $3 jobs channel, $4 pause channel.
 */
export function setQueuePausedSql(schema: string): string {
  const queues = `${quoteIdent(schema)}.queues`;
  return `with locked as (
  select name from ${queues} where name = $1 for update
), changed as (
  update ${queues} q set paused = $2, updated_at = now()
  from locked where q.name = locked.name
  returning q.name
), notified as (
  select pg_notify(case when $2 then $4 else $3 end, name) from changed
)
select name from changed where ${AFTER_NOTIFIED}`;
}

/**
 * Every queue with a policy row or a job: its policy and its job counts by state, counted in one
 * scan of the jobs table (an operator command, not for polling). $1: queue or null (all).
 */
export function listQueuesSql(schema: string): string {
  const queues = `${quoteIdent(schema)}.queues`;
  const jobs = `${quoteIdent(schema)}.jobs`;
  return `with counts as (
  select queue, jsonb_object_agg(status, n) as c
  from (select queue, status, count(*) as n from ${jobs} where $1::text is null or queue = $1 group by queue, status) x
  group by queue
), names as (
  select name from ${queues} where $1::text is null or name = $1 union select queue from counts
)
select n.name, coalesce(p.paused, false) as paused, p.global_concurrency, p.concurrency_by,
  p.concurrency_per_key, p.rate_limit, p.rate_per_ms::text as rate_per_ms,
  (extract(epoch from p.updated_at) * 1000)::float8 as updated_at_ms,
  coalesce(c.c, '{}')::text as counts
from names n left join ${queues} p on p.name = n.name left join counts c on c.queue = n.name
order by n.name`;
}

/**
 * The limited claim's first statement: locks the policies of the limited queues about to be
 * claimed, in name order (no deadlock between workers). Claimers of one limited queue then take
 * turns, and the claim statement after it runs on a snapshot that sees every claim committed
 * before: counting running jobs there is race-free. $1 queue names. Returns the policies.
 *
 * It also turns JIT compilation off for the rest of the transaction (`set_config(..., true)`,
 * as SET LOCAL, without a round trip of its own). The claims' estimates grow with the backlog and
 * with the number of keys, and past jit_above_cost PostgreSQL compiles the statement on every
 * execution: tens of milliseconds for a claim that runs in a fraction of one.
 */
export function lockQueuePoliciesSql(schema: string): string {
  return `select name, paused, global_concurrency, concurrency_per_key, rate_limit, rate_per_ms::text as rate_per_ms,
  set_config('jit', 'off', true) as jit
from ${quoteIdent(schema)}.queues where name = any($1::text[])
order by name
for no key update`;
}

/** The limited claim of a queue with a global or rate limit but no per-key limit (see limitedClaim). */
export function claimLimitedSql(schema: string): string {
  return limitedClaim(schema, false);
}

/** The limited claim of a queue with concurrencyPerKey (see limitedClaim). */
export function claimLimitedPerKeySql(schema: string): string {
  return limitedClaim(schema, true);
}

/** Without a per-key limit: the first ready jobs in claim order, as many as the budget allows. */
export const PICK_IN_ORDER = `select id from ready`;

/**
 * With a per-key limit: per key with ready jobs, its first ones, as many as its running jobs
 * leave room for (keyed_ready); plus jobs without a key (inserted before the queue had
 * concurrencyBy, so the oldest) among the first ready ones; then the budget, in claim order.
 */
export const PICK_PER_KEY = `select id from (
      select id, priority, run_at from keyed_ready
      union all
      select id, priority, run_at from ready where concurrency_key is null
    ) c
    order by priority, run_at, id
    limit coalesce((select n from budget), 0)`;

/**
 * Claims jobs of one limited queue, inside the transaction that locked its policy row
 * (lockQueuePoliciesSql). How many: the fewest of the worker's free slots ($4), the global
 * concurrency left (limit - running), and the rate limit left (limit - starts within the
 * sliding window, kept in recent_starts). With a per-key limit it also skips jobs whose key is
 * at its limit, taking later jobs of other keys instead (no head-of-line blocking): `keys` walks
 * the distinct keys with ready jobs through jobs_key_fetch_idx (one index probe per key, not a
 * read of every ready job), and `keyed_ready` takes each key's first jobs (perKeyCtes). Only
 * the per-key statement has them: PostgreSQL plans a recursive CTE even when nothing reads it,
 * and its estimate alone (over 350,000 on a queue of 20,000 jobs) made the plain statement's
 * cost cross jit_above_cost, so every claim was JIT-compiled (~18 ms).
 *
 * The claim time is clock_timestamp() after the lock (now() would be the transaction's start,
 * before waiting): it is the job's started_at and the time the rate window records.
 * $1 worker id, $2 lease ms, $3 queue, $4 free slots.
 */
function limitedClaim(schema: string, perKey: boolean): string {
  const jobs = `${quoteIdent(schema)}.jobs`;
  const queues = `${quoteIdent(schema)}.queues`;
  // The per-key CTEs (see above), in the per-key statement only.
  const perKeyCtes = perKey
    ? `keys as (
        select min(concurrency_key) as k from ${jobs}
        where queue = $3 and concurrency_key is not null and status in ${READY_STATUS_LIST}
        union all
        select (select min(concurrency_key) from ${jobs}
                where queue = $3 and concurrency_key > keys.k and status in ${READY_STATUS_LIST})
        from keys where keys.k is not null
      ), keyed_ready as (
        select r.id, r.priority, r.run_at from keys
        cross join lateral (
          select id, priority, run_at from ${jobs}
          where queue = $3 and concurrency_key = keys.k and status in ${READY_STATUS_LIST} and run_at <= now()
          order by priority, run_at, id
          limit greatest(0, (select per_key from budget)
            - (select count(*) from ${jobs} where queue = $3 and status = 'running' and concurrency_key = keys.k))
        ) r
        where keys.k is not null
      ), `
    : "";
  return `with recursive params as materialized (
  select $3::text as name, $4::int as free, clock_timestamp() as at
), budget as materialized (
  select greatest(0, least(params.free,
      case when p.paused then 0 end,
      p.global_concurrency - (select count(*) from ${jobs} where queue = $3 and status = 'running')::int,
      p.rate_limit - (select count(*) from unnest(p.recent_starts) t
        where t > params.at - p.rate_per_ms * interval '1 millisecond')::int)) as n,
    coalesce(p.concurrency_per_key, 2147483647) as per_key
  from params join ${queues} p on p.name = params.name
), ${perKeyCtes}ready as (
  select id, priority, run_at, concurrency_key from ${jobs}
  where queue = $3 and status in ${READY_STATUS_LIST} and run_at <= now()
  order by priority, run_at, id
  limit coalesce((select n from budget), 0)
), candidates as (
  select j.ctid from ${jobs} j
  -- An array, not IN (subquery): the planner then reads the few rows by primary key instead of
  -- hashing the picks against a scan of the whole table.
  where j.id = any(array(${perKey ? PICK_PER_KEY : PICK_IN_ORDER}))
  for update skip locked
), claimed as (
  update ${jobs} j
  set status = 'running', attempt = j.attempt + 1, started_at = (select at from params),
    locked_by = $1, locked_until = now() + $2 * interval '1 millisecond'
  where j.ctid = any(array(select ctid from candidates))
  returning ${CLAIMED_COLUMNS_IN_CTE}
), recorded as (
  update ${queues} p
  set recent_starts = array(
    select t from unnest(p.recent_starts || array_fill(params.at, array[(select count(*) from claimed)::int])) t
    where t > params.at - p.rate_per_ms * interval '1 millisecond'
    order by t desc limit p.rate_limit)
  from params
  where p.name = params.name and p.rate_limit is not null and exists (select 1 from claimed)
)
select ${CLAIMED_FROM_CTE} from claimed ${CLAIM_ORDER_IN_CTE}`;
}

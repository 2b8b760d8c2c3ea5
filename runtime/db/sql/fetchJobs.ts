import { CLAIM_MAX_PER_QUEUE } from "../../config/defaults.js";
import { quoteIdent } from "../../config/identifiers.js";
import { BUFFERED_START, COMPLETED_SET } from "./completeJobs.js";
import { LIMITED_POLICY } from "./queues.js";
import { CLAIM_ORDER_IN_CTE, CLAIM_SET, CLAIMED_COLUMNS_IN_CTE, CLAIMED_FROM_CTE, JOB_ID_SQL_PATTERN, LEASED_TO_PARAM_1, NO_CLAIMED_COLUMNS, READY_STATUS_LIST } from "./fragments.js";

/**
 * Claims ready jobs in one statement. Each queue is read through its own slice of the fetch
 * index (queue, priority, run_at, id) with its own limit (its free concurrency), skipping rows
 * other workers hold; the candidates are then cut to the process's free slots in global
 * priority order, and the winners leased to this worker.
 *
 * The winners are updated by their physical address (ctid), which the lock just read: a TID
 * scan instead of a second primary-key descent per row. A row locked here cannot move before
 * the update; one updated by someone else just before the lock fails the recheck and is left
 * for the next claim.
 *
 * The parameters go through a materialized CTE so the planner cannot see their values: its
 * estimates are then the same for every claim, PostgreSQL settles on one generic plan for the
 * prepared statement after five executions, and a claim is no longer planned again each time
 * (0.15-0.2 ms per claim, about a third of its execution time for 50 rows). The plan has no
 * alternative shapes to pick badly between: an index scan per queue, a sort, a TID scan.
 *
 * Each queue's candidates are also cut at CLAIM_MAX_PER_QUEUE, a constant the planner sees:
 * with only the parameter limit it estimates a tenth of the queue's ready jobs, so the claim's
 * cost grew with the backlog and crossed jit_above_cost at about 200,000 ready jobs, after which
 * every claim was JIT-compiled. The worker never asks one queue for more (freeSlots).
 *
 * A queue whose policy row is paused or limited gets no candidates here (limit 0): paused
 * queues are not claimed, limited ones only through claimLimitedSql. The row is read FOR KEY
 * SHARE, which claims take side by side but which a pause (FOR UPDATE) waits for and then
 * overtakes, so a claim never starts a job of a queue paused before it committed. A queue
 * without a row (one start() has not declared) has no policy.
 *
 * It also completes the jobs whose handlers finished since the last claim ($6), with the same
 * guard as completeJobsSql: one statement per fetch cycle instead of a claim and a completion.
 * One extra row carries no job, only `completed_ids`: the ids that guard let through, and
 * `jobs_table_bytes`, the table's size now, which names the worker's statements
 * (db/statement-names.ts: a plan made while the table was small reads all of it).
 * $1 worker id, $2 lease ms (CLAIM_SET), $3 queue names, $4 per-queue limits, $5 total limit,
 * $6 ids to complete, $7 the milliseconds each waited in the lock-ahead buffer (BUFFERED_START),
 * $8 the jobs table's qualified name.
 */
export function fetchJobsSql(schema: string): string {
  const jobs = `${quoteIdent(schema)}.jobs`;
  return `with params as materialized (
  select $3::text[] as names, $4::int[] as limits, $5::int as total, $6::bigint[] as done_ids, $7::int[] as done_buffered_ms
), done as (
  update ${jobs} j set ${COMPLETED_SET}, ${BUFFERED_START}
  from params cross join lateral unnest(params.done_ids, params.done_buffered_ms) as d(id, buffered_ms)
  where j.id = d.id and ${LEASED_TO_PARAM_1}
  returning j.id
), candidates as (
  select c.ctid, c.priority, c.run_at, c.id
  from params cross join lateral unnest(params.names, params.limits) as q(name, lim)
  left join lateral (
    select p.paused or ${LIMITED_POLICY} as blocked from ${quoteIdent(schema)}.queues p
    where p.name = q.name for key share
  ) policy on true
  cross join lateral (
    select * from (
      select ctid, id, priority, run_at from ${jobs}
      where queue = q.name and status in ${READY_STATUS_LIST} and run_at <= now()
      order by priority, run_at, id
      limit case when policy.blocked then 0 else q.lim end
      for update skip locked
    ) locked limit ${CLAIM_MAX_PER_QUEUE}
  ) c
), claimed as (
  update ${jobs} j
  set ${CLAIM_SET}
  where j.ctid = any(array(select ctid from candidates order by priority, run_at, id limit (select total from params)))
  returning ${CLAIMED_COLUMNS_IN_CTE}
)
(select ${CLAIMED_FROM_CTE}, null::text[] as completed_ids, null::float8 as jobs_table_bytes from claimed ${CLAIM_ORDER_IN_CTE})
union all
select ${NO_CLAIMED_COLUMNS}, array(select id::text from done), pg_relation_size($8::regclass)::float8`;
}

/** Claims one job by id whatever its run_at (the test helper runJob). $1 worker id, $2 lease ms, $3 id. */
export function claimJobByIdSql(schema: string): string {
  const jobs = `${quoteIdent(schema)}.jobs`;
  return `with claimed as (
  update ${jobs} j
  set ${CLAIM_SET}
  where j.id = (
    select id from ${jobs}
    where id = case when $3 ~ ${JOB_ID_SQL_PATTERN} then $3::bigint end and status in ${READY_STATUS_LIST}
    for update skip locked
  )
  returning ${CLAIMED_COLUMNS_IN_CTE}
)
select ${CLAIMED_FROM_CTE} from claimed`;
}

/**
 * Claims ready jobs of the given queues, or every queue when $3 is null, for the test helper
 * runJobs. $1 queues, $2 include future jobs, $3 limit, $4 worker id, $5 lease ms.
 */
export function claimJobsForTestSql(schema: string): string {
  const jobs = `${quoteIdent(schema)}.jobs`;
  return `with claimed as (
  update ${jobs} j
  set ${CLAIM_SET}
  where j.id in (
    select id from ${jobs}
    where ($3::text[] is null or queue = any($3)) and status in ${READY_STATUS_LIST}
      and ($4::boolean or run_at <= now())
    order by priority, run_at, id
    limit $5
    for update skip locked
  )
  returning ${CLAIMED_COLUMNS_IN_CTE}
)
select ${CLAIMED_FROM_CTE} from claimed ${CLAIM_ORDER_IN_CTE}`;
}

// The test helpers runJob / runJobs: claim jobs and run their handlers in the calling process,
// with no polling, writing each outcome at once with the same SQL and rules as the worker.
import type pg from "pg";
import type { RunnableQueue } from "../config/resolve.js";
import { parseClaimedJob, type ClaimedRow } from "../db/rows.js";
import { claimJobByIdSql, claimJobsForTestSql } from "../db/sql/fetchJobs.js";
import { readQueueOfJobSql } from "../db/sql/readJobs.js";
import { SidetrackValidationError } from "../errors.js";
import type { Job } from "../types.js";
import { failedAttempt, writeCompleted, writeFailed, type OutcomeTarget } from "../worker/completer.js";
import { runHandler } from "../worker/job-run.js";

export interface InlineContext {
  pool: pg.Pool;
  schema: string;
  workerId: string;
  leaseMs: number;
  /** The queues with a handler in this instance: the only ones these helpers claim from. */
  queues: Map<string, RunnableQueue>;
}

/**
 * Runs one job now, whatever its run_at, if it is scheduled or retrying. A job of a queue with
 * no handler here is refused before anything is claimed, so it is left exactly as it was.
 * Returns whether it ran.
 */
export async function runJobInline(ctx: InlineContext, id: string): Promise<boolean> {
  const [row] = (await ctx.pool.query<{ queue: string }>(readQueueOfJobSql(ctx.schema), [id])).rows;
  if (!row) return false;
  requireHandler(ctx, row.queue, `runJob(${JSON.stringify(id)})`);
  const { rows } = await ctx.pool.query<ClaimedRow>(claimJobByIdSql(ctx.schema), [ctx.workerId, ctx.leaseMs, id]);
  return (await runClaimed(ctx, rows)) > 0;
}

/**
 * Runs ready jobs of `queue` (or of every queue with a handler here) one at a time until none
 * is left; `includeFutureJobs` also takes jobs whose run_at is ahead. Returns how many ran.
 */
export async function runJobsInline(ctx: InlineContext, queue: string | undefined, includeFutureJobs: boolean): Promise<number> {
  if (queue !== undefined) requireHandler(ctx, queue, "runJobs");
  const queues = queue === undefined ? [...ctx.queues.keys()] : [queue];
  if (queues.length === 0) return 0;
  let count = 0;
  for (;;) {
    const { rows } = await ctx.pool.query<ClaimedRow>(claimJobsForTestSql(ctx.schema), [ctx.workerId, ctx.leaseMs, queues, includeFutureJobs, 1]);
    const ran = await runClaimed(ctx, rows);
    if (ran === 0) return count;
    count += ran;
  }
}

function requireHandler(ctx: InlineContext, queue: string, call: string): void {
  if (ctx.queues.has(queue)) return;
  const known = [...ctx.queues.keys()].join(", ") || "none";
  throw new SidetrackValidationError(
    `${call}: queue "${queue}" has no handler in this instance, so its job is left untouched; queues with handlers: ${known}`,
    queue,
  );
}

/** Runs claimed jobs one after another, writing each outcome at once; returns how many ran. */
async function runClaimed(ctx: InlineContext, rows: ClaimedRow[]): Promise<number> {
  const target: OutcomeTarget = { pool: ctx.pool, schema: ctx.schema, workerId: ctx.workerId, preparedStatements: false };
  for (const row of rows) {
    const job: Job = parseClaimedJob(row);
    // Only queues with a handler are claimed, so this is always found.
    const queue = ctx.queues.get(job.queue)!;
    const outcome = await runHandler(job, queue.handler, queue.timeoutMs);
    if (outcome.kind === "completed") await writeCompleted(target, [{ job, bufferedMs: 0 }]);
    else if (outcome.kind === "failed") await writeFailed(target, [failedAttempt(job, outcome.thrown, queue.backoff)]);
  }
  return rows.length;
}

// The test helpers runJob / runJobs: claim jobs and run their handlers in the calling process,
// with no polling, writing each outcome at once with the same SQL and rules as the worker.
import type pg from "pg";
import type { RunnableQueue } from "../config/resolve.js";
import { CLAIMED_ROW_TYPES, parseClaimedJob, type ClaimedRow } from "../db/rows.js";
import { claimJobByIdSql, claimJobsForTestSql } from "../db/sql/fetchJobs.js";
import { readQueueOfJobSql } from "../db/sql/readJobs.js";
import { SidetrackError, SidetrackValidationError } from "../errors.js";
import type { Job } from "../types.js";
import { writeCompleted, writeCompletedWithData, writeFailed, writeSnoozed, type OutcomeTarget } from "../worker/completer.js";
import { runHandler } from "../worker/job-run.js";
import { outcomeWrite } from "../worker/outcomes.js";
import { StatementNames } from "../db/statement-names.js";
import { ProgressReporter } from "../worker/progress.js";
import { writeProgressSql } from "../db/sql/progressJobs.js";
import type { Logger, SidetrackEvents } from "../types.js";

export interface InlineContext {
  pool: pg.Pool;
  schema: string;
  workerId: string;
  leaseMs: number;
  /** The queues with a handler in this instance: the only ones these helpers claim from. */
  queues: Map<string, RunnableQueue>;
  logger: Logger;
  emit: <E extends keyof SidetrackEvents>(event: E, ...args: SidetrackEvents[E]) => void;
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
  const { rows } = await ctx.pool.query<ClaimedRow>({
    text: claimJobByIdSql(ctx.schema),
    types: CLAIMED_ROW_TYPES,
    values: [ctx.workerId, ctx.leaseMs, id],
  });
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
    const { rows } = await ctx.pool.query<ClaimedRow>({
      text: claimJobsForTestSql(ctx.schema),
      types: CLAIMED_ROW_TYPES,
      values: [ctx.workerId, ctx.leaseMs, queues, includeFutureJobs, 1],
    });
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
  const target: OutcomeTarget = { pool: ctx.pool, schema: ctx.schema, workerId: ctx.workerId, names: new StatementNames(ctx.schema, false) };
  for (const row of rows) {
    const job: Job = parseClaimedJob(row);
    // Only queues with a handler are claimed, so this is always found.
    const queue = ctx.queues.get(job.queue)!;
    let progress: ProgressReporter | undefined;
    const onProgress = (_: Job, value: unknown) => {
      progress ??= new ProgressReporter(
        job,
        async (json) => void (await ctx.pool.query(writeProgressSql(ctx.schema), [job.id, ctx.workerId, json])),
        (error) => ctx.logger.error(`writing progress of job ${job.id} failed: ${(error as Error)?.message ?? String(error)}`),
      );
      progress.report(value);
    };
    const outcome = await runHandler(job, queue.handler, queue.timeoutMs, onProgress);
    let last: string | undefined;
    if (progress && outcome.kind === "completed") last = progress.take();
    else await progress?.flush();
    const write = outcomeWrite(job, queue, outcome, last, ctx.logger);
    if (write.kind === "completed") await writeCompleted(target, [{ job, bufferedMs: 0 }]);
    else if (write.kind === "completedWithData") await writeCompletedWithData(target, [write.completion]);
    else if (write.kind === "failed") await writeFailed(target, [write.attempt]);
    else if (write.kind === "snoozed") {
      const status = (await writeSnoozed(target, [write.snoozed])).get(job.id);
      if (status === "scheduled") ctx.emit("job:snoozed", job, write.snoozed.delayMs);
      else if (status === "failed") ctx.emit("job:failed", job, new SidetrackError(write.snoozed.error.message));
    }
  }
  return rows.length;
}

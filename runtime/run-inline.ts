// The test helpers runJob / runJobs: claim jobs and run their handlers in the calling process,
// with no polling, writing each outcome at once with the same SQL and rules as the worker.
import type pg from "pg";
import { retryDelayMs } from "./backoff.js";
import { parseClaimedJob, type ClaimedRow, type Job } from "./job.js";
import { describeThrown } from "./logger.js";
import { runHandler } from "./runner.js";
import { completeJobsSql } from "./sql/completeJobs.js";
import { failJobsSql } from "./sql/failJobs.js";
import type { RunnableQueue } from "./worker.js";

export interface InlineContext {
  pool: pg.Pool;
  schema: string;
  workerId: string;
  leaseMs: number;
  queues: Map<string, RunnableQueue>;
}

/** Runs claimed jobs one after another; returns how many ran. */
export async function runClaimed(ctx: InlineContext, claim: () => Promise<ClaimedRow[]>): Promise<Job[]> {
  const ran: Job[] = [];
  const rows = await claim();
  for (const row of rows) {
    const job = parseClaimedJob(row);
    const queue = ctx.queues.get(job.queue);
    if (!queue) {
      throw new Error(`sidetrack: no handler for queue "${job.queue}" (job ${job.id})`);
    }
    const outcome = await runHandler(job, queue.handler, new AbortController(), queue.timeoutMs);
    if (outcome.kind === "completed") {
      await ctx.pool.query(completeJobsSql(ctx.schema), [[job.id], ctx.workerId]);
    } else if (outcome.kind === "failed") {
      const { message, stack } = describeThrown(outcome.thrown);
      const input = JSON.stringify([
        { id: job.id, delay_ms: retryDelayMs(job.attempt, queue.backoff), error: { attempt: job.attempt, message, stack } },
      ]);
      await ctx.pool.query(failJobsSql(ctx.schema), [input, ctx.workerId]);
    }
    ran.push(job);
  }
  return ran;
}

// The test helpers runJob / runJobs: claim jobs and run their handlers in the calling process,
// with no polling, writing each outcome at once with the same SQL and rules as the worker.
import type pg from "pg";
import { failedAttempt, writeCompleted, writeFailed } from "../worker/completer.js";
import { parseClaimedJob, type ClaimedRow, type Job } from "../types.js";
import { runHandler } from "../worker/job-run.js";
import type { RunnableQueue } from "../worker/worker.js";

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
    const outcome = await runHandler(job, queue.handler, queue.timeoutMs);
    // Written at once, one job at a time, through the same statements as the worker's batches.
    const target = { pool: ctx.pool, schema: ctx.schema, workerId: ctx.workerId, named: false };
    if (outcome.kind === "completed") await writeCompleted(target, [job]);
    else if (outcome.kind === "failed") await writeFailed(target, [failedAttempt(job, outcome.thrown, queue.backoff)]);
    ran.push(job);
  }
  return ran;
}

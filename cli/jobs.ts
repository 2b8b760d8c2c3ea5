import type { Argv, CommandModule } from "yargs";
import { JOB_STATUSES, RETRYABLE_STATUSES, retryJob, retryJobs, type Job, type JobStatus, type RetryableStatus } from "../runtime/index.js";
import { cancelJob, getJob, listJobs } from "../runtime/client/jobs.js";
import type pg from "pg";
import { connectionOptions, requireMigrated, resolveTarget, withDatabase, type ConnectionArgs, type Target } from "./connection.js";
import { CliError, EXIT, UsageError } from "./errors.js";
import { jobIdFlag, positiveInteger } from "./flags.js";
import { formatJob, formatJobList } from "./job-format.js";
import { note, out, progress } from "./output.js";
import { requireKnownQueue } from "./queues.js";

interface ListArgs extends ConnectionArgs {
  queue?: string;
  tag?: string;
  status?: JobStatus;
  limit: number;
  after?: string;
  json?: boolean;
}
interface IdArgs extends ConnectionArgs {
  id: string;
  json?: boolean;
}
interface RetryArgs extends ConnectionArgs {
  id?: string;
  queue?: string;
  status: RetryableStatus;
  batchSize: number;
}

// The casts below: yargs' types do not model positionals or the camelCase copy of dashed flags.

const listCommand: CommandModule<object, ListArgs> = {
  command: "list",
  describe: "List jobs, oldest first",
  builder: (y: Argv) =>
    connectionOptions(y)
      .option("queue", { type: "string", describe: "only this queue" })
      .option("status", { type: "string", choices: JOB_STATUSES, describe: "only jobs in this state" })
      .option("tag", { type: "string", describe: "only jobs inserted with this tag" })
      .option("limit", { type: "number", default: 50, describe: "at most this many jobs" })
      .option("after", { type: "string", describe: "only jobs with a larger id (the next page)" })
      .option("json", { type: "boolean", describe: "print a JSON array of jobs" })
      .example("$0 jobs list --queue sendInvoice --status failed", "") as unknown as Argv<ListArgs>,
  handler: async (args) => {
    const limit = positiveInteger(args.limit, "--limit");
    const after = args.after === undefined ? null : jobIdFlag(args.after, "--after");
    await withMigratedDatabase(args, async (pool, target) => {
      const known = args.queue === undefined ? undefined : await requireKnownQueue(pool, target.schema, args.queue);
      if (known === "declared, no jobs yet" && !args.json) return out(`queue "${args.queue}": declared, no jobs yet`);
      const filter = { queue: args.queue, status: args.status, tag: args.tag, limit, afterId: after ?? undefined };
      const jobs = await listJobs(pool, filter, { schema: target.schema });
      if (args.json) out(JSON.stringify(jobs, null, 2));
      else out(jobs.length > 0 ? formatJobList(jobs) : "no jobs match");
      if (jobs.length === limit) note(`showing the first ${limit}; next page: --after ${jobs[jobs.length - 1]!.id}`);
    });
  },
};

const showCommand: CommandModule<object, IdArgs> = {
  command: "show <id>",
  describe: "Show one job: payload, attempts, and every error with its stack",
  builder: (y: Argv) =>
    connectionOptions(y)
      .positional("id", { type: "string", describe: "the job's id" })
      .option("json", { type: "boolean", describe: "print the job as JSON" }) as unknown as Argv<IdArgs>,
  handler: async (args) => {
    const id = jobIdFlag(args.id, "job id");
    await withMigratedDatabase(args, async (pool, target) => {
      const job = await readJob(pool, target, id);
      out(args.json ? JSON.stringify(job, null, 2) : formatJob(job));
    });
  },
};

const retryCommand: CommandModule<object, RetryArgs> = {
  command: "retry [id]",
  describe: "Run failed (or cancelled) jobs again: one by id, or all of a queue",
  builder: (y: Argv) =>
    connectionOptions(y)
      .positional("id", { type: "string", describe: "the job's id" })
      .option("queue", { type: "string", describe: "retry every job of this queue in --status" })
      .option("status", { type: "string", choices: RETRYABLE_STATUSES, default: "failed", describe: "with --queue: which jobs" })
      .option("batch-size", { type: "number", default: 1000, describe: "with --queue: jobs changed per transaction" })
      .example("$0 jobs retry 42", "one job")
      .example("$0 jobs retry --queue sendInvoice --status failed", "every failed job of a queue")
      .epilogue(
        "A retried job is scheduled to run now with at least one more attempt; its attempt count and " +
          "errors are kept. A job whose unique key a live job holds is not retried.",
      ) as unknown as Argv<RetryArgs>,
  handler: async (args) => {
    if (args.id !== undefined && args.queue !== undefined) throw new UsageError("give a job id or --queue, not both");
    if (args.id === undefined && args.queue === undefined) {
      throw new UsageError("name what to retry", "`sidetrack jobs retry <id>`, or `sidetrack jobs retry --queue <queue> --status failed`");
    }
    if (args.id !== undefined) {
      const id = jobIdFlag(args.id, "job id");
      await withMigratedDatabase(args, (pool, target) => retryOne(pool, target, id));
      return;
    }
    const batchSize = positiveInteger(args.batchSize, "--batch-size");
    const queue = args.queue!;
    await withMigratedDatabase(args, async (pool, target) => {
      await requireKnownQueue(pool, target.schema, queue);
      const what = `${args.status} jobs of queue "${queue}"`;
      const result = await retryJobs(pool, {
        schema: target.schema,
        queue,
        status: args.status,
        batchSize,
        onProgress: (p) => progress(`retrying ${what}: ${p.processed}/${p.total}`),
      });
      if (result.total > 0) progress(`retrying ${what}: done`, true);
      const counted = (n: number) => `${n} ${args.status} job${n === 1 ? "" : "s"} of queue "${queue}"`;
      out(result.total === 0 ? `no ${what}` : `retried ${counted(result.retried)}`);
      if (result.skipped.length > 0) {
        const shown = result.skipped.slice(0, 20).map((s) => `${s.id} (key held by job ${s.heldBy})`);
        const more = result.skipped.length > shown.length ? `, and ${result.skipped.length - shown.length} more` : "";
        out(`skipped ${result.skipped.length}: a live job holds their unique key: ${shown.join(", ")}${more}`);
        process.exitCode = EXIT.failure;
      }
    });
  },
};

const cancelCommand: CommandModule<object, IdArgs> = {
  command: "cancel <id>",
  describe: "Cancel a job that has not finished (a running one has its handler aborted)",
  builder: (y: Argv) => connectionOptions(y).positional("id", { type: "string", describe: "the job's id" }) as unknown as Argv<IdArgs>,
  handler: async (args) => {
    const id = jobIdFlag(args.id, "job id");
    await withMigratedDatabase(args, async (pool, target) => {
      const previous = await cancelJob(pool, id, { schema: target.schema });
      if (previous) {
        const running = previous === "running" ? ": the worker running it aborts its handler" : "";
        out(`job ${id} cancelled (was ${previous}${running})`);
        return;
      }
      const job = await readJob(pool, target, id);
      // Cancelling twice is not an error: the job is where the caller wants it.
      if (job.status === "cancelled") out(`job ${id} was already cancelled`);
      else throw new CliError(`job ${id} is ${job.status}: only scheduled, retrying or running jobs can be cancelled`, "nothing to do");
    });
  },
};

export const jobsCommand: CommandModule = {
  command: "jobs",
  describe: "List, show, retry and cancel jobs",
  builder: (y: Argv) =>
    y
      .command(listCommand)
      .command(showCommand)
      .command(retryCommand)
      .command(cancelCommand)
      .demandCommand(1, "name a jobs command: list, show, retry or cancel"),
  handler: () => undefined,
};

async function retryOne(pool: pg.Pool, target: Target, id: string): Promise<void> {
  const result = await retryJob(pool, id, { schema: target.schema });
  switch (result.outcome) {
    case "retried": {
      const job = result.job;
      out(`job ${id} retried: queue "${job.queue}", scheduled to run now (next attempt ${job.attempt + 1} of ${job.maxAttempts})`);
      return;
    }
    case "not-found":
      throw unknownJob(id, target);
    case "unique-conflict":
      throw new CliError(
        `job ${id} cannot be retried: job ${result.heldBy} is live with the same queue and unique key`,
        `let job ${result.heldBy} finish, or cancel it (\`sidetrack jobs cancel ${result.heldBy}\`), then retry`,
      );
    case "not-retryable":
      throw new CliError(
        `job ${id} is ${result.status}: only failed or cancelled jobs can be retried`,
        result.status === "completed" ? "a completed job is never run again: insert a new job" : "it will run (or is running) already",
      );
  }
}

async function withMigratedDatabase(args: ConnectionArgs, fn: (pool: pg.Pool, target: Target) => Promise<void>): Promise<void> {
  const target = resolveTarget(args);
  await withDatabase(target, async (pool) => {
    await requireMigrated(pool, target.schema);
    await fn(pool, target);
  });
}

async function readJob(pool: pg.Pool, target: Target, id: string): Promise<Job> {
  const job = await getJob(pool, id, { schema: target.schema });
  if (!job) throw unknownJob(id, target);
  return job;
}

function unknownJob(id: string, target: Target): CliError {
  return new CliError(
    `unknown job id ${id}: schema "${target.schema}" has no such job`,
    "find ids with `sidetrack jobs list`; finished jobs are pruned after their retention (completed and cancelled 24h, failed 7 days by default)",
  );
}

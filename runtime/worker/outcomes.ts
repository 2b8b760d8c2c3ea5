// What a handler's outcome writes, decided once for the worker and for runJob / runJobs, so both
// apply the same rules: output checked and measured, snoozes capped, UnrecoverableError final.
import type { RunnableQueue } from "../config/resolve.js";
import { JobOutputError, SidetrackValidationError } from "../errors.js";
import { assertJsonValue } from "../insert/payload.js";
import type { Job, Logger } from "../types.js";
import { failedAttempt, snoozedAttempt, type CompletionData, type FailedAttempt, type SnoozedAttempt } from "./completer.js";
import type { Outcome } from "./job-run.js";

export type Write =
  | { kind: "completed" }
  | { kind: "completedWithData"; completion: CompletionData }
  | { kind: "snoozed"; snoozed: SnoozedAttempt }
  | { kind: "failed"; attempt: FailedAttempt; thrown: unknown }
  | { kind: "none" };

const COMPLETED: Write = Object.freeze({ kind: "completed" });

/**
 * The write an outcome needs. `progress` is the last progress JSON not known to be written yet;
 * it rides with a completion. Output that is not JSON-safe is ignored with a warning (handlers
 * written before outputs were stored often return whatever their last call returned, such as a
 * driver's result object); output over `maxOutputBytes` fails the attempt with a JobOutputError.
 * `bufferedMs`: how long the job waited in the lock-ahead buffer (written with the outcome).
 */
export function outcomeWrite(
  job: Job,
  queue: RunnableQueue,
  outcome: Outcome,
  progress: string | undefined,
  logger: Logger,
  bufferedMs = 0,
): Write {
  switch (outcome.kind) {
    case "completed": {
      const output = outcome.output === undefined ? null : storedOutput(job, queue, outcome.output, logger);
      if (output instanceof JobOutputError) return { kind: "failed", attempt: failedAttempt(job, output, queue.backoff, bufferedMs), thrown: output };
      if (output === null && progress === undefined) return COMPLETED;
      return { kind: "completedWithData", completion: { job, output, progress: progress ?? null, bufferedMs } };
    }
    case "snoozed":
      return { kind: "snoozed", snoozed: snoozedAttempt(job, outcome.delayMs, queue.maxSnoozes) };
    case "failed":
      return { kind: "failed", attempt: failedAttempt(job, outcome.thrown, queue.backoff, bufferedMs), thrown: outcome.thrown };
    case "aborted":
      return { kind: "none" };
  }
}

/** The output's JSON text; null when it is ignored (not JSON-safe); a JobOutputError when too large. */
function storedOutput(job: Job, queue: RunnableQueue, value: unknown, logger: Logger): string | null | JobOutputError {
  try {
    assertJsonValue(value, job.queue, "output");
  } catch (error) {
    const reason = error instanceof SidetrackValidationError ? error.message : String(error);
    logger.warn(`job ${job.id}: the handler's result is not stored as output: ${reason}`);
    return null;
  }
  const json = JSON.stringify(value);
  const bytes = Buffer.byteLength(json, "utf8");
  if (bytes > queue.maxOutputBytes) {
    return new JobOutputError(
      `queue "${job.queue}": the handler's output is ${bytes} bytes of JSON, over the limit of ${queue.maxOutputBytes} (maxOutputBytes); store large results elsewhere and return a reference`,
      job.queue,
    );
  }
  return json;
}

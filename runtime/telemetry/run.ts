// The worker's one hook per attempt: counts and times it, and runs its handler inside the
// CONSUMER span when one records. Without @opentelemetry/api (or without an SDK) the handler is
// the queue's own function and the cost is a few map updates.
import type { Handler, Job } from "../types.js";
import { countJobs, observeSeconds } from "./metrics.js";
import { otel } from "./otel.js";
import { endConsumer, startConsumer, type Consumer, type RunOutcome, type TraceParent } from "./tracing.js";

/** The counter each outcome adds to ("aborted", a shutdown or lost lease, counts in none: the job runs again). */
const OUTCOME_COUNTER = {
  completed: "completed",
  retrying: "retried",
  failed: "failed",
  cancelled: "cancelled",
  snoozed: "snoozed",
  aborted: undefined,
} as const satisfies Record<RunOutcome, string | undefined>;

export class RunTelemetry {
  readonly #startedAt = performance.now();
  readonly #consumer: Consumer | undefined;

  constructor(
    readonly job: Job,
    parent: TraceParent,
    workerId: string,
  ) {
    countJobs("started", job.queue);
    observeSeconds("lag", job.queue, Math.max(0, Date.now() - job.runAt.getTime()) / 1000);
    this.#consumer = startConsumer(job, parent, workerId);
  }

  /** The trace id of the attempt's consumer span, for log lines. */
  get traceId(): string | undefined {
    return this.#consumer?.span.spanContext().traceId;
  }

  /** The handler to call: the queue's own, or one that calls it inside the consumer span's context. */
  handler(handler: Handler<any>): Handler<any> {
    const consumer = this.#consumer;
    if (!consumer) return handler;
    const api = otel()!;
    return (job, context) => api.context.with(consumer.context, handler, undefined, job, context);
  }

  /**
   * Records the attempt's outcome: the counter, the duration, and the span's end. A snooze
   * (a handler asking to run later without spending the attempt) reports "snoozed" here.
   */
  finish(outcome: RunOutcome, thrown?: unknown): void {
    const counter = OUTCOME_COUNTER[outcome];
    if (counter) countJobs(counter, this.job.queue);
    observeSeconds("duration", this.job.queue, (performance.now() - this.#startedAt) / 1000);
    if (this.#consumer) endConsumer(this.#consumer, outcome, thrown);
  }
}

/** What a failed attempt leads to: another attempt while any is left. */
export function failureOutcome(job: Job): "retrying" | "failed" {
  return job.attempt < job.maxAttempts ? "retrying" : "failed";
}

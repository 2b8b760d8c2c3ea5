// The names telemetry emits and stores, apart from the spans' code so the public types that
// mention them never pull @opentelemetry/api's types into an application's declarations.

/** The reserved meta key holding the trace context of the insert that created a job. */
export const TRACE_META_KEY = "sidetrack.trace";

/** How a consumer span relates to its producer: "link" (River's choice) or "producer" as parent (BullMQ's). */
export type TraceParent = "link" | "producer";

/** Attribute names, from the messaging semantic conventions where one exists. */
export const ATTR = {
  system: "messaging.system",
  operationName: "messaging.operation.name",
  operationType: "messaging.operation.type",
  destination: "messaging.destination.name",
  messageId: "messaging.message.id",
  batchCount: "messaging.batch.message_count",
  errorType: "error.type",
  attempt: "sidetrack.job.attempt",
  maxAttempts: "sidetrack.job.max_attempts",
  outcome: "sidetrack.job.outcome",
  workerId: "sidetrack.worker.id",
} as const;

export const MESSAGING_SYSTEM = "sidetrack";

/** What an attempt came to, as the consumer span's `sidetrack.job.outcome` and the counters say it. */
export type RunOutcome = "completed" | "retrying" | "failed" | "cancelled" | "aborted" | "snoozed";

/** A W3C trace context as stored in a job's meta. */
export interface StoredTrace {
  traceparent: string;
  tracestate?: string;
}

// Spans per the OpenTelemetry messaging semantic conventions: a PRODUCER span around each insert
// statement, in the caller's active context, whose W3C trace context is stored in every job it
// inserts (meta["sidetrack.trace"]); a CONSUMER span around each attempt, linked to that
// context (the default) or parented by it (`tracing: { parent: "producer" }`), inside which the
// handler runs so its own spans are its children. Nothing here runs without @opentelemetry/api.
import type { Context, Span, SpanContext } from "@opentelemetry/api";
import type { Job } from "../types.js";
import { ATTR, MESSAGING_SYSTEM, TRACE_META_KEY, type RunOutcome, type StoredTrace, type TraceParent } from "./names.js";
import { INSTRUMENTATION_NAME, otel } from "./otel.js";

export { ATTR, TRACE_META_KEY, type RunOutcome, type TraceParent } from "./names.js";

interface Producer {
  span: Span;
  context: Context;
  trace: StoredTrace;
}

/**
 * Starts the PRODUCER span of one insert statement (`send <queue>`), or returns undefined when
 * nothing records it (no API, or no SDK: the span context is then invalid and there is nothing
 * to propagate).
 */
export function startProducer(queue: string, count: number): Producer | undefined {
  const api = otel();
  if (!api || !tracerRegistered(api)) return undefined;
  const parent = api.context.active();
  const span = api.trace.getTracer(INSTRUMENTATION_NAME).startSpan(
    `send ${queue}`,
    {
      kind: api.SpanKind.PRODUCER,
      attributes: {
        [ATTR.system]: MESSAGING_SYSTEM,
        [ATTR.operationName]: "send",
        [ATTR.operationType]: "send",
        [ATTR.destination]: queue,
        ...(count > 1 ? { [ATTR.batchCount]: count } : {}),
      },
    },
    parent,
  );
  const spanContext = span.spanContext();
  if (!span.isRecording() && !api.trace.isSpanContextValid(spanContext)) return undefined;
  return { span, context: api.trace.setSpan(parent, span), trace: storedTrace(spanContext) };
}

/** Ends a producer span with the ids the insert returned (one id: `messaging.message.id`). */
export function endProducer(producer: Producer, ids: readonly string[] | undefined, error?: unknown): void {
  if (ids?.length === 1) producer.span.setAttribute(ATTR.messageId, ids[0]!);
  if (error !== undefined) recordError(producer.span, error);
  producer.span.end();
}

/** Runs fn inside the producer span's context, so spans of the statement (pg instrumentation) nest in it. */
export function withProducer<T>(producer: Producer, fn: () => Promise<T>): Promise<T> {
  return otel()!.context.with(producer.context, fn);
}

export interface Consumer {
  span: Span;
  context: Context;
}

/**
 * Starts the CONSUMER span of one attempt (`process <queue>`), or returns undefined when it
 * would record nothing (no SDK), in which case the handler runs unwrapped.
 */
export function startConsumer(job: Job, parentMode: TraceParent, workerId: string): Consumer | undefined {
  const api = otel();
  if (!api || !tracerRegistered(api)) return undefined;
  const producer = producerContext(job);
  const parent = producer && parentMode === "producer" ? api.trace.setSpanContext(api.ROOT_CONTEXT, producer) : api.ROOT_CONTEXT;
  const span = api.trace.getTracer(INSTRUMENTATION_NAME).startSpan(
    `process ${job.queue}`,
    {
      kind: api.SpanKind.CONSUMER,
      links: producer && parentMode === "link" ? [{ context: producer }] : undefined,
      attributes: {
        [ATTR.system]: MESSAGING_SYSTEM,
        [ATTR.operationName]: "process",
        [ATTR.operationType]: "process",
        [ATTR.destination]: job.queue,
        [ATTR.messageId]: job.id,
        [ATTR.attempt]: job.attempt,
        [ATTR.maxAttempts]: job.maxAttempts,
        [ATTR.workerId]: workerId,
      },
    },
    parent,
  );
  if (!span.isRecording()) return undefined;
  return { span, context: api.trace.setSpan(parent, span) };
}

/** Ends a consumer span with its outcome; a thrown error is recorded as an exception with error status. */
export function endConsumer(consumer: Consumer, outcome: RunOutcome, thrown?: unknown): void {
  consumer.span.setAttribute(ATTR.outcome, outcome);
  if (thrown !== undefined) recordError(consumer.span, thrown);
  consumer.span.end();
}

/**
 * False while no SDK is registered: the global provider is then the API's proxy without a
 * delegate, and every span would be a no-op. Checked first so that, with the API installed but
 * unused, a job costs no span, attribute object or trace-context parsing.
 */
function tracerRegistered(api: NonNullable<ReturnType<typeof otel>>): boolean {
  const provider = api.trace.getTracerProvider();
  return !(provider instanceof api.ProxyTracerProvider) || provider.getDelegateTracer(INSTRUMENTATION_NAME) !== undefined;
}

function recordError(span: Span, thrown: unknown): void {
  const api = otel()!;
  const error = thrown instanceof Error ? thrown : new Error(typeof thrown === "string" ? thrown : String(thrown));
  span.recordException(error);
  span.setAttribute(ATTR.errorType, error.name || "Error");
  span.setStatus({ code: api.SpanStatusCode.ERROR, message: error.message });
}

/** The trace id of the active span, for log lines (undefined without one). */
export function activeTraceId(): string | undefined {
  const api = otel();
  const spanContext = api?.trace.getActiveSpan()?.spanContext();
  return spanContext && api!.trace.isSpanContextValid(spanContext) ? spanContext.traceId : undefined;
}

function storedTrace(spanContext: SpanContext): StoredTrace {
  const flags = (spanContext.traceFlags & 0xff).toString(16).padStart(2, "0");
  const traceparent = `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
  const tracestate = spanContext.traceState?.serialize();
  return tracestate ? { traceparent, tracestate } : { traceparent };
}

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The producer's span context from a job's meta; undefined when absent or malformed. */
export function producerContext(job: Pick<Job, "meta">): SpanContext | undefined {
  const api = otel();
  const stored = job.meta?.[TRACE_META_KEY] as Partial<StoredTrace> | undefined;
  if (!api || typeof stored?.traceparent !== "string") return undefined;
  const match = TRACEPARENT.exec(stored.traceparent);
  if (!match) return undefined;
  const spanContext: SpanContext = {
    traceId: match[1]!,
    spanId: match[2]!,
    traceFlags: parseInt(match[3]!, 16),
    isRemote: true,
    traceState: typeof stored.tracestate === "string" ? api.createTraceState(stored.tracestate) : undefined,
  };
  return api.trace.isSpanContextValid(spanContext) ? spanContext : undefined;
}

// Configuration, resolved and checked once, up front: `new Sidetrack(config)` (and with it the
// generated createWorker) calls resolveConfig in its constructor, so a bad option fails there,
// naming the field, before anything connects or runs. Defaults come from defaults.ts.
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { SidetrackValidationError } from "../errors.js";
import type { Handler, Logger } from "../types.js";
import * as D from "./defaults.js";
import { parseDuration, type Duration } from "./duration.js";
import { validateQueueName } from "./identifiers.js";
import { defaultLogger } from "./logger.js";
import type { QueueOptions } from "./queue-options.js";
import {
  BACKOFF_KEYS,
  closest,
  concurrencyByProblem,
  concurrencyPerKeyProblem,
  CRON_KEYS,
  durationProblem,
  integerProblem,
  objectProblem,
  onDuplicateProblem,
  QUEUE_OPTION_NAMES,
  rateLimitProblem,
  show,
  uniqueByProblem,
} from "./queue-rules.js";
import type { RetentionOptions, WorkerOptions } from "./worker-options.js";

/** Retry backoff of one queue, in milliseconds (the formula is in worker/backoff.ts). */
export interface BackoffSettings {
  baseMs: number;
  maxMs: number;
}

/** Ages after which the pruner deletes finished jobs, in ms; null keeps that state forever. */
export interface RetentionMs {
  completedMs: number | null;
  failedMs: number | null;
  cancelledMs: number | null;
}

/** A queue this instance runs, with every option resolved. */
export interface RunnableQueue {
  name: string;
  handler: Handler<any>;
  /** Most running at once in this process. */
  concurrency: number;
  timeoutMs?: number;
  backoff: BackoffSettings;
  maxSnoozes: number;
  maxOutputBytes: number;
  /** Has a global, per-key or rate limit: claimed through the limited claim path. */
  limited: boolean;
  /** The declared globalConcurrency: no process runs more of the queue's jobs at once. */
  globalConcurrency?: number;
}

/** A queue's declared flow-control policy, as the `queues` table stores it (null: no limit). */
export interface QueuePolicy {
  name: string;
  global_concurrency: number | null;
  concurrency_by: string[] | null;
  concurrency_per_key: number | null;
  rate_limit: number | null;
  rate_per_ms: number | null;
}

/** The policy rows of checked queue options (what start() and `sidetrack migrate` write). */
export function queuePolicies(queues: Record<string, QueueOptions<any>>): QueuePolicy[] {
  return Object.entries(queues).map(([name, q]) => ({
    name,
    global_concurrency: q.globalConcurrency ?? null,
    concurrency_by: q.concurrencyBy ? [...q.concurrencyBy] : null,
    concurrency_per_key: q.concurrencyBy ? (q.concurrencyPerKey ?? D.CONCURRENCY_PER_KEY_DEFAULT) : null,
    rate_limit: q.rateLimit?.limit ?? null,
    rate_per_ms: q.rateLimit ? parseDuration(q.rateLimit.per, `queues.${name}.rateLimit.per`) : null,
  }));
}

/** Whether a queue's options limit its claims across workers. */
export function isLimited(q: QueueOptions<any>): boolean {
  return q.globalConcurrency !== undefined || q.concurrencyBy !== undefined || q.rateLimit !== undefined;
}

/** Lock-ahead, resolved: sized from what the worker observes (up to `max`), or a fixed size. */
export type Prefetch = { kind: "auto"; max: number } | { kind: "fixed"; size: number };

/** The worker side of a configuration, resolved. */
export interface ResolvedWorkerOptions {
  workerId: string;
  concurrency: number;
  prefetch: Prefetch;
  pollIntervalMs: number;
  leaseMs: number;
  rescueIntervalMs: number;
  shutdownGraceMs: number;
  pruneIntervalMs: number;
  retention: RetentionMs | false;
  handleSignals: boolean;
  /** Name the hot statements so each connection prepares them once (off behind PgBouncer). */
  preparedStatements: boolean;
  /** Where the LISTEN / liveness connection goes; undefined: through the pool. */
  listenConnectionString: string | undefined;
  /** false: poll-only, no long-lived connection. */
  listen: boolean;
  logger: Logger;
  /** How each attempt's CONSUMER span relates to the insert's PRODUCER span. */
  tracing: { parent: "link" | "producer" };
  /** The queues that have a handler (and pass `onlyQueues`): what start() and runJob(s) run. */
  queues: Map<string, RunnableQueue>;
}

export type QueueConfig = QueueOptions<any> & { handler?: Handler<any> };

/**
 * Checks every queue's options and every worker option; throws a SidetrackValidationError
 * naming the field (`queues.sendInvoice.maxAttempts must be an integer of at least 1, got 0`).
 */
export function resolveWorkerOptions(
  options: WorkerOptions & { preparedStatements?: boolean },
  queues: Record<string, QueueConfig>,
): ResolvedWorkerOptions {
  for (const [name, queue] of Object.entries(queues)) checkQueueOptions(name, queue);
  const concurrency = positiveInt(options.concurrency ?? D.CONCURRENCY_DEFAULT, "concurrency");
  const leaseMs = duration(options.leaseDuration, D.LEASE_DURATION_DEFAULT_MS, "leaseDuration", D.LEASE_DURATION_MIN_MS);
  const retention = options.retention === false ? false : resolveRetention(options.retention ?? {});
  const only = options.onlyQueues;
  if (only !== undefined) {
    if (!Array.isArray(only)) throw new SidetrackValidationError(`onlyQueues must be an array of queue names, got ${show(only)}`, undefined, "onlyQueues");
    for (const name of only) {
      if (!Object.hasOwn(queues, name)) {
        throw new SidetrackValidationError(`onlyQueues names unknown queue "${name}"; known queues: ${Object.keys(queues).join(", ")}`, name);
      }
    }
  }
  const runnable = new Map<string, RunnableQueue>();
  for (const [name, queue] of Object.entries(queues)) {
    if (only && !only.includes(name)) continue;
    if (queue.handler === undefined) continue;
    runnable.set(name, {
      name,
      handler: queue.handler,
      concurrency: queue.concurrency ?? concurrency,
      limited: isLimited(queue),
      globalConcurrency: queue.globalConcurrency,
      timeoutMs: queue.timeout === undefined ? undefined : parseDuration(queue.timeout, `queues.${name}.timeout`),
      backoff: {
        baseMs: queue.backoff?.base === undefined ? D.BACKOFF_BASE_DEFAULT_MS : parseDuration(queue.backoff.base, `queues.${name}.backoff.base`),
        maxMs: queue.backoff?.max === undefined ? D.BACKOFF_MAX_DEFAULT_MS : parseDuration(queue.backoff.max, `queues.${name}.backoff.max`),
      },
      maxSnoozes: queue.maxSnoozes ?? D.MAX_SNOOZES_DEFAULT,
      maxOutputBytes: queue.maxOutputBytes ?? D.MAX_OUTPUT_BYTES_DEFAULT,
    });
  }
  if (options.handleSignals !== undefined && typeof options.handleSignals !== "boolean") {
    throw new SidetrackValidationError(`handleSignals must be a boolean, got ${show(options.handleSignals)}`, undefined, "handleSignals");
  }
  if (options.workerId !== undefined && (typeof options.workerId !== "string" || options.workerId === "")) {
    throw new SidetrackValidationError(`workerId must be a non-empty string, got ${show(options.workerId)}`, undefined, "workerId");
  }
  if (options.listen !== undefined && typeof options.listen !== "boolean") {
    throw new SidetrackValidationError(`listen must be a boolean, got ${show(options.listen)}`, undefined, "listen");
  }
  const listenAt = options.listenConnectionString;
  if (listenAt !== undefined && (typeof listenAt !== "string" || listenAt === "")) {
    throw new SidetrackValidationError(`listenConnectionString must be a non-empty string, got ${typeof listenAt === "string" ? '""' : typeof listenAt}`, undefined, "listenConnectionString");
  }
  if (listenAt !== undefined && options.listen === false) {
    throw new SidetrackValidationError("listenConnectionString cannot be used with listen: false (poll-only has no long-lived connection)", undefined, "listenConnectionString");
  }
  return {
    tracing: resolveTracing(options.tracing),
    workerId: options.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`,
    concurrency,
    prefetch: resolvePrefetch(options.prefetch),
    pollIntervalMs: duration(options.pollInterval, D.POLL_INTERVAL_DEFAULT_MS, "pollInterval", D.POLL_INTERVAL_MIN_MS),
    leaseMs,
    rescueIntervalMs: duration(options.rescueInterval, D.RESCUE_INTERVAL_DEFAULT_MS, "rescueInterval", D.RESCUE_INTERVAL_MIN_MS),
    shutdownGraceMs: duration(options.shutdownGrace, D.SHUTDOWN_GRACE_DEFAULT_MS, "shutdownGrace", 0),
    pruneIntervalMs: D.PRUNE_INTERVAL_DEFAULT_MS,
    retention,
    handleSignals: options.handleSignals ?? true,
    preparedStatements: options.preparedStatements ?? true,
    listenConnectionString: listenAt,
    listen: options.listen ?? true,
    logger: options.logger ?? defaultLogger,
    queues: runnable,
  };
}

/**
 * One queue's options against the rules of queue-rules.ts (the generator checks the
 * declaration with the same functions). The cron payload is checked by the caller, which knows
 * the insert limits.
 */
export function checkQueueOptions(name: string, queue: unknown): void {
  validateQueueName(name);
  const at = (field: string) => `queues.${name}.${field}`;
  const fail = (field: string, problem: string): never => {
    throw new SidetrackValidationError(`${at(field)} ${problem}`, name, at(field));
  };
  if (queue === null || typeof queue !== "object" || Array.isArray(queue)) {
    throw new SidetrackValidationError(`queues.${name} must be an object of queue options, got ${show(queue)}`, name, `queues.${name}`);
  }
  const q = queue as Record<string, unknown>;
  for (const key of Object.keys(q)) {
    if (key === "handler" || (QUEUE_OPTION_NAMES as readonly string[]).includes(key)) continue;
    const suggestion = closest(key, [...QUEUE_OPTION_NAMES, "handler"]);
    fail(key, `is not a queue option${suggestion ? `; did you mean ${suggestion}?` : ""} (known: ${QUEUE_OPTION_NAMES.join(", ")}, handler)`);
  }
  const problem = (field: string, found: string | undefined) => found && fail(field, found);
  if (q.handler !== undefined && typeof q.handler !== "function") fail("handler", `must be a function, got ${show(q.handler)}`);
  if (q.schema !== undefined && !(typeof q.schema === "object" && q.schema !== null && "~standard" in q.schema)) {
    fail("schema", `must be a Standard Schema (zod, valibot, arktype, …), got ${show(q.schema)}`);
  }
  if (q.maxAttempts !== undefined) problem("maxAttempts", integerProblem(q.maxAttempts, 1));
  if (q.priority !== undefined) problem("priority", integerProblem(q.priority, -Infinity));
  if (q.concurrency !== undefined) problem("concurrency", integerProblem(q.concurrency, 1));
  if (q.timeout !== undefined) {
    problem("timeout", durationProblem(q.timeout));
    if (parseDuration(q.timeout, at("timeout")) < 1) fail("timeout", `must be at least 1ms, got ${show(q.timeout)}`);
  }
  if (q.uniqueBy !== undefined) problem("uniqueBy", uniqueByProblem(q.uniqueBy));
  if (q.globalConcurrency !== undefined) problem("globalConcurrency", integerProblem(q.globalConcurrency, 1));
  if (q.concurrencyBy !== undefined) problem("concurrencyBy", concurrencyByProblem(q.concurrencyBy));
  if (q.concurrencyPerKey !== undefined) problem("concurrencyPerKey", concurrencyPerKeyProblem(q.concurrencyPerKey, q.concurrencyBy));
  if (q.rateLimit !== undefined) {
    const found = rateLimitProblem(q.rateLimit);
    if (found) fail(`rateLimit${found[0]}`, found[1]);
  }
  if (q.backoff !== undefined) {
    problem("backoff", objectProblem(q.backoff, BACKOFF_KEYS));
    for (const [key, value] of Object.entries(q.backoff as object)) problem(`backoff.${key}`, durationProblem(value));
  }
  if (q.cron !== undefined) problem("cron", objectProblem(q.cron, CRON_KEYS));
  if (q.maxSnoozes !== undefined) problem("maxSnoozes", integerProblem(q.maxSnoozes, 0));
  if (q.maxOutputBytes !== undefined) problem("maxOutputBytes", integerProblem(q.maxOutputBytes, 0));
  if (q.onDuplicate !== undefined) problem("onDuplicate", onDuplicateProblem(q.onDuplicate));
  if (q.uniqueFor !== undefined) problem("uniqueFor", durationProblem(q.uniqueFor));
}

function resolvePrefetch(value: unknown): Prefetch {
  if (value === undefined || value === "auto") return { kind: "auto", max: D.PREFETCH_AUTO_MAX };
  if (typeof value === "number" && Number.isInteger(value) && value >= 0) return { kind: "fixed", size: value };
  throw new SidetrackValidationError(`prefetch must be "auto" or an integer >= 0, got ${show(value)}`, undefined, "prefetch");
}

function resolveTracing(tracing: WorkerOptions["tracing"]): ResolvedWorkerOptions["tracing"] {
  if (tracing === undefined) return { parent: D.TRACE_PARENT_DEFAULT };
  const problem = objectProblem(tracing, ["parent"]);
  if (problem) throw new SidetrackValidationError(`tracing ${problem}`, undefined, "tracing");
  const parent = tracing.parent ?? D.TRACE_PARENT_DEFAULT;
  if (parent !== "link" && parent !== "producer") {
    throw new SidetrackValidationError(`tracing.parent must be "link" or "producer", got ${show(parent)}`, undefined, "tracing.parent");
  }
  return { parent };
}

function resolveRetention(r: RetentionOptions): RetentionMs {
  if (r === null || typeof r !== "object") throw new SidetrackValidationError(`retention must be an object or false, got ${show(r)}`, undefined, "retention");
  return {
    completedMs: duration(r.completed, D.RETENTION_COMPLETED_DEFAULT_MS, "retention.completed", 0),
    failedMs: duration(r.failed, D.RETENTION_FAILED_DEFAULT_MS, "retention.failed", 0),
    cancelledMs: duration(r.cancelled, D.RETENTION_CANCELLED_DEFAULT_MS, "retention.cancelled", 0),
  };
}

function duration(value: Duration | undefined, fallback: number, field: string, min: number): number {
  if (value === undefined) return fallback;
  const ms = parseDuration(value, field);
  if (ms < min) throw new SidetrackValidationError(`${field} must be at least ${min}ms, got ${ms}ms`, undefined, field);
  return ms;
}

function positiveInt(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new SidetrackValidationError(`${field} must be a positive integer, got ${JSON.stringify(value)}`, undefined, field);
  }
  return value;
}

import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { BackoffSettings } from "../worker/backoff.js";
import * as D from "./defaults.js";
import { parseDuration, type Duration } from "./duration.js";
import { SidetrackValidationError } from "../errors.js";
import { defaultLogger } from "./logger.js";
import type { RetentionMs } from "../worker/maintenance/pruner.js";
import type { QueueOptions } from "./queue-options.js";
import type { RunnableQueue } from "../worker/worker.js";
import type { Handler, Logger, RetentionOptions, WorkerOptions } from "./worker-options.js";

export interface ResolvedWorkerOptions {
  workerId: string;
  concurrency: number;
  pollIntervalMs: number;
  leaseMs: number;
  rescueIntervalMs: number;
  shutdownGraceMs: number;
  pruneIntervalMs: number;
  retention: RetentionMs | false;
  handleSignals: boolean;
  logger: Logger;
  queues: Map<string, RunnableQueue>;
}

type QueueConfig = QueueOptions<any> & { handler?: Handler<any> };

/** Validates the worker side of a Sidetrack config once, up front, naming the field at fault. */
export function resolveWorkerOptions(options: WorkerOptions, queues: Record<string, QueueConfig>): ResolvedWorkerOptions {
  const concurrency = positiveInt(options.concurrency ?? D.CONCURRENCY_DEFAULT, "concurrency");
  const leaseMs = duration(options.leaseDuration, D.LEASE_DURATION_DEFAULT_MS, "leaseDuration", 100);
  const retention = options.retention === false ? false : resolveRetention(options.retention ?? {});
  const only = options.onlyQueues;
  if (only) {
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
    if (typeof queue.handler !== "function") {
      throw new SidetrackValidationError(`queue "${name}": handler must be a function`, name, "handler");
    }
    runnable.set(name, {
      name,
      handler: queue.handler,
      concurrency: queue.concurrency === undefined ? concurrency : positiveInt(queue.concurrency, `queue "${name}" concurrency`),
      timeoutMs: queue.timeout === undefined ? undefined : duration(queue.timeout, 0, `queue "${name}" timeout`, 1),
      backoff: resolveBackoff(name, queue.backoff),
    });
  }
  return {
    workerId: options.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`,
    concurrency,
    pollIntervalMs: duration(options.pollInterval, D.POLL_INTERVAL_DEFAULT_MS, "pollInterval", 10),
    leaseMs,
    rescueIntervalMs: duration(options.rescueInterval, D.RESCUE_INTERVAL_DEFAULT_MS, "rescueInterval", 10),
    shutdownGraceMs: duration(options.shutdownGrace, D.SHUTDOWN_GRACE_DEFAULT_MS, "shutdownGrace", 0),
    pruneIntervalMs: D.PRUNE_INTERVAL_DEFAULT_MS,
    retention,
    handleSignals: options.handleSignals ?? true,
    logger: options.logger ?? defaultLogger,
    queues: runnable,
  };
}

function resolveRetention(r: RetentionOptions): RetentionMs {
  return {
    completedMs: duration(r.completed, D.RETENTION_COMPLETED_DEFAULT_MS, "retention.completed", 0),
    failedMs: duration(r.failed, D.RETENTION_FAILED_DEFAULT_MS, "retention.failed", 0),
    cancelledMs: duration(r.cancelled, D.RETENTION_CANCELLED_DEFAULT_MS, "retention.cancelled", 0),
  };
}

function resolveBackoff(queue: string, backoff: QueueOptions["backoff"]): BackoffSettings {
  return {
    baseMs: duration(backoff?.base, D.BACKOFF_BASE_DEFAULT_MS, `queue "${queue}" backoff.base`, 0),
    maxMs: duration(backoff?.max, D.BACKOFF_MAX_DEFAULT_MS, `queue "${queue}" backoff.max`, 0),
  };
}

function duration(value: Duration | undefined, fallback: number, field: string, min: number): number {
  if (value === undefined) return fallback;
  const ms = parseDuration(value, field);
  if (ms < min) throw new SidetrackValidationError(`${field} must be at least ${min}ms, got ${ms}ms`);
  return ms;
}

function positiveInt(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new SidetrackValidationError(`${field} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

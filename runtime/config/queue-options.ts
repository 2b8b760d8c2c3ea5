import type { Duration } from "./duration.js";
import type { OnDuplicate } from "./queue-rules.js";
import type { StandardSchemaV1 } from "../types.js";

/** A recurring schedule declared on a queue. */
export interface CronOptions<Payload = unknown> {
  /** Five fields (minute hour day month weekday) or six (with seconds first). */
  schedule: string;
  /** IANA timezone the schedule is read in. Default UTC. */
  timezone?: string;
  /** Payload of each job the schedule inserts. */
  payload?: Payload;
}

/** Per-queue settings: the same in `sidetrack.queues.ts` and in `new Sidetrack({ queues })`. */
export interface QueueOptions<Payload = unknown> {
  /** Attempts before the job ends `failed`. Default 25. */
  maxAttempts?: number;
  /** Lower runs first. Default 0. */
  priority?: number;
  /** Per-attempt time limit; the handler's signal aborts and the attempt fails. Default: none. */
  timeout?: Duration;
  /** Most jobs of this queue running at once in one worker process. Default: the process limit. */
  concurrency?: number;
  /** Payload fields whose values make the unique key: at most one live job per combination. */
  uniqueBy?: readonly (keyof Payload & string)[];
  /** Most jobs of this queue running at once across all workers, enforced in the claim. Default: no limit. */
  globalConcurrency?: number;
  /** Payload fields whose values make the concurrency key, computed at insert (like `uniqueBy`). */
  concurrencyBy?: readonly (keyof Payload & string)[];
  /** With `concurrencyBy`: most running jobs per key value across all workers. Default 1. */
  concurrencyPerKey?: number;
  /** At most `limit` job starts within any window of `per` (a sliding window), across all workers. */
  rateLimit?: { limit: number; per: Duration };
  /** Retry backoff for this queue (see defaults.ts for the formula). */
  backoff?: { base?: Duration; max?: Duration };
  /** Insert a job on a schedule. */
  cron?: CronOptions<Payload>;
  /** Times a handler may snooze one job; the next snooze fails it. Default 100. */
  maxSnoozes?: number;
  /** Largest output stored, in bytes of JSON; a larger one fails the attempt. Default 256 KiB. */
  maxOutputBytes?: number;
  /** What a duplicate insert (same unique key as a live job) does: "keep" (default), "replace" or "extend" (docs/unique.md). */
  onDuplicate?: OnDuplicate;
  /** Hold the unique key this long after insert, whatever the job's state (throttle). */
  uniqueFor?: Duration;
}

/** The typed marker `queue<Payload, Output>(options)` returns inside `defineQueues`. */
export interface QueueDefinition<Payload = unknown, Output = unknown> {
  readonly options: QueueOptions<Payload>;
  /** Never set at run time; carries the payload type for inference. */
  readonly __payload?: Payload;
  /** Never set at run time; carries the handler's output type. */
  readonly __output?: Output;
}

/**
 * Declares one queue and its payload type. Read statically by `sidetrack generate`. With a Standard
 * Schema (`queue({ schema: Signup })`, Signup exported by a module of its own) the payload type is
 * the schema's output, and the generated client validates inserts with the schema.
 */
export function queue<Schema extends StandardSchemaV1>(
  options: QueueOptions<StandardSchemaV1.InferOutput<Schema>> & { schema: Schema },
): QueueDefinition<StandardSchemaV1.InferOutput<Schema>>;
export function queue<Payload, Output = unknown>(options?: QueueOptions<Payload>): QueueDefinition<Payload, Output>;
export function queue(options: QueueOptions<any> = {}): QueueDefinition<any> {
  return { options };
}

/** The default export of `sidetrack.queues.ts`. */
export function defineQueues<const Q extends Record<string, QueueDefinition<any, any>>>(queues: Q): Q {
  return queues;
}

/** Payload types of a `defineQueues` result, by queue name. */
export type PayloadsOf<Q> = { [K in keyof Q]: Q[K] extends QueueDefinition<infer P> ? P : never };

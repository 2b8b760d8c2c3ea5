import { toSidetrackError } from "../db/driver-errors.js";
import type { DbClient } from "../db/clients.js";
import { MAX_ATTEMPTS_DEFAULT, MAX_PAYLOAD_BYTES_DEFAULT, PRIORITY_DEFAULT } from "../config/defaults.js";
import { parseDuration, type Duration } from "../config/duration.js";
import { SidetrackValidationError } from "../errors.js";
import { jobsChannel } from "../config/identifiers.js";
import { parseJob } from "../db/rows.js";
import { MAX_INT } from "../config/queue-rules.js";
import type { InsertedJob, Job } from "../types.js";
import { assertJsonPayload, checkText } from "./payload.js";
import type { QueueOptions } from "../config/queue-options.js";
import { insertJobsSql } from "../db/sql/insertJobs.js";

/** Options of one insert. Anything unset falls back to the queue's options, then to the defaults. */
export interface InsertOptions {
  /** Do not run before this time. */
  runAt?: Date;
  /** The original API's name for `runAt`. */
  scheduledAt?: Date;
  /** Do not run before now + delay (ms or "30s"), measured by the database clock. */
  delay?: Duration;
  priority?: number;
  maxAttempts?: number;
  /** At most one scheduled/running/retrying job per (queue, uniqueKey); a duplicate returns the existing job. */
  uniqueKey?: string;
}

/** One validated row, in the shape `insertJobsSql` reads. */
export interface InsertRow {
  queue: string;
  payload: unknown;
  /** The payload's JSON, made once while checking its size and reused in the statement. */
  payloadJson: string;
  priority: number;
  run_at: string | null;
  delay_ms: number | null;
  max_attempts: number;
  unique_key: string | null;
  /** From the queue's `concurrencyBy` fields; null when it has none. */
  concurrency_key: string | null;
}

export interface InsertLimits {
  maxPayloadBytes?: number;
}

/** Unique keys live in a btree index, whose entries must stay well under 2.7 kB. */
const MAX_UNIQUE_KEY_BYTES = 1024;
/** Dates PostgreSQL and JavaScript both represent, and delays that stay inside them. */
const EARLIEST_RUN_AT = Date.UTC(1, 0, 1);
const LATEST_RUN_AT = Date.UTC(9999, 11, 31);
const MAX_DELAY_MS = 100 * 365 * 86_400_000;

/**
 * Validates one insert and resolves its defaults. Throws SidetrackValidationError naming the
 * queue and the option or property; nothing is sent to the database before every row passed.
 */
export function prepareInsert(
  queue: string,
  payload: unknown,
  options: InsertOptions = {},
  queueOptions: QueueOptions<any> = {},
  limits: InsertLimits = {},
): InsertRow {
  const fail = (path: string, message: string): never => {
    throw new SidetrackValidationError(`queue "${queue}": ${path} ${message}`, queue, path);
  };
  if (options === null || typeof options !== "object") fail("options", "must be an object");
  assertJsonPayload(payload, queue);
  const maxBytes = limits.maxPayloadBytes ?? MAX_PAYLOAD_BYTES_DEFAULT;
  const payloadJson = JSON.stringify(payload);
  const bytes = Buffer.byteLength(payloadJson, "utf8");
  if (bytes > maxBytes) fail("payload", `is ${bytes} bytes of JSON, over the limit of ${maxBytes} (maxPayloadBytes)`);

  if (options.runAt !== undefined && options.scheduledAt !== undefined) {
    fail("options", "sets both runAt and scheduledAt; use one");
  }
  const runAtOption = options.runAt !== undefined ? "runAt" : "scheduledAt";
  const runAt = options.runAt ?? options.scheduledAt;
  if (runAt !== undefined && !(runAt instanceof Date && Number.isFinite(runAt.getTime()))) {
    fail(`options.${runAtOption}`, `must be a valid Date, got ${describe(runAt)}`);
  }
  if (runAt !== undefined && (runAt.getTime() < EARLIEST_RUN_AT || runAt.getTime() > LATEST_RUN_AT)) {
    fail(`options.${runAtOption}`, `must be between the years 1 and 9999, got ${runAt.toISOString()}`);
  }
  if (runAt !== undefined && options.delay !== undefined) fail("options", `sets both ${runAtOption} and delay; use one`);
  let delayMs: number | null = null;
  if (options.delay !== undefined) {
    if (typeof options.delay === "number" && options.delay < 0) fail("options.delay", `must not be negative, got ${options.delay}`);
    try {
      delayMs = parseDuration(options.delay, "options.delay");
    } catch (error) {
      fail("options.delay", (error as Error).message.replace(/^options\.delay /, ""));
    }
    if (delayMs! > MAX_DELAY_MS) fail("options.delay", `must be at most 100 years, got ${delayMs}ms`);
  }

  const priority = options.priority ?? queueOptions.priority ?? PRIORITY_DEFAULT;
  if (!Number.isInteger(priority) || Math.abs(priority) > MAX_INT) fail("options.priority", `must be an integer, got ${describe(priority)}`);
  const maxAttempts = options.maxAttempts ?? queueOptions.maxAttempts ?? MAX_ATTEMPTS_DEFAULT;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > MAX_INT) {
    fail("options.maxAttempts", `must be an integer of at least 1, got ${describe(maxAttempts)}`);
  }

  let uniqueKey: string | null = null;
  if (options.uniqueKey !== undefined) {
    if (typeof options.uniqueKey !== "string" || options.uniqueKey.length === 0) {
      fail("options.uniqueKey", `must be a non-empty string, got ${describe(options.uniqueKey)}`);
    }
    uniqueKey = options.uniqueKey;
  } else if (queueOptions.uniqueBy && queueOptions.uniqueBy.length > 0) {
    uniqueKey = uniqueKeyFromPayload(queue, queueOptions.uniqueBy, payload);
  }
  if (uniqueKey !== null) {
    checkText(uniqueKey, "options.uniqueKey", queue);
    const keyBytes = Buffer.byteLength(uniqueKey, "utf8");
    if (keyBytes > MAX_UNIQUE_KEY_BYTES) fail("options.uniqueKey", `is ${keyBytes} bytes, over the limit of ${MAX_UNIQUE_KEY_BYTES}`);
  }

  // The per-key concurrency key: the same derivation as a uniqueBy key, in its own column.
  const concurrencyKey = queueOptions.concurrencyBy && queueOptions.concurrencyBy.length > 0
    ? uniqueKeyFromPayload(queue, queueOptions.concurrencyBy, payload, "concurrencyBy")
    : null;

  return {
    queue,
    payload,
    payloadJson,
    priority,
    run_at: runAt ? runAt.toISOString() : null,
    delay_ms: delayMs,
    max_attempts: maxAttempts,
    unique_key: uniqueKey,
    concurrency_key: concurrencyKey,
  };
}

/** The unique key `uniqueBy: ["a", "b"]` derives: the JSON of the fields' values, in declaration order. */
export function uniqueKeyFromPayload(queue: string, fields: readonly string[], payload: unknown, option = "uniqueBy"): string {
  const record = (payload ?? {}) as Record<string, unknown>;
  const values = fields.map((field) => {
    if (typeof payload !== "object" || payload === null || !(field in record)) {
      throw new SidetrackValidationError(
        `queue "${queue}": payload.${field} is required because the queue is ${option} ${JSON.stringify(fields)}`,
        queue,
        `payload.${field}`,
      );
    }
    return record[field];
  });
  return JSON.stringify(values);
}

/**
 * Inserts validated rows in one round trip. Returns one job per row, in the rows' order;
 * a row whose unique key matched a live job (or an earlier row of the batch) gets that job
 * with `duplicate: true`.
 */
export async function insertRows<P = unknown>(db: DbClient, schema: string, rows: InsertRow[]): Promise<InsertedJob<P>[]> {
  if (rows.length === 0) return [];
  const plainQueues = [...new Set(rows.filter((r) => r.unique_key === null).map((r) => r.queue))];
  let result: ResultRow[];
  try {
    result = await db.query<ResultRow>(
      insertJobsSql(schema),
      [statementInput(rows), jobsChannel(schema), JSON.stringify(plainQueues)],
      `sidetrack_insert_${schema}`,
    );
  } catch (error) {
    // Inserting before migrating, or into an unreachable server: said as Sidetrack errors.
    throw toSidetrackError(error, {}, schema);
  }

  const byKey = new Map<string, { job: Job; inserted: boolean }>();
  const plain: ResultRow[] = [];
  for (const r of result) {
    if (r.job === null) {
      plain.push(r);
    } else {
      const job = parseJob(r.job);
      byKey.set(keyOf(job.queue, job.uniqueKey!), { job, inserted: r.inserted });
    }
  }
  // Ids ascend with the input order, which is also the order PostgreSQL returns them in
  // practice; sort only if it did not (a linear check instead of an n·log n sort).
  if (!isSortedById(plain)) plain.sort((a, b) => compareIds(a.id!, b.id!));

  const claimed = new Set<string>();
  let next = 0;
  return rows.map((row) => {
    if (row.unique_key === null) {
      const r = plain[next++];
      if (!r) throw new Error("sidetrack: insert returned fewer rows than it was given");
      return newJob<P>(row, r);
    }
    const key = keyOf(row.queue, row.unique_key);
    const found = byKey.get(key);
    if (!found) throw new Error(`sidetrack: insert returned no job for unique key ${row.unique_key}`);
    const duplicate = !found.inserted || claimed.has(key);
    claimed.add(key);
    return { ...(found.job as Job<P>), duplicate };
  });
}

interface ResultRow {
  id: string | null;
  run_at_ms: number | string | null;
  inserted_at_ms: number | string | null;
  job: string | null;
  inserted: boolean;
}

/** The JSON array the statement reads, assembled from each row's payload JSON made earlier. */
function statementInput(rows: InsertRow[]): string {
  const parts = rows.map(
    (row, i) =>
      `{"i":${i},"queue":${JSON.stringify(row.queue)},"payload":${row.payloadJson},"priority":${row.priority},` +
      `"run_at":${JSON.stringify(row.run_at)},"delay_ms":${row.delay_ms},"max_attempts":${row.max_attempts},` +
      `"unique_key":${JSON.stringify(row.unique_key)},"concurrency_key":${JSON.stringify(row.concurrency_key)}}`,
  );
  return `[${parts.join(",")}]`;
}

/** A freshly inserted job: everything but id and times is what we sent. */
function newJob<P>(row: InsertRow, r: ResultRow): InsertedJob<P> {
  return {
    id: r.id!,
    queue: row.queue,
    payload: JSON.parse(row.payloadJson) as P,
    status: "scheduled",
    priority: row.priority,
    attempt: 0,
    maxAttempts: row.max_attempts,
    runAt: new Date(Number(r.run_at_ms)),
    insertedAt: new Date(Number(r.inserted_at_ms)),
    startedAt: null,
    completedAt: null,
    failedAt: null,
    cancelledAt: null,
    finalizedAt: null,
    lockedBy: null,
    lockedUntil: null,
    errors: [],
    uniqueKey: null,
    duplicate: false,
  };
}

function isSortedById(rows: readonly ResultRow[]): boolean {
  for (let i = 1; i < rows.length; i++) if (compareIds(rows[i - 1]!.id!, rows[i]!.id!) > 0) return false;
  return true;
}

/** Orders decimal id strings numerically without BigInt. */
function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

function keyOf(queue: string, key: string): string {
  return `${queue}\u0000${key}`;
}

function describe(value: unknown): string {
  if (value instanceof Date) return "Invalid Date";
  if (typeof value === "string") return JSON.stringify(value);
  return String(value);
}

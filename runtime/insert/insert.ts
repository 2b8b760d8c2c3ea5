import { toSidetrackError } from "../db/driver-errors.js";
import type { DbClient } from "../db/clients.js";
import { COPY_THRESHOLD_ROWS, MAX_ATTEMPTS_DEFAULT, MAX_PAYLOAD_BYTES_DEFAULT, PRIORITY_DEFAULT } from "../config/defaults.js";
import { parseDuration, type Duration } from "../config/duration.js";
import { SidetrackValidationError } from "../errors.js";
import { jobsChannel, jobsTableName } from "../config/identifiers.js";
import { StatementNames } from "../db/statement-names.js";
import { parseJob } from "../db/rows.js";
import { MAX_INT, onDuplicateProblem, type OnDuplicate } from "../config/queue-rules.js";
import { LIVE_STATUSES, type InsertedJob, type Job } from "../types.js";
import { assertJsonPayload, assertJsonValue, checkText } from "./payload.js";
import type { QueueOptions } from "../config/queue-options.js";
import { insertJobsSql, insertPlainJobsSql, releaseUniqueKeySql } from "../db/sql/insertJobs.js";
import { copiedRunAtMs, copyPlainRows, type CopiedRows } from "./copy.js";
import { countJobs } from "../telemetry/metrics.js";
import { loadOtel, otelSettled } from "../telemetry/otel.js";
import { endProducer, startProducer, TRACE_META_KEY, withProducer } from "../telemetry/tracing.js";

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
  /** Labels to find the job by (`listJobs({ tag })`): at most 20, each 1 to 100 characters. */
  tags?: readonly string[];
  /** Your data about the job: a JSON-safe object, at most 16 KiB. Keys starting with "sidetrack." are reserved. */
  meta?: Record<string, unknown>;
  /** What this insert does when its unique key matches a live job; default the queue's, else "keep" (docs/unique.md). */
  onDuplicate?: OnDuplicate;
  /** Hold the unique key this long after insert, whatever the job's state (throttle); default the queue's. */
  uniqueFor?: Duration;
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
  tags: string[] | null;
  /** The meta's JSON, or null. */
  metaJson: string | null;
  on_duplicate: OnDuplicate;
  unique_for_ms: number | null;
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
/** Tags are for filtering, not storage: a few short labels per job keep the tag index small. */
export const MAX_TAGS = 20;
export const MAX_TAG_LENGTH = 100;
/** Meta is read with every job: keep it small (payloads carry the work's data). */
export const MAX_META_BYTES = 16 * 1024;
/** Meta keys under this prefix are Sidetrack's own (trace context and other telemetry). */
export const RESERVED_META_PREFIX = "sidetrack.";

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
  // A UTF-16 code unit is at most 3 bytes of UTF-8: only JSON longer than a third of the limit
  // can be over it, so only such JSON is counted.
  if (payloadJson.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(payloadJson, "utf8");
    if (bytes > maxBytes) fail("payload", `is ${bytes} bytes of JSON, over the limit of ${maxBytes} (maxPayloadBytes)`);
  }

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

  const onDuplicate = options.onDuplicate ?? queueOptions.onDuplicate ?? "keep";
  if (onDuplicateProblem(onDuplicate)) fail("options.onDuplicate", onDuplicateProblem(onDuplicate)!);
  let uniqueForMs: number | null = null;
  const uniqueFor = options.uniqueFor ?? queueOptions.uniqueFor;
  if (uniqueFor !== undefined) {
    try {
      uniqueForMs = parseDuration(uniqueFor, "options.uniqueFor");
    } catch (error) {
      fail("options.uniqueFor", (error as Error).message.replace(/^options\.uniqueFor /, ""));
    }
    if (uniqueForMs! > MAX_DELAY_MS) fail("options.uniqueFor", `must be at most 100 years, got ${uniqueForMs}ms`);
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
    tags: options.tags === undefined ? null : checkTags(queue, options.tags, fail),
    metaJson: options.meta === undefined ? null : checkMeta(queue, options.meta, fail),
    on_duplicate: onDuplicate,
    unique_for_ms: uniqueKey === null ? null : uniqueForMs,
    concurrency_key: concurrencyKey,
  };
}

function checkTags(queue: string, tags: unknown, fail: (path: string, message: string) => never): string[] {
  if (!Array.isArray(tags)) return fail("options.tags", `must be an array of strings, got ${describe(tags)}`);
  if (tags.length > MAX_TAGS) fail("options.tags", `has ${tags.length} tags, over the limit of ${MAX_TAGS}`);
  tags.forEach((tag, i) => {
    if (typeof tag !== "string" || tag.length === 0 || tag.length > MAX_TAG_LENGTH) {
      fail(`options.tags[${i}]`, `must be a string of 1 to ${MAX_TAG_LENGTH} characters, got ${describe(tag)}`);
    }
    checkText(tag, `options.tags[${i}]`, queue);
  });
  return [...tags] as string[];
}

function checkMeta(queue: string, meta: unknown, fail: (path: string, message: string) => never): string {
  if (meta === null || typeof meta !== "object" || Array.isArray(meta)) return fail("options.meta", `must be a plain object, got ${describe(meta)}`);
  assertJsonValue(meta, queue, "options.meta");
  const reserved = Object.keys(meta).find((key) => key.startsWith(RESERVED_META_PREFIX));
  if (reserved !== undefined) fail(`options.meta`, `key ${JSON.stringify(reserved)} starts with "${RESERVED_META_PREFIX}", which is reserved for Sidetrack`);
  const json = JSON.stringify(meta);
  const bytes = Buffer.byteLength(json, "utf8");
  if (bytes > MAX_META_BYTES) fail("options.meta", `is ${bytes} bytes of JSON, over the limit of ${MAX_META_BYTES}`);
  return json;
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
 * with `duplicate: true` (and `updated: true` when its onDuplicate changed it).
 *
 * Rows sharing a key are collapsed here, in order, before the statement sees them: "keep" leaves
 * the earlier row, "replace" takes the later row whole, "extend" takes its run_at (or delay). The
 * last row's onDuplicate decides what happens to a job already holding the key.
 */
export async function insertRows<P = unknown>(db: DbClient, schema: string, rows: InsertRow[]): Promise<InsertedJob<P>[]> {
  if (rows.length === 0) return [];
  if (!otelSettled()) await loadOtel();
  const producer = startProducer(rows[0]!.queue, rows.length);
  if (!producer) return counted(await writeRows<P>(db, schema, rows));
  // The insert's trace context rides in each job's meta, under the reserved key.
  for (const row of rows) {
    const meta = row.metaJson === null ? {} : (JSON.parse(row.metaJson) as Record<string, unknown>);
    row.metaJson = JSON.stringify({ ...meta, [TRACE_META_KEY]: producer.trace });
  }
  try {
    const jobs = await withProducer(producer, () => writeRows<P>(db, schema, rows));
    endProducer(producer, jobs.map((j) => j.id));
    return counted(jobs);
  } catch (error) {
    endProducer(producer, undefined, error);
    throw error;
  }
}

/** Counts the jobs an insert created (not the duplicates it found) for the metrics. */
function counted<P>(jobs: InsertedJob<P>[]): InsertedJob<P>[] {
  let queue = jobs[0]?.queue;
  let n = 0;
  for (const job of jobs) {
    if (job.duplicate) continue;
    if (job.queue !== queue) {
      countJobs("inserted", queue!, n);
      queue = job.queue;
      n = 0;
    }
    n++;
  }
  if (queue !== undefined) countJobs("inserted", queue, n);
  return jobs;
}

async function writeRows<P>(db: DbClient, schema: string, rows: InsertRow[]): Promise<InsertedJob<P>[]> {
  if (rows.length >= COPY_THRESHOLD_ROWS && db.withConnection && rows.every((r) => r.unique_key === null)) {
    // Large batches of plain jobs: COPY (insert/copy.ts), which returns ids and now(), not rows.
    const jobs = new Array<InsertedJob<P>>(rows.length);
    const build = (i: number, id: string, nowUs: number) => {
      jobs[i] = newJob<P>(rows[i]!, id, copiedRunAtMs(rows[i]!, nowUs), Math.floor(nowUs / 1000));
    };
    let copied: CopiedRows | null;
    try {
      copied = await db.withConnection((client) => copyPlainRows(client, schema, rows, build));
    } catch (error) {
      throw toSidetrackError(error, {}, schema);
    }
    if (copied) return jobs;
  }
  const { statementRows, updatedInBatch } = collapseDuplicates(rows);
  let byKey = await runInsert(db, schema, statementRows);
  // "replace" on a running job: that job is left to finish; the key is moved off it so a new job
  // can take it (the partial unique index allows one live row per key). Bounded: each pass moves
  // the key off a job that started since the previous one.
  for (let pass = 0; pass < 3; pass++) {
    const blocked = statementRows.filter((row) => {
      if (row.unique_key === null || row.on_duplicate !== "replace") return false;
      const found = byKey.get(keyOf(row.queue, row.unique_key));
      return found !== undefined && !found.inserted && found.job.status === "running";
    });
    if (blocked.length === 0) break;
    for (const row of blocked) {
      const running = byKey.get(keyOf(row.queue, row.unique_key!))!.job;
      await db.query(releaseUniqueKeySql(schema), [running.id, running.unique_key_raw]);
    }
    const again = await runInsert(db, schema, blocked);
    for (const [key, value] of again) if (key !== PLAIN) byKey.set(key, { ...value, inserted: true, replacedRunning: true });
  }

  const claimed = new Set<string>();
  let next = 0;
  const plain = byKey.get(PLAIN)!.plain!;
  return rows.map((row, index) => {
    if (row.unique_key === null) {
      const r = plain[next++];
      if (!r) throw new Error("sidetrack: insert returned fewer rows than it was given");
      return newJob<P>(row, r.id!, Number(r.run_at_ms), Number(r.inserted_at_ms));
    }
    const key = keyOf(row.queue, row.unique_key);
    const found = byKey.get(key);
    if (!found) throw new Error(`sidetrack: insert returned no job for unique key ${row.unique_key}`);
    const first = !claimed.has(key);
    claimed.add(key);
    const duplicate = !first || !found.inserted || found.replacedRunning === true;
    const { unique_key_raw: _, ...job } = found.job;
    const updated =
      (first && !found.inserted && row.on_duplicate !== "keep" && job.status !== "running" && found.matchedLive) ||
      (first && found.replacedRunning === true) ||
      updatedInBatch.has(index);
    return { ...(job as Job<P>), duplicate, updated };
  });
}

const PLAIN = "\u0000plain";

interface Found {
  job: Job & { unique_key_raw: string | null };
  inserted: boolean;
  /** The key matched a live job (not one held by uniqueFor after it finished). */
  matchedLive: boolean;
  replacedRunning?: boolean;
  plain?: ResultRow[];
}

/**
 * The keyed insert's statement names, per schema, for the whole process: every connection that
 * inserts into a schema sees the same table (db/statement-names.ts).
 */
const keyedInserts = new Map<string, StatementNames>();
function keyedInsertNames(schema: string): StatementNames {
  let names = keyedInserts.get(schema);
  if (!names) keyedInserts.set(schema, (names = new StatementNames(schema, true)));
  return names;
}

async function runInsert(db: DbClient, schema: string, rows: InsertRow[]): Promise<Map<string, Found>> {
  const plainQueues = [...new Set(rows.filter((r) => r.unique_key === null).map((r) => r.queue))];
  const keyed = rows.some((r) => r.unique_key !== null);
  let result: ResultRow[];
  try {
    // The plain statement reads nothing from the table, so its plan does not depend on its size.
    result = keyed
      ? await db.query<ResultRow>(
          insertJobsSql(schema),
          [statementInput(rows), jobsChannel(schema), JSON.stringify(plainQueues), jobsTableName(schema)],
          keyedInsertNames(schema).of("insert"),
        )
      : await db.query<ResultRow>(
          insertPlainJobsSql(schema),
          [statementInput(rows), jobsChannel(schema), JSON.stringify(plainQueues)],
          `sidetrack_insert_plain_${schema}`,
        );
  } catch (error) {
    // Inserting before migrating, or into an unreachable server: said as Sidetrack errors.
    throw toSidetrackError(error, {}, schema);
  }
  const byKey = new Map<string, Found>();
  const plain: ResultRow[] = [];
  for (const r of result) {
    if (r.jobs_table_bytes != null) {
      keyedInsertNames(schema).observeTableBytes(Number(r.jobs_table_bytes));
    } else if (r.job === null) {
      plain.push(r);
    } else {
      const job = parseJob(r.job);
      const live = (LIVE_STATUSES as readonly string[]).includes(job.status);
      byKey.set(keyOf(job.queue, job.uniqueKey!), { job: { ...job, unique_key_raw: job.uniqueKey }, inserted: r.inserted, matchedLive: live });
    }
  }
  // Ids ascend with the input order, which is also the order PostgreSQL returns them in
  // practice; sort only if it did not (a linear check instead of an n·log n sort).
  if (!isSortedById(plain)) plain.sort((a, b) => compareIds(a.id!, b.id!));
  byKey.set(PLAIN, { plain } as Found);
  return byKey;
}

/** One row per key, in-batch duplicates applied in order; the indexes of rows that updated an earlier one. */
function collapseDuplicates(rows: InsertRow[]): { statementRows: InsertRow[]; updatedInBatch: Set<number> } {
  const updatedInBatch = new Set<number>();
  if (!rows.some((r) => r.unique_key !== null)) return { statementRows: rows, updatedInBatch };
  const byKey = new Map<string, number>();
  const statementRows: InsertRow[] = [];
  rows.forEach((row, index) => {
    if (row.unique_key === null) return void statementRows.push(row);
    const key = keyOf(row.queue, row.unique_key);
    const at = byKey.get(key);
    if (at === undefined) {
      byKey.set(key, statementRows.length);
      statementRows.push(row);
      return;
    }
    const earlier = statementRows[at]!;
    if (row.on_duplicate === "replace") {
      statementRows[at] = { ...row, unique_for_ms: earlier.unique_for_ms ?? row.unique_for_ms };
      updatedInBatch.add(index);
    } else if (row.on_duplicate === "extend") {
      statementRows[at] = { ...earlier, run_at: row.run_at, delay_ms: row.delay_ms, on_duplicate: "extend" };
      updatedInBatch.add(index);
    } else {
      statementRows[at] = { ...earlier, on_duplicate: row.on_duplicate };
    }
  });
  return { statementRows, updatedInBatch };
}

interface ResultRow {
  id: string | null;
  run_at_ms: number | string | null;
  inserted_at_ms: number | string | null;
  job: string | null;
  inserted: boolean;
  /** Only in the keyed statement's last row (insertJobsSql). */
  jobs_table_bytes?: number | string | null;
}

/** The JSON array the statement reads, assembled from each row's payload JSON made earlier. */
function statementInput(rows: InsertRow[]): string {
  const parts = rows.map(
    (row, i) =>
      `{"i":${i},"queue":${JSON.stringify(row.queue)},"payload":${row.payloadJson},"priority":${row.priority},` +
      `"run_at":${JSON.stringify(row.run_at)},"delay_ms":${row.delay_ms},"max_attempts":${row.max_attempts},` +
      `"unique_key":${JSON.stringify(row.unique_key)},"tags":${JSON.stringify(row.tags)},"meta":${row.metaJson ?? "null"},` +
      `"on_duplicate":"${row.on_duplicate}","unique_for_ms":${row.unique_for_ms},"concurrency_key":${JSON.stringify(row.concurrency_key)}}`,
  );
  return `[${parts.join(",")}]`;
}

/** A freshly inserted job: everything but id and times is what we sent. */
function newJob<P>(row: InsertRow, id: string, runAtMs: number, insertedAtMs: number): InsertedJob<P> {
  return {
    id,
    queue: row.queue,
    payload: JSON.parse(row.payloadJson) as P,
    status: "scheduled",
    priority: row.priority,
    attempt: 0,
    maxAttempts: row.max_attempts,
    runAt: new Date(runAtMs),
    insertedAt: new Date(insertedAtMs),
    startedAt: null,
    completedAt: null,
    failedAt: null,
    cancelledAt: null,
    finalizedAt: null,
    lockedBy: null,
    lockedUntil: null,
    errors: [],
    uniqueKey: null,
    output: null,
    progress: null,
    snoozes: 0,
    tags: row.tags ?? [],
    meta: row.metaJson === null ? null : (JSON.parse(row.metaJson) as Record<string, unknown>),
    duplicate: false,
    updated: false,
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

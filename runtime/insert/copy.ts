// Large batches of plain jobs (no unique key) through COPY straight into the jobs table, instead
// of one statement parsing the whole batch out of a single JSON parameter. One statement first
// takes the batch's ids from the table's identity sequence and reads the transaction's now();
// with them this side knows every job's id, run_at and inserted_at without the database sending
// every row back. Same rows, same ids in the same order, same NOTIFY at commit, inside the
// caller's transaction when it gives one.
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { COPY_BATCH_ROWS } from "../config/defaults.js";
import { jobsChannel, jobsTableName } from "../config/identifiers.js";
import { copyJobsSql, reserveJobIdsSql } from "../db/sql/copyInsert.js";
import { beginSql, commitSql, rollbackSql } from "../db/sql/transactions.js";
import type { InsertRow } from "./insert.js";

/** What the database decided for a COPYed batch: each job's id, in input order, and now(). */
export interface CopiedRows {
  ids: string[];
  /** The transaction's now() in microseconds since the epoch: every job's inserted_at. */
  nowUs: number;
}

interface IdRun {
  first_id: string;
  n: number;
  now_us: string;
}

/**
 * COPYs `rows` (all without a unique key) on `client`, calling `each` with every row's index, id
 * and now() on the way; returns their ids in order and now(). Null when this role may not take
 * ids from the sequence (reserveJobIdsSql): nothing was written, and the caller inserts the rows
 * with the single statement instead.
 */
export async function copyPlainRows(
  client: pg.ClientBase,
  schema: string,
  rows: readonly InsertRow[],
  each: (index: number, id: string, nowUs: number) => void,
): Promise<CopiedRows | null> {
  const queues = [...new Set(rows.map((r) => r.queue))];
  const own = (client as pg.Client).getTransactionStatus?.() !== "T";
  if (own) await client.query(beginSql);
  try {
    const { rows: runs } = await client.query<IdRun>(reserveJobIdsSql, [jobsChannel(schema), rows.length, queues, jobsTableName(schema)]);
    if (runs.length === 0) {
      if (own) await client.query(commitSql);
      return null;
    }
    const ids = expandIds(runs, rows.length);
    const nowUs = Number(runs[0]!.now_us);
    await pipeline(Readable.from(copyLines(rows, ids, nowUs, each)), client.query(copyFrom(copyJobsSql(schema))));
    if (own) await client.query(commitSql);
    return { ids, nowUs };
  } catch (error) {
    if (own) await client.query(rollbackSql).catch(() => undefined);
    throw error;
  }
}

/** A COPYed job's run_at in whole milliseconds: its runAt, else now() plus its delay (whole milliseconds). */
export function copiedRunAtMs(row: InsertRow, nowUs: number): number {
  return row.run_at !== null ? Date.parse(row.run_at) : Math.floor(nowUs / 1000) + (row.delay_ms ?? 0);
}

/** The ids of runs of consecutive ids, in order, as decimal text. */
function expandIds(runs: readonly IdRun[], count: number): string[] {
  const ids = new Array<string>(count);
  let k = 0;
  for (const run of runs) {
    const first = Number(run.first_id);
    if (Number.isSafeInteger(first + run.n)) {
      for (let j = 0; j < run.n; j++) ids[k++] = String(first + j);
    } else {
      for (let id = BigInt(run.first_id), j = 0; j < run.n; j++, id++) ids[k++] = String(id);
    }
  }
  if (k !== count) throw new Error(`sidetrack: reserved ${k} job ids for ${count} jobs`);
  return ids;
}

/**
 * The rows as COPY text lines (id, queue, payload, priority, max_attempts, run_at, tags, meta,
 * concurrency_key), in chunks of COPY_BATCH_ROWS, calling `each` for every row as its line is
 * made. The stream pulls a chunk when the connection has room for it, so what `each` does (the
 * caller builds its jobs there) runs while the database is still busy with earlier chunks,
 * instead of after the COPY.
 */
function* copyLines(
  rows: readonly InsertRow[],
  ids: readonly string[],
  nowUs: number,
  each: (index: number, id: string, nowUs: number) => void,
): Generator<string> {
  const now = timestampText(nowUs);
  // A batch is usually of one queue: its name is escaped once, not once per row.
  let queue = "";
  let queueText = "";
  let chunk = "";
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (r.queue !== queue) {
      queue = r.queue;
      queueText = copyText(queue);
    }
    const runAt = r.run_at ?? (r.delay_ms === null ? now : timestampText(nowUs + r.delay_ms * 1000));
    const tags = r.tags === null ? "\\N" : copyText(arrayLiteral(r.tags));
    const meta = r.metaJson === null ? "\\N" : copyText(r.metaJson);
    const key = r.concurrency_key === null ? "\\N" : copyText(r.concurrency_key);
    each(i, ids[i]!, nowUs);
    chunk += `${ids[i]}\t${queueText}\t${copyText(r.payloadJson)}\t${r.priority}\t${r.max_attempts}\t${runAt}\t${tags}\t${meta}\t${key}\n`;
    if ((i + 1) % COPY_BATCH_ROWS === 0) {
      yield chunk;
      chunk = "";
    }
  }
  if (chunk) yield chunk;
}

/** Microseconds since the epoch as an ISO 8601 UTC timestamp with all six fractional digits. */
function timestampText(us: number): string {
  const ms = Math.floor(us / 1000);
  return `${new Date(ms).toISOString().slice(0, -1)}${String(us - ms * 1000).padStart(3, "0")}Z`;
}

/** A PostgreSQL text[] literal: every element double-quoted, backslashes and quotes escaped. */
function arrayLiteral(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`).join(",")}}`;
}

const COPY_SPECIAL = /[\\\n\r\t]/;
const COPY_ESCAPES: Record<string, string> = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/**
 * A field of COPY's text format: backslash, newline, carriage return and tab escaped. JSON
 * text has no raw control characters, so most fields pass unchanged after one regex test.
 */
function copyText(text: string): string {
  return COPY_SPECIAL.test(text) ? text.replace(/[\\\n\r\t]/g, (c) => COPY_ESCAPES[c]!) : text;
}

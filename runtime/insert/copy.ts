// Large batches of plain jobs (no unique key) through COPY: the rows stream into a temporary
// staging table as CSV and one INSERT … SELECT moves them into the jobs table, instead of one
// statement parsing the whole batch out of a single JSON parameter. Same rows, same ids in the
// same order, same NOTIFY at commit, inside the caller's transaction when it gives one.
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { COPY_BATCH_ROWS } from "../config/defaults.js";
import { jobsChannel } from "../config/identifiers.js";
import { copyIntoInsertStageSql, createInsertStageSql, emptyInsertStageSql, insertFromStageSql } from "../db/sql/copyInsert.js";
import { beginSql, commitSql, rollbackSql } from "../db/sql/transactions.js";
import type { InsertRow } from "./insert.js";

export interface InsertedRow {
  id: string;
  run_at_ms: number;
  inserted_at_ms: number;
}

/** COPYs `rows` (all without a unique key) on `client`; returns id and times per row, in order. */
export async function copyPlainRows(client: pg.ClientBase, schema: string, rows: readonly InsertRow[]): Promise<InsertedRow[]> {
  // The staging table lives for one transaction: the caller's when there is one, else ours.
  const own = (client as pg.Client).getTransactionStatus?.() !== "T";
  if (own) await client.query(beginSql);
  try {
    await client.query(createInsertStageSql);
    await client.query(emptyInsertStageSql);
    await pipeline(Readable.from(csvLines(rows)), client.query(copyFrom(copyIntoInsertStageSql)));
    const { rows: inserted } = await client.query<InsertedRow>(insertFromStageSql(schema), [jobsChannel(schema)]);
    if (own) await client.query(commitSql);
    return inserted;
  } catch (error) {
    if (own) await client.query(rollbackSql).catch(() => undefined);
    throw error;
  }
}

/** The rows as CSV text, in chunks of COPY_BATCH_ROWS lines. */
function* csvLines(rows: readonly InsertRow[]): Generator<string> {
  let chunk = "";
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const tags = r.tags === null ? "" : csv(arrayLiteral(r.tags));
    const meta = r.metaJson === null ? "" : csv(r.metaJson);
    chunk += `${i},${csv(r.queue)},${csv(r.payloadJson)},${r.priority},${r.run_at ?? ""},${r.delay_ms ?? ""},${r.max_attempts},${tags},${meta},${r.concurrency_key === null ? "" : csv(r.concurrency_key)}\n`;
    if ((i + 1) % COPY_BATCH_ROWS === 0) {
      yield chunk;
      chunk = "";
    }
  }
  if (chunk) yield chunk;
}

/** A PostgreSQL text[] literal: every element double-quoted, backslashes and quotes escaped. */
function arrayLiteral(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`).join(",")}}`;
}

/** A CSV field, always quoted (quotes doubled): an empty string stays a string, not NULL. */
function csv(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}

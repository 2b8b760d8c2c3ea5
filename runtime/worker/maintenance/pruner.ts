import type pg from "pg";
import { pruneJobsSql } from "../../db/sql/pruneJobs.js";

/** Most rows deleted per statement, so one prune never holds many locks at once. */
const PRUNE_BATCH = 10_000;

/** Ages after which finished jobs are deleted, in ms; null keeps that status forever. */
export interface RetentionMs {
  completedMs: number | null;
  failedMs: number | null;
  cancelledMs: number | null;
}

/** Deletes finished jobs past their retention age. Returns how many were deleted. */
export async function pruneJobs(pool: pg.Pool, schema: string, retention: RetentionMs): Promise<number> {
  let total = 0;
  for (;;) {
    const { rows } = await pool.query<{ deleted: number }>(pruneJobsSql(schema), [
      retention.completedMs,
      retention.failedMs,
      retention.cancelledMs,
      PRUNE_BATCH,
    ]);
    const deleted = rows[0]?.deleted ?? 0;
    total += deleted;
    if (deleted < PRUNE_BATCH) return total;
  }
}

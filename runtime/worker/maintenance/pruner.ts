import type pg from "pg";
import { PRUNE_BATCH } from "../../config/defaults.js";
import { pruneJobsSql } from "../../db/sql/pruneJobs.js";
import type { RetentionMs } from "../../config/resolve.js";

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

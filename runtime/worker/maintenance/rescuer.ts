import type pg from "pg";
import { RESCUE_BATCH } from "../../config/defaults.js";
import { jobsChannel } from "../../config/identifiers.js";
import { rescueJobsSql } from "../../db/sql/rescueJobs.js";

export interface Rescued {
  id: string;
  queue: string;
  status: "retrying" | "failed";
  /** `worker-gone`: its worker's liveness session ended (or its heartbeat stopped); else its lease expired. */
  reason: "worker-gone" | "lease-expired";
}

/** When a worker counts as gone (see rescueJobsSql), and who is asking. */
export interface Liveness {
  lockGraceMs: number;
  heartbeatStaleMs: number;
  restartGraceMs: number;
  workerId: string;
}

/**
 * Returns to `retrying` (or `failed`) every job of a worker that is gone and every job whose
 * lease expired, recording the lost attempt. Loops until a round finds fewer than a batch.
 */
export async function rescueJobs(pool: pg.Pool, schema: string, liveness: Liveness): Promise<Rescued[]> {
  const all: Rescued[] = [];
  for (;;) {
    const { rows } = await pool.query<Rescued>(rescueJobsSql(schema), [
      RESCUE_BATCH,
      jobsChannel(schema),
      liveness.lockGraceMs,
      liveness.heartbeatStaleMs,
      liveness.restartGraceMs,
      liveness.workerId,
    ]);
    all.push(...rows);
    if (rows.length < RESCUE_BATCH) return all;
  }
}

import type pg from "pg";
import { RESCUE_BATCH } from "../../config/defaults.js";
import { jobsChannel } from "../../config/identifiers.js";
import { rescueJobsSql } from "../../db/sql/rescueJobs.js";

/** Most jobs rescued per statement; the rescuer loops until none are left. */

export interface Rescued {
  id: string;
  queue: string;
  status: "retrying" | "failed";
}

/** Returns every job whose lease expired to `retrying` (or `failed`), recording the lost attempt. */
export async function rescueExpiredLeases(pool: pg.Pool, schema: string): Promise<Rescued[]> {
  const all: Rescued[] = [];
  for (;;) {
    const { rows } = await pool.query<Rescued>(rescueJobsSql(schema), [RESCUE_BATCH, jobsChannel(schema)]);
    all.push(...rows);
    if (rows.length < RESCUE_BATCH) return all;
  }
}

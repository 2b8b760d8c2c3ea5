import { quoteIdent } from "../../config/identifiers.js";

/**
 * Claims one tick of one schedule: moves next_run_at from the tick read to the next one. Only
 * one transaction can move it from that value, so only one worker inserts the tick's job (in
 * the same transaction). Matches nothing when another worker claimed the tick, or the
 * schedule was deactivated, deleted or re-timezoned meanwhile.
 * $1 id, $2 the tick read, $3 the new next_run_at, $4 the tick a job is inserted for (or null
 * when the claim only skips missed ticks), $5 the timezone the plan was computed in.
 */
export function cronClaimTickSql(schema: string): string {
  return `update ${quoteIdent(schema)}.cron_schedules
set next_run_at = $3::timestamptz,
    last_run_at = coalesce($4::timestamptz, last_run_at),
    updated_at = now()
where id = $1 and next_run_at = $2::timestamptz and active and timezone = $5
returning queue, payload`;
}

import { quoteIdent } from "../../config/identifiers.js";

/**
 * deactivateCronSchedule(): the row lock makes it wait for a tick being fired right now, so
 * once it commits no worker fires the schedule again (their claim re-checks `active`).
 * $1 queue, $2 expression (normalised).
 */
export function cronDeactivateSql(schema: string): string {
  return `update ${quoteIdent(schema)}.cron_schedules set active = false, updated_at = now()
where queue = $1 and expression = $2
returning id::text as id`;
}

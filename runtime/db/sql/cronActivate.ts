import { quoteIdent } from "../../config/identifiers.js";
import { rowJson } from "./fragments.js";

/**
 * `sidetrack cron activate`: makes a deactivated schedule fire again from its next tick (the
 * ticks missed while it was off are not fired). $1 queue, $2 expression (normalised), $3 the
 * next tick computed from now in the schedule's timezone.
 */
export function cronActivateSql(schema: string): string {
  return `update ${quoteIdent(schema)}.cron_schedules c set active = true, next_run_at = $3::timestamptz, updated_at = now()
where c.queue = $1 and c.expression = $2
returning ${rowJson("c")} as schedule`;
}

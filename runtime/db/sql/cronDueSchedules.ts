import { quoteIdent } from "../../config/identifiers.js";

/**
 * The cron service, each round: active schedules of the worker's queues whose next tick is
 * due or comes within the window, and the database's now (every decision uses that clock).
 * $1 the worker's queues, $2 the look-ahead window in ms.
 */
export function cronDueSchedulesSql(schema: string): string {
  return `select id::text as id, queue, expression, timezone, run_missed,
  to_json(next_run_at)#>>'{}' as next_run_at, to_json(now())#>>'{}' as now
from ${quoteIdent(schema)}.cron_schedules
where active and queue = any($1::text[])
  and next_run_at <= now() + $2::bigint * interval '1 millisecond'
order by next_run_at`;
}

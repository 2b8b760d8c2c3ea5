import { quoteIdent } from "../../config/identifiers.js";
import { AFTER_NOTIFIED, LEASED_TO_PARAM_2 } from "./fragments.js";

/**
 * Shutdown: puts jobs this worker is abandoning back to `scheduled` without spending the
 * attempt, so another worker picks them up at once. $1 ids, $2 worker id, $3 jobs channel.
 */
export function returnJobsSql(schema: string): string {
  return `with returned as (
  update ${quoteIdent(schema)}.jobs j
  set status = 'scheduled', attempt = greatest(attempt - 1, 0), locked_by = null, locked_until = null
  where j.id = any($1::bigint[]) and ${LEASED_TO_PARAM_2}
  returning j.id::text, j.queue
), notified as (
  select pg_notify($3, queue) from (select distinct queue from returned) q
)
select id from returned where ${AFTER_NOTIFIED}`;
}

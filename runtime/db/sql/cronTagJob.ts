import { quoteIdent } from "../../config/identifiers.js";

/** Records on a job which schedule and tick inserted it (same transaction as the claim). $1 job id, $2 schedule id, $3 tick. */
export function cronTagJobSql(schema: string): string {
  return `update ${quoteIdent(schema)}.jobs set cron_schedule_id = $2, cron_tick = $3::timestamptz where id = $1`;
}

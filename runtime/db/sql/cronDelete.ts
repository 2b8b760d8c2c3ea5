import { quoteIdent } from "../../config/identifiers.js";

/** deleteCronSchedule(): jobs already inserted stay. $1 queue, $2 expression (normalised). */
export function cronDeleteSql(schema: string): string {
  return `delete from ${quoteIdent(schema)}.cron_schedules where queue = $1 and expression = $2 returning id::text as id`;
}

import { quoteIdent } from "../../config/identifiers.js";
import { rowJson } from "./fragments.js";

/** listCronSchedules(): $1 queue or null for all. */
export function cronListSql(schema: string): string {
  return `select ${rowJson("c")} as schedule from ${quoteIdent(schema)}.cron_schedules c
where $1::text is null or c.queue = $1
order by c.queue, c.expression`;
}

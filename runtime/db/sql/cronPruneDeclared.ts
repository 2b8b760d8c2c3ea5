import { quoteIdent } from "../../config/identifiers.js";

/**
 * start(): deletes declared schedules of this instance's queues that the declaration no longer
 * has (an edited or removed `cron.schedule`). Programmatic schedules are never pruned.
 * $1 every queue of the instance, $2/$3 the declared (queue, expression) pairs as two arrays.
 */
export function cronPruneDeclaredSql(schema: string): string {
  const s = `${quoteIdent(schema)}.cron_schedules`;
  return `delete from ${s}
where source = 'declared'
  and queue = any($1::text[])
  and (queue, expression) not in (select q, e from unnest($2::text[], $3::text[]) as d(q, e))`;
}

import { quoteIdent } from "../../config/identifiers.js";

/**
 * Retention: deletes finished jobs older than their status's age, a bounded batch at a time so
 * one run never holds locks for long. Ages in ms; a null age keeps that status forever.
 * $1 completed ms, $2 failed ms, $3 cancelled ms, $4 batch size. Returns the number deleted.
 */
export function pruneJobsSql(schema: string): string {
  const jobs = `${quoteIdent(schema)}.jobs`;
  return `with doomed as (
  select id from ${jobs}
  where status in ('completed', 'failed', 'cancelled')
    and ((status = 'completed' and finalized_at < now() - $1::bigint * interval '1 millisecond')
      or (status = 'failed' and finalized_at < now() - $2::bigint * interval '1 millisecond')
      or (status = 'cancelled' and finalized_at < now() - $3::bigint * interval '1 millisecond'))
  limit $4
  for update skip locked
), deleted as (
  delete from ${jobs} j using doomed where j.id = doomed.id returning 1
)
select count(*)::int as deleted from deleted`;
}

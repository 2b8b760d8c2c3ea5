import { quoteIdent } from "../../config/identifiers.js";
import { jobJson } from "../../types.js";

/** One job by id. $1: id (text, cast so a non-numeric id just finds nothing). */
export function getJobSql(schema: string): string {
  return `select ${jobJson("j")} as job from ${quoteIdent(schema)}.jobs j
where j.id = case when $1 ~ '^[0-9]{1,18}$' then $1::bigint end`;
}

/** Jobs filtered by queue and status (either may be null), oldest first. $1 queue, $2 status, $3 limit, $4 after id. */
export function listJobsSql(schema: string): string {
  return `select ${jobJson("j")} as job from ${quoteIdent(schema)}.jobs j
where ($1::text is null or j.queue = $1) and ($2::text is null or j.status = $2)
  and j.id > coalesce($4::bigint, 0)
order by j.id
limit $3`;
}

import { quoteIdent } from "../../config/identifiers.js";
import { JOB_ID_SQL_PATTERN, rowJson } from "./fragments.js";

/** One job by id. $1: id (text, cast so a non-numeric id just finds nothing). */
export function getJobSql(schema: string): string {
  return `select ${rowJson("j")} as job from ${quoteIdent(schema)}.jobs j
where j.id = case when $1 ~ ${JOB_ID_SQL_PATTERN} then $1::bigint end`;
}

/**
 * Jobs filtered by queue, status and tag (each may be null), oldest first. The tag test is
 * `tags @> array[tag]`, which the GIN index jobs_tags_idx answers.
 * $1 queue, $2 status, $3 limit, $4 after id, $5 tag.
 */
export function listJobsSql(schema: string): string {
  return `select ${rowJson("j")} as job from ${quoteIdent(schema)}.jobs j
where ($1::text is null or j.queue = $1) and ($2::text is null or j.status = $2)
  and ($5::text is null or j.tags @> array[$5::text])
  and j.id > coalesce($4::bigint, 0)
order by j.id
limit $3`;
}

/** The queue of one job, by id (runJob checks it has a handler before claiming). $1: id as text. */
export function readQueueOfJobSql(schema: string): string {
  return `select queue from ${quoteIdent(schema)}.jobs where id = case when $1 ~ ${JOB_ID_SQL_PATTERN} then $1::bigint end`;
}

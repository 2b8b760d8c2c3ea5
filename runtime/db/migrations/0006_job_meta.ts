// Job metadata. `{{schema}}` is replaced by the quoted schema name when rendered.
// A migration's text is checksummed once applied: never edit it, add a new migration instead.
export const sql = `-- Free-form JSON about a job that is not its payload. Keys starting with "sidetrack." are
-- reserved: "sidetrack.trace" holds the W3C trace context of the insert that created the job.
-- Nullable without a default: adding it rewrites nothing and workers of the previous release,
-- which never name it, keep running.
alter table {{schema}}.jobs add column if not exists meta jsonb;
`;

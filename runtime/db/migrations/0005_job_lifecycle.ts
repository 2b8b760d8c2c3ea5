// What a job records about its life beyond its state: the handler's output, its last progress,
// how often it snoozed, and the caller's tags and meta. `{{schema}}` is replaced by the quoted
// schema name when rendered. A migration's text is checksummed once applied: never edit it, add
// a new migration instead.
//
// Every column is nullable or has a constant default, so adding it rewrites no row and takes
// only a brief lock; workers of the previous release never name these columns and keep working.
// The indexes are built inside the migration's transaction (CREATE INDEX CONCURRENTLY cannot
// run in one): on a large table it blocks inserts while it builds. Operators who cannot accept
// that create `jobs_tags_idx` and `jobs_unique_until_idx` concurrently by hand first (same definitions); `if not exists` then skips them here.
export const sql = `-- the handler's resolved value (JSON), when it returned one
alter table {{schema}}.jobs add column output jsonb,
  -- the latest value the handler reported with ctx.progress()
  add column progress jsonb,
  -- how many times the handler snoozed the job (each snooze gives its attempt back)
  add column snoozes integer not null default 0,
  -- the caller's labels, filtered on by listJobs({ tag })
  add column tags text[],
  -- the caller's data about the job; keys starting with "sidetrack." are reserved
  add column meta jsonb,
  -- uniqueFor: the unique key stays held until then, whatever the job's state (throttle)
  add column unique_until timestamptz;

-- listJobs({ tag }) and \`jobs list --tag\`: tags @> array[tag].
create index if not exists jobs_tags_idx on {{schema}}.jobs using gin (tags) where tags is not null;

-- uniqueFor: inserts look up finished jobs still holding their key. Only such jobs are indexed.
create index if not exists jobs_unique_until_idx on {{schema}}.jobs (queue, unique_key, unique_until)
  where unique_until is not null;
`;

// Queue policies (flow control). `{{schema}}` is replaced by the quoted schema name when rendered.
// A migration's text is checksummed once applied: never edit it, add a new migration instead.
//
// Additive only: a new table, a nullable column without a default (a catalog change, no
// rewrite) and two partial indexes (running jobs; ready jobs that have a concurrency key).
// Workers of the previous release keep claiming and completing through the columns they know;
// they do not read the policies.
export const sql = `-- One row per queue with a policy, written by start() and \`sidetrack migrate\` from the
-- declaration (the declaration is the source of truth), except \`paused\`, which is operational:
-- set by pauseQueue()/resumeQueue() and never overwritten by a deploy.
create table {{schema}}.queues (
  name text primary key,
  paused boolean not null default false,
  -- at most this many running jobs of the queue across all workers; null: no limit
  global_concurrency integer check (global_concurrency >= 1),
  -- the payload fields whose values make jobs.concurrency_key (informative: the key is computed at insert)
  concurrency_by text[],
  -- at most this many running jobs per concurrency_key value; null: no per-key limit
  concurrency_per_key integer check (concurrency_per_key >= 1),
  -- at most rate_limit starts within any rate_per_ms window (sliding); null: no rate limit
  rate_limit integer check (rate_limit >= 1),
  rate_per_ms bigint check (rate_per_ms >= 1),
  -- the claim times of the latest starts, newest last, at most rate_limit of them: the sliding window
  recent_starts timestamptz[] not null default '{}',
  updated_at timestamptz not null default now(),
  check ((rate_limit is null) = (rate_per_ms is null))
);

-- The per-key concurrency key, computed at insert from the queue's concurrencyBy fields.
alter table {{schema}}.jobs add column concurrency_key text;

-- The limited claim counts running jobs per queue and per key: only running rows, so it stays small.
create index jobs_running_key_idx on {{schema}}.jobs (queue, concurrency_key)
  where status = 'running';

-- The per-key claim walks the distinct keys with ready jobs and takes each key's first ones.
-- Only rows with a key: inserts into queues without concurrencyBy do not maintain it.
create index jobs_key_fetch_idx on {{schema}}.jobs (queue, concurrency_key, priority, run_at, id)
  where concurrency_key is not null and status in ('scheduled', 'retrying');
`;

// The jobs table. `{{schema}}` is replaced by the quoted schema name when the migration is rendered.
// A migration's text is checksummed once applied: never edit it, add a new migration instead.
export const sql = `create table {{schema}}.jobs (
  id bigint generated always as identity primary key,
  queue text not null,
  payload jsonb not null,
  status text not null default 'scheduled'
    check (status in ('scheduled', 'running', 'retrying', 'completed', 'failed', 'cancelled')),
  priority integer not null default 0,
  -- attempts started so far; incremented when a worker claims the job
  attempt integer not null default 0,
  max_attempts integer not null default 25 check (max_attempts >= 1),
  run_at timestamptz not null default now(),
  inserted_at timestamptz not null default now(),
  -- start of the latest attempt
  started_at timestamptz,
  completed_at timestamptz,
  -- time of the latest failed attempt
  failed_at timestamptz,
  cancelled_at timestamptz,
  -- when the job reached completed, failed or cancelled; retention prunes by it
  finalized_at timestamptz,
  -- the lease: which worker holds the job and until when
  locked_by text,
  locked_until timestamptz,
  -- one entry per failed attempt: { attempt, message, stack, at }
  errors jsonb not null default '[]'::jsonb,
  unique_key text
);

-- The fetch path: ready jobs of a queue in the order they are claimed.
create index jobs_fetch_idx on {{schema}}.jobs (queue, priority, run_at, id)
  where status in ('scheduled', 'retrying');

-- At most one live job per (queue, unique_key); inserts resolve conflicts against it.
create unique index jobs_unique_key_idx on {{schema}}.jobs (queue, unique_key)
  where unique_key is not null and status in ('scheduled', 'running', 'retrying');

-- The rescuer's path: running jobs by lease expiry.
create index jobs_lease_idx on {{schema}}.jobs (locked_until)
  where status = 'running';

-- The pruner's path: finished jobs by age.
create index jobs_finalized_idx on {{schema}}.jobs (finalized_at)
  where status in ('completed', 'failed', 'cancelled');
`;

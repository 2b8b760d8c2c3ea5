// Recurring schedules (cron). `{{schema}}` is replaced by the quoted schema name when rendered.
// A migration's text is checksummed once applied: never edit it, add a new migration instead.
export const sql = `-- One row per schedule, identified by (queue, expression). A worker fires a tick by moving
-- next_run_at forward with a conditional update (where next_run_at = <the tick it read>), in the
-- same transaction that inserts the tick's job: one job per tick however many workers run.
create table {{schema}}.cron_schedules (
  id bigint generated always as identity primary key,
  queue text not null,
  -- normalised: trimmed, fields separated by one space
  expression text not null,
  timezone text not null default 'UTC',
  payload jsonb not null default '{}'::jsonb,
  -- after downtime: false skips every missed tick, true runs the most recent missed one
  run_missed boolean not null default false,
  -- 'declared': from a queue's cron option, kept in sync by start();
  -- 'programmatic': from scheduleCron(), never touched by start()
  source text not null check (source in ('declared', 'programmatic')),
  -- deactivation is sticky: start() never reactivates; scheduleCron() does
  active boolean not null default true,
  -- the next tick to fire
  next_run_at timestamptz not null,
  -- the latest tick that inserted a job
  last_run_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint cron_schedules_identity unique (queue, expression)
);

-- The cron service's path: active schedules by next tick.
create index cron_schedules_due_idx on {{schema}}.cron_schedules (next_run_at) where active;

-- Which schedule and tick a job was inserted for; a second guard of one job per tick.
alter table {{schema}}.jobs add column cron_schedule_id bigint, add column cron_tick timestamptz;
create unique index jobs_cron_tick_idx on {{schema}}.jobs (cron_schedule_id, cron_tick)
  where cron_schedule_id is not null;
`;

// The worker registry. `{{schema}}` is replaced by the quoted schema name when rendered.
// A migration's text is checksummed once applied: never edit it, add a new migration instead.
// Additive only: workers of the previous release neither read nor write this table.
export const sql = `-- One row per running worker process. A worker holds a session-level advisory lock on lock_key
-- over one long-lived connection (its LISTEN connection) while it runs: when that session ends
-- (crash, SIGKILL, lost host) PostgreSQL drops the lock, and any worker's rescuer sees at once
-- that the worker is gone and returns its jobs, without waiting for their leases. A worker with
-- no such session (poll-only, behind a transaction pooler) has lock_key null and is judged by
-- heartbeat_at alone.
create table {{schema}}.workers (
  id text primary key,
  host text not null,
  pid integer not null,
  queues text[] not null,
  concurrency integer not null,
  -- the Sidetrack version the worker runs
  version text not null,
  started_at timestamptz not null default now(),
  -- refreshed every second or so by the worker
  heartbeat_at timestamptz not null default now(),
  -- the session holding the lock (pg_backend_pid() of the LISTEN connection); null when poll-only
  backend_pid integer,
  lock_key bigint
);
`;

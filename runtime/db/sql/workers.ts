import { quoteIdent } from "../../config/identifiers.js";

/**
 * The liveness session's lock: taken once per (re)connection of the worker's long-lived
 * connection, held until that session ends. A fresh random key each time, so a half-dead old
 * session still holding the previous key can never make the new one fail. $1 the key.
 */
export const takeLivenessLockSql = "select pg_try_advisory_lock($1::bigint) as locked";

/** Before the liveness connection goes back to a pool: drop its LISTENs and its lock. */
export const releaseSessionSql = "unlisten *; select pg_advisory_unlock_all()";

/**
 * Registers the worker, or refreshes its heartbeat; run every heartbeat so a worker whose row
 * a rescuer deleted (it looked dead) registers again. `backend_pid` is the session running this
 * statement when it is the liveness session, else null.
 * $1 id, $2 host, $3 pid, $4 queues, $5 concurrency, $6 version, $7 lock key (null: poll-only).
 */
export function upsertWorkerSql(schema: string): string {
  return `insert into ${quoteIdent(schema)}.workers as w (id, host, pid, queues, concurrency, version, backend_pid, lock_key)
values ($1, $2, $3, $4::text[], $5, $6, case when $7::bigint is null then null else pg_backend_pid() end, $7::bigint)
on conflict (id) do update
set heartbeat_at = now(), backend_pid = excluded.backend_pid, lock_key = excluded.lock_key
returning (xmax = 0) as inserted`;
}

/** stop(): the worker leaves the registry. $1 id. */
export function deleteWorkerSql(schema: string): string {
  return `delete from ${quoteIdent(schema)}.workers where id = $1`;
}

/**
 * listWorkers(): every registered worker, oldest first, with whether its liveness lock is held
 * now (null for poll-only workers, which have none) and its heartbeat's age.
 */
export function listWorkersSql(schema: string): string {
  return `select w.id, w.host, w.pid, w.queues, w.concurrency, w.version,
  w.started_at, w.heartbeat_at, w.backend_pid, w.lock_key::text as lock_key,
  case when w.lock_key is null then null else ${LOCK_HELD} end as lock_held,
  (extract(epoch from now() - w.heartbeat_at) * 1000)::float8 as heartbeat_age_ms
from ${quoteIdent(schema)}.workers w
order by w.started_at, w.id`;
}

/**
 * Whether some session of this database holds worker `w`'s liveness lock. A bigint advisory
 * key shows in pg_locks split into classid (high 32 bits) and objid (low 32 bits), objsubid 1.
 */
export const LOCK_HELD = `exists (
    select 1 from pg_catalog.pg_locks l
    where l.locktype = 'advisory' and l.granted and l.objsubid = 1
      and l.database = (select oid from pg_catalog.pg_database where datname = current_database())
      and l.classid::bigint = (w.lock_key >> 32) and l.objid::bigint = (w.lock_key & 4294967295)
  )`;

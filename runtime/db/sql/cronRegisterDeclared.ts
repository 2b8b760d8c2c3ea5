import { quoteIdent } from "../../config/identifiers.js";

/**
 * start(): creates or updates one declared schedule. Never touches `active` (a deactivated
 * schedule stays inactive) nor a programmatic schedule with the same identity. Keeps
 * next_run_at unless the timezone changed, so a restart neither repeats nor loses a tick.
 * $1 queue, $2 expression (normalised), $3 timezone, $4 payload (JSON text), $5 next_run_at.
 */
export function cronRegisterDeclaredSql(schema: string): string {
  const s = `${quoteIdent(schema)}.cron_schedules`;
  return `insert into ${s} as c (queue, expression, timezone, payload, run_missed, source, next_run_at)
values ($1, $2, $3, $4::jsonb, false, 'declared', $5::timestamptz)
on conflict on constraint cron_schedules_identity do update set
  timezone = excluded.timezone,
  payload = excluded.payload,
  next_run_at = case when c.timezone = excluded.timezone then c.next_run_at else excluded.next_run_at end,
  updated_at = now()
where c.source = 'declared'
  and (c.timezone, c.payload) is distinct from (excluded.timezone, excluded.payload)`;
}

import { quoteIdent } from "../../config/identifiers.js";
import { rowJson } from "./fragments.js";

/**
 * scheduleCron(): creates or takes over the schedule (queue, expression), which becomes
 * programmatic and active. next_run_at restarts from now when the schedule was inactive or
 * its timezone changed (no catch-up of the inactive time); otherwise it is kept.
 * $1 queue, $2 expression (normalised), $3 timezone, $4 payload (JSON text), $5 run_missed,
 * $6 next_run_at computed from now.
 */
export function cronScheduleSql(schema: string): string {
  const s = `${quoteIdent(schema)}.cron_schedules`;
  return `insert into ${s} as c (queue, expression, timezone, payload, run_missed, source, next_run_at)
values ($1, $2, $3, $4::jsonb, $5, 'programmatic', $6::timestamptz)
on conflict on constraint cron_schedules_identity do update set
  timezone = excluded.timezone,
  payload = excluded.payload,
  run_missed = excluded.run_missed,
  source = 'programmatic',
  active = true,
  next_run_at = case when c.active and c.timezone = excluded.timezone then c.next_run_at else excluded.next_run_at end,
  updated_at = now()
returning ${rowJson("c")} as schedule`;
}

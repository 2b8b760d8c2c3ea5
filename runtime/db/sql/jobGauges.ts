import { quoteIdent } from "../../config/identifiers.js";
import { LIVE_STATUS_LIST, READY_STATUS_LIST } from "./fragments.js";

/**
 * The telemetry gauges' one statement: unfinished jobs per queue and state, and per (queue, state)
 * the age of the oldest job a worker may claim now (null when none). Only live states are
 * counted: they are the few rows the claim indexes cover, while finished jobs, which pile up
 * until pruned, would make every poll a full scan. Polled on an interval, never per job.
 * Counts and ages come back as text (bigint) so nothing is rounded on the way.
 */
export function jobGaugesSql(schema: string): string {
  return `select queue, status, count(*)::text as count,
  floor(extract(epoch from now() - min(run_at) filter (
    where status in ${READY_STATUS_LIST} and run_at <= now())) * 1000)::bigint::text as oldest_ready_age_ms
from ${quoteIdent(schema)}.jobs
where status in ${LIVE_STATUS_LIST}
group by queue, status`;
}

import { quoteIdent } from "../../config/identifiers.js";

/**
 * The heartbeat: extends the leases of the jobs this worker still holds. Ids missing from the
 * result were cancelled or rescued meanwhile; their handlers get aborted.
 * $1 ids, $2 worker id, $3 lease ms.
 */
export function renewLeasesSql(schema: string): string {
  return `update ${quoteIdent(schema)}.jobs
set locked_until = now() + $3 * interval '1 millisecond'
where id = any($1::bigint[]) and status = 'running' and locked_by = $2
returning id::text`;
}

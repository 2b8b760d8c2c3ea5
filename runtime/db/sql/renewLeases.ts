import { quoteIdent } from "../../config/identifiers.js";
import { LEASED_TO_PARAM_2 } from "./fragments.js";

/**
 * The heartbeat: extends the leases of the jobs this worker still holds. Ids missing from the
 * result were cancelled or rescued meanwhile; their handlers get aborted.
 * $1 ids, $2 worker id, $3 lease ms.
 */
export function renewLeasesSql(schema: string): string {
  return `update ${quoteIdent(schema)}.jobs j
set locked_until = now() + $3 * interval '1 millisecond'
where j.id = any($1::bigint[]) and ${LEASED_TO_PARAM_2}
returning j.id::text`;
}

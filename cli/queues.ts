import type pg from "pg";
import { isValidQueueName } from "../runtime/config/identifiers.js";
import { knownQueues, queueHasJobs } from "../runtime/client/admin.js";
import { CliError, UsageError } from "./errors.js";

/**
 * The CLI has no queue declaration to check names against, so a queue is known when the
 * database holds at least one job of it (in any state). A typo then fails loudly instead of
 * showing an empty list.
 */
export async function requireKnownQueue(pool: pg.Pool, schema: string, queue: string): Promise<void> {
  if (!isValidQueueName(queue)) {
    throw new UsageError(`--queue: invalid queue name ${JSON.stringify(queue)}`, "queue names are letters, digits and _, starting with a letter");
  }
  if (await queueHasJobs(pool, queue, { schema })) return;
  const known = await knownQueues(pool, { schema });
  throw new CliError(
    `unknown queue "${queue}": schema "${schema}" has no jobs in it`,
    known.length > 0 ? `queues with jobs: ${known.join(", ")}` : `no queue has jobs yet; check the name, --schema and --database-url`,
  );
}

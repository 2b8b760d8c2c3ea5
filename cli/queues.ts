import type pg from "pg";
import { isValidQueueName } from "../runtime/config/identifiers.js";
import { knownQueues, queueHasJobs } from "../runtime/client/admin.js";
import { CliError, UsageError } from "./errors.js";
import { listSchedules } from "../runtime/cron/schedules.js";
import { usePg } from "../runtime/db/clients.js";
import { loadDeclaration } from "./handlers-module.js";

/**
 * A queue is known when the database holds at least one job of it (in any state), or when it
 * is declared: by the generated client in the working directory (`./sidetrack/client.js|ts`, when
 * it loads) or by a cron schedule. A typo then fails loudly instead of showing an empty list,
 * while a declared queue that has had no job yet is said to be just that.
 */
export async function requireKnownQueue(pool: pg.Pool, schema: string, queue: string): Promise<"has jobs" | "declared, no jobs yet"> {
  if (!isValidQueueName(queue)) {
    throw new UsageError(`--queue: invalid queue name ${JSON.stringify(queue)}`, "queue names are letters, digits and _, starting with a letter");
  }
  if (await queueHasJobs(pool, queue, { schema })) return "has jobs";
  if (await isDeclared(pool, schema, queue)) return "declared, no jobs yet";
  const known = await knownQueues(pool, { schema });
  throw new CliError(
    `unknown queue "${queue}": schema "${schema}" has no jobs in it`,
    known.length > 0 ? `queues with jobs: ${known.join(", ")}` : `no queue has jobs yet; check the name, --schema and --database-url`,
  );
}

async function isDeclared(pool: pg.Pool, schema: string, queue: string): Promise<boolean> {
  if ((await listSchedules(usePg(pool), schema, queue)).length > 0) return true;
  // Best effort: a client that does not load here (TypeScript without a loader) declares nothing.
  const loaded = await loadDeclaration(undefined).catch(() => undefined);
  return loaded !== undefined && loaded.declaration.schema === schema && Object.hasOwn(loaded.declaration.queues, queue);
}

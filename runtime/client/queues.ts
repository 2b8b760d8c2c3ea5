// Queue policies and pause/resume: what start() and `sidetrack migrate` write from the
// declaration, and what pauseQueue/resumeQueue/listQueues and `sidetrack queues` do.
import { toDbClient, type AnyDbClient } from "../db/clients.js";
import { DEFAULT_SCHEMA, jobsChannel, pauseChannel, validateQueueName, validateSchemaName } from "../config/identifiers.js";
import type { QueuePolicy } from "../config/resolve.js";
import { ensureQueueRowSql, listQueuesSql, setQueuePausedSql, upsertQueuePoliciesSql } from "../db/sql/queues.js";
import type { JobStatus } from "../types.js";

/** A queue's policy as stored, with its job counts by state. */
export interface QueueInfo {
  name: string;
  paused: boolean;
  globalConcurrency: number | null;
  concurrencyBy: string[] | null;
  concurrencyPerKey: number | null;
  rateLimit: { limit: number; perMs: number } | null;
  /** When the policy row last changed; null for a queue that has jobs but no policy row. */
  updatedAt: Date | null;
  counts: Partial<Record<JobStatus, number>>;
}

/** Writes the declared policies (every declared queue gets a row); leaves `paused` alone. */
export async function writeQueuePolicies(db: AnyDbClient, schema: string, policies: readonly QueuePolicy[]): Promise<void> {
  if (policies.length === 0) return;
  await toDbClient(db).query(upsertQueuePoliciesSql(validateSchemaName(schema)), [JSON.stringify(policies)]);
}

/**
 * Pauses (or resumes) a queue. Once it returns, no worker starts a job of a paused queue:
 * the claim reads the policy row under a lock this waits for. Resuming wakes the workers.
 */
export async function setQueuePaused(db: AnyDbClient, queue: string, paused: boolean, options: { schema?: string } = {}): Promise<void> {
  const schema = validateSchemaName(options.schema ?? DEFAULT_SCHEMA);
  validateQueueName(queue);
  const client = toDbClient(db);
  await client.query(ensureQueueRowSql(schema), [queue]);
  await client.query(setQueuePausedSql(schema), [queue, paused, jobsChannel(schema), pauseChannel(schema)]);
}

/** Every queue with a policy row or a job, with its policy and job counts, by name. */
export async function listQueues(db: AnyDbClient, options: { schema?: string; queue?: string } = {}): Promise<QueueInfo[]> {
  const schema = validateSchemaName(options.schema ?? DEFAULT_SCHEMA);
  const rows = await toDbClient(db).query<Record<string, unknown>>(listQueuesSql(schema), [options.queue ?? null]);
  return rows.map((r) => ({
    name: String(r.name),
    paused: r.paused === true,
    globalConcurrency: r.global_concurrency === null ? null : Number(r.global_concurrency),
    concurrencyBy: (r.concurrency_by as string[] | null) ?? null,
    concurrencyPerKey: r.concurrency_per_key === null ? null : Number(r.concurrency_per_key),
    rateLimit: r.rate_limit === null ? null : { limit: Number(r.rate_limit), perMs: Number(r.rate_per_ms) },
    updatedAt: r.updated_at_ms === null ? null : new Date(Number(r.updated_at_ms)),
    counts: Object.fromEntries(Object.entries(JSON.parse(String(r.counts)) as Record<string, unknown>).map(([k, v]) => [k, Number(v)])),
  }));
}

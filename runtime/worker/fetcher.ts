import type pg from "pg";
import { parseClaimedJob, type ClaimedRow } from "../db/rows.js";
import type { Job } from "../types.js";
import { FailureBackoff, sleep } from "./backoff.js";
import { fetchJobsSql } from "../db/sql/fetchJobs.js";
import { claimLimitedPerKeySql, claimLimitedSql, lockQueuePoliciesSql } from "../db/sql/queues.js";
import { inTransaction } from "../db/clients.js";
import type { Completion } from "./completer.js";

/** What the fetcher may claim right now: per-queue limits and the process total. */
export interface FreeSlots {
  queues: string[];
  limits: number[];
  total: number;
}

export interface FetcherOptions {
  pool: pg.Pool;
  schema: string;
  workerId: string;
  preparedStatements: boolean;
  leaseMs: number;
  pollIntervalMs: number;
  /** Queues with a global, per-key or rate limit: claimed apart, in a transaction on their policy rows. */
  limitedQueues: ReadonlySet<string>;
  /** Free capacity now, or undefined when every slot is taken. */
  freeSlots: () => FreeSlots | undefined;
  /** Completions to write in the claims (the worker's Completer), when there are any. */
  completions?: ClaimCompletions;
  /** Jobs of a claim sent at `sentAt` (performance.now()). */
  onJobs: (jobs: Job[], sentAt: number) => void;
  onError: (error: unknown) => void;
}

/**
 * What the fetcher needs of the Completer to write completions inside its claims. While
 * `claimsWriteCompletions(true)` is in force, each time the fetcher wakes it either claims,
 * taking what is waiting (`takeForClaim`) and reporting how that claim went (`claimCommitted` /
 * `claimFailed`), or it calls `flush()` so the completer writes them on its own.
 */
export interface ClaimCompletions {
  claimsWriteCompletions(on: boolean): void;
  takeForClaim(): Completion[];
  claimCommitted(completions: readonly Completion[], completed: ReadonlySet<string>): void;
  claimFailed(completions: readonly Completion[]): void;
  flush(): void;
}

type ClaimResultRow = ClaimedRow & { completed_ids: string[] | null };

/**
 * The fetch loop: one claim in flight at a time per process. It fetches when there may be work
 * (a NOTIFY arrived, the poll interval passed, or the last claim came back full) and a slot is
 * free. Wake-ups that arrive during a claim fold into one follow-up claim, so a burst of
 * notifications never becomes a burst of queries.
 *
 * Each claim also writes the completions that arrived since the previous one, so a busy worker
 * sends one statement per cycle. Whenever it wakes and will not claim, it hands them to the
 * completer to write on their own, so a completion never waits for work to arrive.
 */
export class Fetcher {
  #mayHaveWork = true;
  /**
   * Whether to run the limited claim this cycle. It costs a transaction, so it runs only when a
   * limited queue may have room: after a wake-up (NOTIFY, poll tick, reconnect), a job of a
   * limited queue finishing here, or a limited claim that came back full. Cycles driven by the
   * unlimited queues (slots freed, full batches) skip it and keep their pace.
   */
  #limitedMayHaveWork = true;
  #running = false;
  #loop: Promise<void> | undefined;
  #poll: NodeJS.Timeout | undefined;
  #wakeUp: (() => void) | undefined;
  readonly #backoff = new FailureBackoff();
  readonly #sql: string;
  readonly #limitedSql: { plain: string; perKey: string };

  constructor(private readonly options: FetcherOptions) {
    this.#sql = fetchJobsSql(options.schema);
    this.#limitedSql = { plain: claimLimitedSql(options.schema), perKey: claimLimitedPerKeySql(options.schema) };
  }

  start(): void {
    this.#running = true;
    this.options.completions?.claimsWriteCompletions(true);
    this.#poll = setInterval(() => this.wake(), this.options.pollIntervalMs);
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    clearInterval(this.#poll);
    this.#wakeUp?.();
    await this.#loop;
    this.options.completions?.claimsWriteCompletions(false);
  }

  /** There may be new work (a NOTIFY, a poll tick, a reconnect). */
  wake(): void {
    this.#mayHaveWork = true;
    this.#limitedMayHaveWork = true;
    this.#wakeUp?.();
  }

  /** A slot was freed: claim again if there may still be work. */
  slotFreed(queue?: string): void {
    if (queue !== undefined && this.options.limitedQueues.has(queue)) {
      this.#mayHaveWork = true;
      this.#limitedMayHaveWork = true;
    }
    this.#wakeUp?.();
  }

  async #run(): Promise<void> {
    const completions = this.options.completions;
    while (this.#running) {
      const free = this.#mayHaveWork ? this.options.freeSlots() : undefined;
      if (!free) {
        completions?.flush();
        await new Promise<void>((resolve) => (this.#wakeUp = resolve));
        this.#wakeUp = undefined;
        // Let every job that finishes in this turn of the event loop free its slot first, so
        // the next claim fills them all in one statement instead of one claim per slot.
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      this.#mayHaveWork = false;
      const riding = completions?.takeForClaim() ?? [];
      const sentAt = performance.now();
      const limited = this.options.limitedQueues;
      const plain = limited.size === 0 ? free : split(free, (queue) => !limited.has(queue));
      let ridingSettled = riding.length === 0;
      try {
        const jobs: Job[] = [];
        if (plain.queues.length > 0 || riding.length > 0) {
          const { rows } = await this.options.pool.query<ClaimResultRow>({
            // Named: parsed and planned once per connection, not on every claim.
            name: this.options.preparedStatements ? `sidetrack_fetch_${this.options.schema}` : undefined,
            text: this.#sql,
            values: [
              this.options.workerId,
              this.options.leaseMs,
              plain.queues,
              plain.limits,
              plain.total,
              riding.map((c) => c.job.id),
              riding.map((c) => c.bufferedMs),
            ],
          });
          this.#backoff.succeeded();
          // One row carries no job, only which of the riding completions were written (never null there).
          let completed: string[] = [];
          for (const row of rows) {
            if (row.completed_ids === null) jobs.push(parseClaimedJob(row));
            else completed = row.completed_ids;
          }
          if (riding.length > 0) completions!.claimCommitted(riding, new Set(completed));
          ridingSettled = true;
        }
        if (plain !== free && this.#limitedMayHaveWork) {
          const rest = split(free, (queue) => limited.has(queue));
          rest.total = free.total - jobs.length;
          if (rest.total > 0 && rest.queues.length > 0) {
            this.#limitedMayHaveWork = false;
            const claimed = await this.#claimLimited(rest);
            if (anyQueueFull(claimed, rest)) this.#limitedMayHaveWork = true;
            jobs.push(...claimed);
          }
          this.#backoff.succeeded();
        }
        // A full batch (overall or for one queue) means more may be waiting; a short one means drained.
        if (jobs.length >= free.total || anyQueueFull(jobs, free)) this.#mayHaveWork = true;
        this.options.onJobs(jobs, sentAt);
      } catch (error) {
        if (!ridingSettled) completions!.claimFailed(riding);
        this.#mayHaveWork = true;
        this.#limitedMayHaveWork = true;
        this.options.onError(error);
        await sleep(this.#backoff.failed());
      }
    }
  }

  /**
   * Claims limited queues in one transaction: lock their policy rows (claimers of one limited
   * queue take turns), then one claim per queue, on a snapshot taken after the lock, so the
   * running jobs and recent starts it counts include every claim committed before.
   */
  async #claimLimited(free: FreeSlots): Promise<Job[]> {
    return inTransaction(this.options.pool, async (client) => {
      const { rows: policies } = await client.query<{ name: string; concurrency_per_key: number | null }>(
        lockQueuePoliciesSql(this.options.schema),
        [free.queues],
      );
      const jobs: Job[] = [];
      for (const policy of policies) {
        const left = free.total - jobs.length;
        if (left <= 0) break;
        const want = Math.min(left, free.limits[free.queues.indexOf(policy.name)]!);
        const perKey = policy.concurrency_per_key !== null;
        const { rows } = await client.query<ClaimedRow>({
          name: this.options.preparedStatements ? `sidetrack_claim_limited${perKey ? "_key" : ""}_${this.options.schema}` : undefined,
          text: perKey ? this.#limitedSql.perKey : this.#limitedSql.plain,
          values: [this.options.workerId, this.options.leaseMs, policy.name, want],
        });
        for (const row of rows) jobs.push(parseClaimedJob(row));
      }
      return jobs;
    });
  }
}

function split(free: FreeSlots, keep: (queue: string) => boolean): FreeSlots {
  const queues: string[] = [];
  const limits: number[] = [];
  free.queues.forEach((queue, i) => {
    if (keep(queue)) {
      queues.push(queue);
      limits.push(free.limits[i]!);
    }
  });
  return { queues, limits, total: free.total };
}

function anyQueueFull(jobs: Job[], free: FreeSlots): boolean {
  const counts = new Map<string, number>();
  for (const job of jobs) counts.set(job.queue, (counts.get(job.queue) ?? 0) + 1);
  return free.queues.some((queue, i) => (counts.get(queue) ?? 0) >= free.limits[i]!);
}

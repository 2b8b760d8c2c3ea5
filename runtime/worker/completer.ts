import type pg from "pg";
import type { BackoffSettings } from "../config/resolve.js";
import { FailureBackoff, retryDelayMs, sleep } from "./backoff.js";
import type { Job } from "../types.js";
import { describeThrown } from "../config/logger.js";
import type { ClaimCompletions } from "./fetcher.js";
import { completeJobsSql } from "../db/sql/completeJobs.js";
import { failJobsSql } from "../db/sql/failJobs.js";

export interface AttemptError {
  attempt: number;
  message: string;
  stack?: string;
}

/** A failed attempt as it is written: when to retry, and the error kept on the job. */
/** A job whose handler resolved, and how long it waited in the lock-ahead buffer first. */
export interface Completion {
  job: Job;
  bufferedMs: number;
}

export interface FailedAttempt {
  job: Job;
  /** How long the job waited in the lock-ahead buffer before its handler started. */
  bufferedMs: number;
  delayMs: number;
  error: AttemptError;
}

interface Failure extends FailedAttempt {
  thrown: unknown;
}

/** The retry delay and error record of a job's failed attempt, whatever its handler threw. */
export function failedAttempt(job: Job, thrown: unknown, backoff: BackoffSettings, bufferedMs = 0): FailedAttempt {
  const { message, stack } = describeThrown(thrown);
  return { job, bufferedMs, delayMs: retryDelayMs(job.attempt, backoff), error: { attempt: job.attempt, message, stack } };
}

/** Where and as whom outcomes are written; `preparedStatements` names them (prepared once per connection). */
export interface OutcomeTarget {
  pool: pg.Pool;
  schema: string;
  workerId: string;
  preparedStatements: boolean;
}

/** Marks jobs completed (see completeJobsSql for the guard). Returns the ids that were completed. */
export async function writeCompleted(target: OutcomeTarget, completions: readonly Completion[]): Promise<Set<string>> {
  const { rows } = await target.pool.query<{ id: string }>({
    name: target.preparedStatements ? `sidetrack_complete_${target.schema}` : undefined,
    text: completeJobsSql(target.schema),
    values: [completions.map((c) => c.job.id), target.workerId, completions.map((c) => c.bufferedMs)],
  });
  return new Set(rows.map((r) => r.id));
}

/** Records failed attempts (retrying or failed, see failJobsSql). Returns each written job's new status. */
export async function writeFailed(
  target: OutcomeTarget,
  failures: readonly FailedAttempt[],
): Promise<Map<string, "retrying" | "failed">> {
  const input = JSON.stringify(failures.map((f) => ({ id: f.job.id, delay_ms: f.delayMs, buffered_ms: f.bufferedMs, error: f.error })));
  const { rows } = await target.pool.query<{ id: string; status: "retrying" | "failed" }>({
    name: target.preparedStatements ? `sidetrack_fail_${target.schema}` : undefined,
    text: failJobsSql(target.schema),
    values: [input, target.workerId],
  });
  return new Map(rows.map((r) => [r.id, r.status]));
}

export interface CompleterOptions {
  pool: pg.Pool;
  schema: string;
  workerId: string;
  preparedStatements: boolean;
  onCompleted: (job: Job) => void;
  onFailed: (job: Job, status: "retrying" | "failed", thrown: unknown) => void;
  onError: (error: unknown) => void;
}

/**
 * Writes outcomes in batches. Outcomes that arrive while a write is in flight wait for the next
 * one, so under load each round trip carries many jobs and when idle a job is written at once.
 * A failed write keeps its outcomes and is retried until it succeeds; their ids stay listed in
 * `pendingIds()` so the heartbeat keeps their leases alive meanwhile.
 */
export class Completer implements ClaimCompletions {
  #completed: Completion[] = [];
  #failed: Failure[] = [];
  /** Outcomes of the write in flight: their leases are renewed too until it lands. */
  #writing: string[] = [];
  /** Completions inside the claim statement in flight now (see takeForClaim()). */
  #inClaim: string[] = [];
  /** While the fetcher writes completions in its claims, complete() leaves the writing to it. */
  #claimsWrite = false;
  #flushing: Promise<void> | undefined;
  readonly #backoff = new FailureBackoff();
  readonly #target: OutcomeTarget;

  constructor(private readonly options: CompleterOptions) {
    this.#target = { pool: options.pool, schema: options.schema, workerId: options.workerId, preparedStatements: options.preparedStatements };
  }

  complete(job: Job, bufferedMs = 0): void {
    this.#completed.push({ job, bufferedMs });
    if (!this.#claimsWrite) this.#kick();
  }

  /**
   * While on, the fetcher writes completions in the claim statement it sends next (one statement
   * per cycle instead of two), and must either take what is waiting or flush() it each time it
   * wakes; turning it off writes whatever is waiting.
   */
  claimsWriteCompletions(on: boolean): void {
    this.#claimsWrite = on;
    if (!on) this.flush();
  }

  /** Hands the completions waiting now to a claim that will write them. */
  takeForClaim(): Completion[] {
    const completions = this.#completed.splice(0);
    if (completions.length > 0) this.#inClaim = completions.map((c) => c.job.id);
    return completions;
  }

  /** The claim holding `completions` committed; `completed` are those it completed (the guard may skip some). */
  claimCommitted(completions: readonly Completion[], completed: ReadonlySet<string>): void {
    this.#inClaim = [];
    this.#reportCompleted(completions, completed);
  }

  /** The claim holding `jobs` failed: they wait for the next write. */
  claimFailed(completions: readonly Completion[]): void {
    this.#inClaim = [];
    this.#completed.unshift(...completions);
    this.flush();
  }

  /** Writes what is waiting, soon (batched with whatever else finishes in this turn). */
  flush(): void {
    if (this.pending > 0) this.#kick();
  }

  fail(attempt: FailedAttempt, thrown: unknown): void {
    this.#failed.push({ ...attempt, thrown });
    this.#kick();
  }

  /** Jobs whose outcome is not written yet: waiting, or in the write in flight. */
  pendingIds(): string[] {
    return [...this.#writing, ...this.#inClaim, ...this.#completed.map((c) => c.job.id), ...this.#failed.map((f) => f.job.id)];
  }

  get pending(): number {
    return this.#completed.length + this.#failed.length;
  }

  /** Resolves once everything handed in so far is written (or `deadline` passes). */
  async drain(deadline = Number.POSITIVE_INFINITY): Promise<void> {
    while (this.pending > 0 || this.#flushing) {
      if (Date.now() > deadline) return;
      this.#kick();
      await Promise.race([this.#flushing, new Promise((r) => setTimeout(r, 50))]);
    }
  }

  #kick(): void {
    if (this.#flushing) return;
    // setImmediate lets the outcomes of jobs that finish in the same tick share the write.
    this.#flushing = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.#flush())
      .finally(() => {
        this.#flushing = undefined;
        if (this.pending > 0) this.#kick();
      });
  }

  async #flush(): Promise<void> {
    const completed = this.#completed.splice(0);
    const failed = this.#failed.splice(0);
    this.#writing = [...completed.map((c) => c.job.id), ...failed.map((f) => f.job.id)];
    try {
      await this.#write(completed, failed);
    } finally {
      this.#writing = [];
    }
  }

  async #write(completed: Completion[], failed: Failure[]): Promise<void> {
    try {
      if (completed.length > 0) {
        this.#reportCompleted(completed, await writeCompleted(this.#target, completed));
      }
    } catch (error) {
      this.#completed.unshift(...completed);
      this.#failed.unshift(...failed);
      return this.#backOff(error);
    }
    try {
      if (failed.length > 0) {
        const status = await writeFailed(this.#target, failed);
        for (const f of failed) {
          const s = status.get(f.job.id);
          if (s) this.options.onFailed(f.job, s, f.thrown);
        }
      }
    } catch (error) {
      this.#failed.unshift(...failed);
      return this.#backOff(error);
    }
    this.#backoff.succeeded();
  }

  /** Jobs missing from `done` were cancelled or rescued meanwhile: nothing to report. */
  #reportCompleted(completions: readonly Completion[], done: ReadonlySet<string>): void {
    for (const { job } of completions) if (done.has(job.id)) this.options.onCompleted(job);
  }

  async #backOff(error: unknown): Promise<void> {
    const delay = this.#backoff.failed();
    this.options.onError(error);
    await sleep(delay);
  }
}

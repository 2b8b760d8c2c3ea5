import type pg from "pg";
import type { BackoffSettings } from "../config/resolve.js";
import { FailureBackoff, retryDelayMs, sleep } from "./backoff.js";
import type { Job } from "../types.js";
import { describeThrown } from "../config/logger.js";
import type { ClaimCompletions } from "./fetcher.js";
import { completeJobsSql, completeJobsWithOutputSql } from "../db/sql/completeJobs.js";
import { failJobsSql } from "../db/sql/failJobs.js";
import { snoozeJobsSql } from "../db/sql/snoozeJobs.js";
import { UnrecoverableError } from "../errors.js";
import type { StatementNames } from "../db/statement-names.js";

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
  /** The handler threw an UnrecoverableError: the job fails now, whatever attempts remain. */
  final: boolean;
}

/** A completion that writes more than the state: the handler's output and/or its last progress (JSON text). */
export interface CompletionData {
  job: Job;
  bufferedMs: number;
  output: string | null;
  progress: string | null;
}

/** A snooze as it is written: the delay, and the error recorded if the job is over its cap. */
export interface SnoozedAttempt {
  job: Job;
  delayMs: number;
  maxSnoozes: number;
  /** Recorded (and the job failed) when it already snoozed maxSnoozes times. */
  error: AttemptError;
}

interface Failure extends FailedAttempt {
  thrown: unknown;
}

/** The retry delay and error record of a job's failed attempt, whatever its handler threw. */
export function failedAttempt(job: Job, thrown: unknown, backoff: BackoffSettings, bufferedMs = 0): FailedAttempt {
  const { message, stack } = describeThrown(thrown);
  return {
    job,
    bufferedMs,
    delayMs: retryDelayMs(job.attempt, backoff),
    error: { attempt: job.attempt, message, stack },
    final: thrown instanceof UnrecoverableError,
  };
}

/** A snooze of `job` by `delayMs`, for a queue that allows `maxSnoozes`. */
export function snoozedAttempt(job: Job, delayMs: number, maxSnoozes: number): SnoozedAttempt {
  const message = `job snoozed ${maxSnoozes} times already, the limit of queue "${job.queue}" (maxSnoozes); it fails instead of snoozing again`;
  return { job, delayMs, maxSnoozes, error: { attempt: job.attempt, message } };
}

/** Where and as whom outcomes are written; `names` names their statements (prepared once per connection). */
export interface OutcomeTarget {
  pool: pg.Pool;
  schema: string;
  workerId: string;
  names: StatementNames;
}

/** Marks jobs completed (see completeJobsSql for the guard). Returns the ids that were completed. */
export async function writeCompleted(target: OutcomeTarget, completions: readonly Completion[]): Promise<Set<string>> {
  const { rows } = await target.pool.query<{ id: string }>({
    name: target.names.of("complete"),
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
  const input = JSON.stringify(failures.map((f) => ({ id: f.job.id, delay_ms: f.delayMs, buffered_ms: f.bufferedMs, error: f.error, final: f.final })));
  const { rows } = await target.pool.query<{ id: string; status: "retrying" | "failed" }>({
    name: target.names.of("fail"),
    text: failJobsSql(target.schema),
    values: [input, target.workerId],
  });
  return new Map(rows.map((r) => [r.id, r.status]));
}

/** Completes jobs with their output and last progress (see completeJobsWithOutputSql). Returns the ids completed. */
export async function writeCompletedWithData(target: OutcomeTarget, completions: readonly CompletionData[]): Promise<Set<string>> {
  // The JSON texts were checked and measured already; they are spliced in as they are.
  const input = `[${completions.map((c) => `{"id":${JSON.stringify(c.job.id)},"output":${c.output ?? "null"},"progress":${c.progress ?? "null"},"buffered_ms":${c.bufferedMs}}`).join(",")}]`;
  const { rows } = await target.pool.query<{ id: string }>({
    name: target.names.of("complete_output"),
    text: completeJobsWithOutputSql(target.schema),
    values: [input, target.workerId],
  });
  return new Set(rows.map((r) => r.id));
}

/** Snoozes jobs (see snoozeJobsSql). Returns each written job's new status. */
export async function writeSnoozed(target: OutcomeTarget, snoozes: readonly SnoozedAttempt[]): Promise<Map<string, "scheduled" | "failed">> {
  const input = JSON.stringify(snoozes.map((s) => ({ id: s.job.id, delay_ms: s.delayMs, max_snoozes: s.maxSnoozes, error: s.error })));
  const { rows } = await target.pool.query<{ id: string; status: "scheduled" | "failed" }>({
    name: target.names.of("snooze"),
    text: snoozeJobsSql(target.schema),
    values: [input, target.workerId],
  });
  return new Map(rows.map((r) => [r.id, r.status]));
}

export interface CompleterOptions {
  pool: pg.Pool;
  schema: string;
  workerId: string;
  names: StatementNames;
  onCompleted: (job: Job) => void;
  onFailed: (job: Job, status: "retrying" | "failed", thrown: unknown) => void;
  /** `failed`: the job was over its maxSnoozes; `error` says so. */
  onSnoozed: (job: Job, status: "scheduled" | "failed", delayMs: number, error: string) => void;
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
  /** performance.now() when #completed last went from empty to not (see waitingSince()). */
  #completedSince = 0;
  /** Completions with output or progress: never carried by the claim, which writes the state only. */
  #completedWithData: CompletionData[] = [];
  #snoozed: SnoozedAttempt[] = [];
  #failed: Failure[] = [];
  /** Outcomes of the write in flight: their leases are renewed too until it lands. */
  #writing: string[] = [];
  /** Completions inside the claim statements in flight now, one entry per claim (see takeForClaim()). */
  readonly #inClaim = new Set<readonly Completion[]>();
  /** While the fetcher writes completions in its claims, complete() leaves the writing to it. */
  #claimsWrite = false;
  #flushing: Promise<void> | undefined;
  readonly #backoff = new FailureBackoff();
  readonly #target: OutcomeTarget;

  constructor(private readonly options: CompleterOptions) {
    this.#target = { pool: options.pool, schema: options.schema, workerId: options.workerId, names: options.names };
  }

  complete(job: Job, bufferedMs = 0): void {
    if (this.#completed.length === 0) this.#completedSince = performance.now();
    this.#completed.push({ job, bufferedMs });
    if (!this.#claimsWrite) this.#kick();
  }

  /** A completion that also writes output and/or progress (JSON texts, already checked). */
  completeWithData(completion: CompletionData): void {
    this.#completedWithData.push(completion);
    this.#kick();
  }

  snooze(snoozed: SnoozedAttempt): void {
    this.#snoozed.push(snoozed);
    this.#kick();
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

  waitingSince(): number | undefined {
    return this.#completed.length > 0 ? this.#completedSince : undefined;
  }

  /** Hands the completions waiting now to a claim that will write them. */
  takeForClaim(): Completion[] {
    const completions = this.#completed.splice(0);
    if (completions.length > 0) this.#inClaim.add(completions);
    return completions;
  }

  /** The claim holding `completions` committed; `completed` are those it completed (the guard may skip some). */
  claimCommitted(completions: readonly Completion[], completed: ReadonlySet<string>): void {
    this.#inClaim.delete(completions);
    this.#reportCompleted(completions.map((c) => c.job), completed);
  }

  /** The claim holding `completions` failed: they wait for the next write. */
  claimFailed(completions: readonly Completion[]): void {
    this.#inClaim.delete(completions);
    if (this.#completed.length === 0) this.#completedSince = performance.now();
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
    return [
      ...this.#writing,
      ...[...this.#inClaim].flatMap((claim) => claim.map((c) => c.job.id)),
      ...this.#completed.map((c) => c.job.id),
      ...this.#completedWithData.map((c) => c.job.id),
      ...this.#snoozed.map((s) => s.job.id),
      ...this.#failed.map((f) => f.job.id),
    ];
  }

  get pending(): number {
    return this.#completed.length + this.#completedWithData.length + this.#snoozed.length + this.#failed.length;
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
    const withData = this.#completedWithData.splice(0);
    const snoozed = this.#snoozed.splice(0);
    const failed = this.#failed.splice(0);
    this.#writing = [...completed.map((c) => c.job.id), ...withData.map((c) => c.job.id), ...snoozed.map((s) => s.job.id), ...failed.map((f) => f.job.id)];
    try {
      await this.#write(completed, withData, snoozed, failed);
    } finally {
      this.#writing = [];
    }
  }

  /** Each kind is written in its own statement; a failed one puts back itself and what follows. */
  async #write(completed: Completion[], withData: CompletionData[], snoozed: SnoozedAttempt[], failed: Failure[]): Promise<void> {
    try {
      if (completed.length > 0) {
        this.#reportCompleted(completed.map((c) => c.job), await writeCompleted(this.#target, completed));
      }
    } catch (error) {
      this.#completed.unshift(...completed);
      this.#completedWithData.unshift(...withData);
      this.#snoozed.unshift(...snoozed);
      this.#failed.unshift(...failed);
      return this.#backOff(error);
    }
    try {
      if (withData.length > 0) {
        const jobs = withData.map((c) => c.job);
        this.#reportCompleted(jobs, await writeCompletedWithData(this.#target, withData));
      }
    } catch (error) {
      this.#completedWithData.unshift(...withData);
      this.#snoozed.unshift(...snoozed);
      this.#failed.unshift(...failed);
      return this.#backOff(error);
    }
    try {
      if (snoozed.length > 0) {
        const status = await writeSnoozed(this.#target, snoozed);
        for (const s of snoozed) {
          const written = status.get(s.job.id);
          if (written) this.options.onSnoozed(s.job, written, s.delayMs, s.error.message);
        }
      }
    } catch (error) {
      this.#snoozed.unshift(...snoozed);
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
  #reportCompleted(jobs: readonly Job[], done: ReadonlySet<string>): void {
    for (const job of jobs) if (done.has(job.id)) this.options.onCompleted(job);
  }

  async #backOff(error: unknown): Promise<void> {
    const delay = this.#backoff.failed();
    this.options.onError(error);
    await sleep(delay);
  }
}

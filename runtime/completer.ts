import type pg from "pg";
import { reconnectDelayMs } from "./backoff.js";
import type { Job } from "./job.js";
import { completeJobsSql } from "./sql/completeJobs.js";
import { failJobsSql } from "./sql/failJobs.js";

export interface AttemptError {
  attempt: number;
  message: string;
  stack?: string;
}

interface Failure {
  job: Job;
  delayMs: number;
  error: AttemptError;
  thrown: unknown;
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
export class Completer {
  #completed: Job[] = [];
  #failed: Failure[] = [];
  #flushing: Promise<void> | undefined;
  #failures = 0;
  readonly #completeSql: string;
  readonly #failSql: string;

  constructor(private readonly options: CompleterOptions) {
    this.#completeSql = completeJobsSql(options.schema);
    this.#failSql = failJobsSql(options.schema);
  }

  complete(job: Job): void {
    this.#completed.push(job);
    this.#kick();
  }

  fail(job: Job, delayMs: number, error: AttemptError, thrown: unknown): void {
    this.#failed.push({ job, delayMs, error, thrown });
    this.#kick();
  }

  pendingIds(): string[] {
    return [...this.#completed.map((j) => j.id), ...this.#failed.map((f) => f.job.id)];
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
    try {
      if (completed.length > 0) {
        const { rows } = await this.options.pool.query<{ id: string }>({
          name: this.options.preparedStatements ? `sidetrack_complete_${this.options.schema}` : undefined,
          text: this.#completeSql,
          values: [completed.map((j) => j.id), this.options.workerId],
        });
        const done = new Set(rows.map((r) => r.id));
        // Jobs missing from the result were cancelled or rescued meanwhile: nothing to report.
        for (const job of completed) if (done.has(job.id)) this.options.onCompleted(job);
      }
    } catch (error) {
      this.#completed.unshift(...completed);
      this.#failed.unshift(...failed);
      return this.#backOff(error);
    }
    try {
      if (failed.length > 0) {
        const input = JSON.stringify(failed.map((f) => ({ id: f.job.id, delay_ms: f.delayMs, error: f.error })));
        const { rows } = await this.options.pool.query<{ id: string; status: "retrying" | "failed" }>({
          name: this.options.preparedStatements ? `sidetrack_fail_${this.options.schema}` : undefined,
          text: this.#failSql,
          values: [input, this.options.workerId],
        });
        const status = new Map(rows.map((r) => [r.id, r.status]));
        for (const f of failed) {
          const s = status.get(f.job.id);
          if (s) this.options.onFailed(f.job, s, f.thrown);
        }
      }
    } catch (error) {
      this.#failed.unshift(...failed);
      return this.#backOff(error);
    }
    this.#failures = 0;
  }

  async #backOff(error: unknown): Promise<void> {
    this.#failures++;
    this.options.onError(error);
    await new Promise((r) => setTimeout(r, reconnectDelayMs(this.#failures)));
  }
}

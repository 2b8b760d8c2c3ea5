import { JobAbortedError, JobTimeoutError, type AbortReason } from "../errors.js";
import type { Handler, Job, JobContext } from "../types.js";
import { SnoozeRequest } from "./snooze.js";

export type Outcome =
  | { kind: "completed"; output?: unknown }
  | { kind: "snoozed"; delayMs: number }
  | { kind: "failed"; thrown: unknown }
  | { kind: "aborted"; reason: Exclude<AbortReason, "timeout"> };

const COMPLETED: Outcome = Object.freeze({ kind: "completed" });

/**
 * One run of a handler. Its outcome (`done`) is settled by whichever comes first: the handler
 * settling, or an abort (timeout, cancel, lost lease, shutdown). A handler that ignores its
 * signal keeps running in the background, but its slot is freed and its result ignored.
 *
 * The AbortController behind `signal` is made only when the handler reads `signal`: most
 * handlers never do, and creating one per job was the largest single cost of running a job
 * (bench/README.md). An abort before that point yields an already-aborted signal.
 */
export class JobRun {
  readonly done: Promise<Outcome>;
  #settle!: (outcome: Outcome) => void;
  #settled = false;
  #abortedBy: JobAbortedError | undefined;
  #controller: AbortController | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly job: Job,
    readonly handler: Handler<any>,
    readonly timeoutMs: number | undefined,
    /** Where `ctx.progress(value)` goes; ignored when unset. */
    readonly onProgress?: (job: Job, value: unknown) => void,
  ) {
    this.done = new Promise<Outcome>((resolve) => (this.#settle = resolve));
  }

  /** Calls the handler (synchronously: the caller registers the run first). */
  start(): Promise<Outcome> {
    if (this.timeoutMs !== undefined) this.#timer = setTimeout(() => this.abort("timeout"), this.timeoutMs);
    const run = this;
    const context: JobContext = {
      get signal() {
        return run.#signal();
      },
      progress(value: unknown) {
        if (!run.#settled) run.onProgress?.(run.job, value);
      },
    };
    let result: unknown;
    try {
      result = this.handler(this.job, context);
    } catch (thrown) {
      this.#finish({ kind: "failed", thrown });
      return this.done;
    }
    if (isThenable(result)) {
      Promise.resolve(result).then(
        (value) => this.#finish(resolved(value)),
        (thrown: unknown) => this.#finish({ kind: "failed", thrown }),
      );
    } else {
      this.#finish(resolved(result));
    }
    return this.done;
  }

  get aborted(): boolean {
    return this.#abortedBy !== undefined;
  }

  abort(reason: AbortReason): void {
    if (this.#abortedBy || this.#settled) return;
    this.#abortedBy = new JobAbortedError(reason);
    this.#controller?.abort(this.#abortedBy);
    this.#finish(
      reason === "timeout"
        ? { kind: "failed", thrown: new JobTimeoutError(`job timed out after ${this.timeoutMs}ms (queue "${this.job.queue}" timeout)`) }
        : { kind: "aborted", reason },
    );
  }

  #signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#abortedBy) this.#controller.abort(this.#abortedBy);
    }
    return this.#controller.signal;
  }

  #finish(outcome: Outcome): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#timer);
    this.#settle(outcome);
  }
}

/** What a handler's resolved value means: a snooze, output, or (undefined) a plain completion. */
function resolved(value: unknown): Outcome {
  if (value === undefined) return COMPLETED;
  if (value instanceof SnoozeRequest) return { kind: "snoozed", delayMs: value.delayMs };
  return { kind: "completed", output: value };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === "function";
}

/** Runs one handler to its outcome (runJob / runJobs, which have no one to abort them). */
export function runHandler(job: Job, handler: Handler<any>, timeoutMs: number | undefined, onProgress?: (job: Job, value: unknown) => void): Promise<Outcome> {
  return new JobRun(job, handler, timeoutMs, onProgress).start();
}
